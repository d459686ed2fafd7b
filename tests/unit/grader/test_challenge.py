import re
from pathlib import Path

import pytest

from grader.challenge import ChallengeError, challenge_content_hash, list_shipped_challenges, load_challenge
from grader.detect import detect_app
from grader.models import DEFAULT_WEIGHTS
from tests.conftest import REPO_ROOT


def make_bundle(root: Path, toml: str) -> Path:
    (root / "hidden").mkdir(parents=True)
    (root / "hidden" / "test_x.py").write_text("def test_x():\n    pass\n")
    (root / "README.md").write_text("# task\n")
    (root / "challenge.toml").write_text(toml)
    return root


def test_shipped_hello_api_loads_with_default_weights() -> None:
    challenge = load_challenge("hello-api")
    assert challenge.id == "hello-api"
    assert challenge.scorecard == DEFAULT_WEIGHTS
    assert Path(challenge.root) == REPO_ROOT / "challenges" / "hello-api"
    assert "hello-api" in list_shipped_challenges()


def test_load_by_path(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", 'id = "b"\ntitle = "B"\n[app]\nport = 9000\n')
    challenge = load_challenge(str(bundle))
    assert challenge.app.port == 9000 and challenge.app.health_path == "/health"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('id = "b"\ntitle = "B"\n[app]\nport = "x"\n', "field 'app.port'"),
        ('id = "b"\n', "field 'title'"),
        ('id = "b"\ntitle = "B"\n[scorecard]\nmagic = 10\n', "unknown categories ['magic']"),
        ('id = "b"\ntitle = "B"\n[limits]\nmemroy_mb = 10\n', "field 'limits.memroy_mb'"),
        ('id = "b"\ntitle = "B"\n[app\n', "cannot be read as TOML"),
    ],
)
def test_malformed_bundle_names_file_and_field(tmp_path: Path, toml: str, expected: str) -> None:
    bundle = make_bundle(tmp_path / "b", toml)
    with pytest.raises(ChallengeError) as info:
        load_challenge(str(bundle))
    message = str(info.value)
    assert str(bundle / "challenge.toml") in message
    assert expected in message


def test_bundle_without_hidden_tests_is_refused(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", 'id = "b"\ntitle = "B"\n')
    (bundle / "hidden" / "test_x.py").unlink()
    with pytest.raises(ChallengeError, match="hidden test suite"):
        load_challenge(str(bundle))


def test_unknown_challenge_lists_the_shipped_ones() -> None:
    with pytest.raises(ChallengeError, match="hello-api"):
        load_challenge("no-such-challenge")


def test_content_hash_changes_with_hidden_tests(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", 'id = "b"\ntitle = "B"\n')
    before = challenge_content_hash(load_challenge(str(bundle)))
    (bundle / "hidden" / "test_x.py").write_text("def test_x():\n    assert True\n")
    assert challenge_content_hash(load_challenge(str(bundle))) != before


def test_shipped_shortener_api_points_its_app_at_the_port_its_suites_serve() -> None:
    """The fake safety service runs where the manifest tells the app to look: the grading's own upstream
    port (`{upstream_port}`) in the manifest, `fake_upstream()` with no fixed port in the suites."""
    challenge = load_challenge("shortener-api")
    assert set(challenge.services) == {"postgres", "redis"}
    assert challenge.app.env["SAFETY_API_URL"] == "http://127.0.0.1:{upstream_port}"
    root = Path(challenge.root)
    for suite in (root / "hidden" / "conftest.py", root / "public" / "test_public.py"):
        text = suite.read_text()
        assert "fake_upstream()" in text and not re.search(r"fake_upstream\(\w", text), suite


def test_app_replicas_defaults_to_one_and_reads_the_manifest(tmp_path: Path) -> None:
    plain = make_bundle(tmp_path / "a", 'id = "a"\ntitle = "A"\n')
    two = make_bundle(tmp_path / "b", 'id = "b"\ntitle = "B"\n[app]\nreplicas = 2\n')
    assert load_challenge(str(plain)).app.replicas == 1
    assert load_challenge(str(two)).app.replicas == 2


@pytest.mark.parametrize("value", ["0", "5", "-1", '"two"'])
def test_app_replicas_out_of_range_is_a_clear_error(tmp_path: Path, value: str) -> None:
    bundle = make_bundle(tmp_path / "b", f'id = "b"\ntitle = "B"\n[app]\nreplicas = {value}\n')
    with pytest.raises(ChallengeError) as info:
        load_challenge(str(bundle))
    message = str(info.value)
    assert "field 'app.replicas'" in message
    if value != '"two"':
        assert "must be between 1 and 4" in message, message


def test_shipped_shortener_api_has_a_reference_per_framework_each_declaring_its_worker() -> None:
    """Issue 19: a reference on each framework the README allows, each with a declared worker process
    (the clicks are aggregated outside the request), and each detected as the framework its entry names."""
    challenge = load_challenge("shortener-api")
    references = {name: solution for name, solution in challenge.solutions.items() if solution.kind == "reference"}
    assert {solution.framework for solution in references.values()} == {"fastapi", "flask", "django"}
    for name, solution in references.items():
        folder = Path(challenge.root) / "solutions" / name
        requirements = [line.strip() for line in (folder / "requirements.txt").read_text().splitlines()
                        if line.strip() and not line.startswith("#")] if (folder / "requirements.txt").exists() else []
        spec = detect_app(folder, requirements)
        assert spec.worker_command, f"{name} declares no worker"
        assert spec.framework == solution.framework, name
