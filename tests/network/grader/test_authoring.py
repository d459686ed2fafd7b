"""Challenge authoring against the package index: `challenge validate` grading (local backend) and
`challenge export`, which builds the grader's wheel for the kit.

What needs no index (skeletons, verdicts, manifests) is tests/unit/grader/test_authoring.py.
"""

from __future__ import annotations

import re
import shutil
import tomllib
import zipfile
from pathlib import Path

import pytest

from grader.authoring import defined_test_names, hidden_only_test_names, kit_files, new_challenge
from grader.challenge import ChallengeError, load_challenge
from tests.unit.grader.test_authoring import HELLO, grader, verdict_lines


@pytest.mark.slow
def test_new_skeleton_validates_when_graded(tmp_path: Path) -> None:
    bundle = new_challenge("orders-api", tmp_path)
    proc = grader("challenge", "validate", str(bundle), "--sandbox", "local")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    verdicts = verdict_lines(proc.stdout)
    assert verdicts["solution reference"].startswith("ok reference, overall")
    assert verdicts["starter"].startswith("ok fails the hidden suite")


@pytest.mark.slow
def test_validate_hello_api_grades_every_solution_and_the_starter() -> None:
    proc = grader("challenge", "validate", "hello-api", "--sandbox", "local")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    verdicts = verdict_lines(proc.stdout)
    for name in HELLO.solutions:
        assert verdicts[f"solution {name}"].startswith("ok "), verdicts
    assert "band >= 95" in verdicts["solution fastapi-ref"]
    assert "band 45-70" in verdicts["solution fastapi-flawed"]
    assert verdicts["starter"].startswith("ok fails the hidden suite")
    assert {"schema", "hidden imports", "public imports", "starter present", "public tests"} <= verdicts.keys()
    assert "hello-api: valid" in proc.stdout


@pytest.mark.slow
def test_validate_reports_every_broken_expectation_and_exits_1(tmp_path: Path) -> None:
    bundle = new_challenge("broken-api", tmp_path)
    manifest = bundle / "challenge.toml"
    text = manifest.read_text().replace("expected_failures = []", 'expected_failures = ["test_ids_are_unique"]')
    manifest.write_text(re.sub(r"min_overall = \d+", "min_overall = 99", text, count=1))
    shutil.rmtree(bundle / "starter")
    shutil.copytree(bundle / "solutions" / "reference", bundle / "starter")  # a starter that is the answer
    (bundle / "solutions" / "unlisted").mkdir()
    proc = grader("challenge", "validate", str(bundle), "--sandbox", "local")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    verdicts = verdict_lines(proc.stdout)
    assert "has no [solutions.unlisted]" in verdicts["solution unlisted"]
    reference = verdicts["solution reference"]
    assert reference.startswith("FAIL") and "passes test_ids_are_unique (expected to fail)" in reference
    assert "below min_overall 99" in reference
    assert verdicts["starter"].startswith("FAIL") and "passes the whole hidden suite" in verdicts["starter"]
    assert "check(s) failed" in proc.stderr


def test_export_hello_api_kit_holds_nothing_hidden(tmp_path: Path) -> None:
    kit = tmp_path / "out" / "hello-api-kit.zip"
    proc = grader("challenge", "export", "hello-api", "--out", str(kit))
    assert proc.returncode == 0, proc.stderr
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(kit) as archive:
        names = archive.namelist()
        archive.extractall(unpacked)
    root = unpacked / "hello-api"
    assert sorted(names) == sorted(
        f"hello-api/{p.relative_to(root).as_posix()}" for p in root.rglob("*") if p.is_file())
    assert {"README.md", "challenge.toml", "CHECKING.md", "public/test_public.py",
            "starter/main.py"} <= {n.removeprefix("hello-api/") for n in names}
    assert not any(part in ("hidden", "solutions") for n in names for part in Path(n).parts)
    hidden_names = hidden_only_test_names(HELLO)
    assert len(hidden_names) >= 10
    bundle = Path(HELLO.root)
    hidden_sources = [p.read_bytes() for p in (bundle / "hidden").rglob("*.py")]
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(name.encode() in data for name in hidden_names), path
            assert data not in hidden_sources, path
    manifest = tomllib.loads((root / "challenge.toml").read_text())
    assert "solutions" not in manifest and "bands" not in manifest.get("scoring", {})
    (wheel,) = (root / "grader-dist").glob("takehome_grader-*-py3-none-any.whl")
    assert f"pip install grader-dist/{wheel.name}" in (root / "CHECKING.md").read_text()
    wheel_names = zipfile.ZipFile(wheel).namelist()
    assert "grader/_data/challenges/hello-api/public/test_public.py" in wheel_names
    bundled = [n for n in wheel_names if n.startswith("grader/_data/challenges/")]
    assert not [n for n in bundled if "/hidden/" in n or "/solutions/" in n], "the kit's grader leaks them"
    kit_challenge = load_challenge(str(root), require_hidden=False)
    assert (kit_challenge.id, kit_challenge.app, kit_challenge.limits) == (HELLO.id, HELLO.app, HELLO.limits)
    with pytest.raises(ChallengeError, match="candidate kit"):
        load_challenge(str(root))  # `grade` keeps requiring the hidden suite
    assert defined_test_names(root / "public") == defined_test_names(bundle / "public")


def test_export_is_reproducible(tmp_path: Path) -> None:
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    for target in (first, second):
        assert grader("challenge", "export", "hello-api", "--out", str(target)).returncode == 0
    assert first.read_bytes() == second.read_bytes()


def test_export_refuses_a_kit_that_names_a_hidden_test(tmp_path: Path) -> None:
    bundle = new_challenge("leaky-api", tmp_path)
    readme = bundle / "README.md"
    readme.write_text(readme.read_text() + "\nHint: test_unknown_item_is_404_with_json_error checks 404s.\n")
    proc = grader("challenge", "export", str(bundle), "--out", str(tmp_path / "kit.zip"))
    assert proc.returncode == 3
    assert "README.md: test_unknown_item_is_404_with_json_error" in proc.stderr
    assert not (tmp_path / "kit.zip").exists()


def test_export_refuses_links_and_a_bundle_without_starter(tmp_path: Path) -> None:
    bundle = new_challenge("linked-api", tmp_path)
    (bundle / "starter" / "peek.py").symlink_to(bundle / "hidden" / "test_hidden.py")
    proc = grader("challenge", "export", str(bundle), "--out", str(tmp_path / "kit.zip"))
    assert proc.returncode == 3 and "symbolic link" in proc.stderr
    shutil.rmtree(bundle / "starter")
    proc = grader("challenge", "export", str(bundle), "--out", str(tmp_path / "kit.zip"))
    assert proc.returncode == 3 and "starter/ is missing" in proc.stderr
    assert grader("challenge", "export", str(bundle), "--out", str(tmp_path / "kit.tar")).returncode == 2


def test_the_kit_and_the_skeleton_state_the_practices_asked_for(tmp_path: Path) -> None:
    files = kit_files(HELLO)
    manifest = tomllib.loads(files["challenge.toml"].decode())
    assert manifest["practices"] == {"asked": ["pinned_dependencies"]}
    guide = files["CHECKING.md"].decode()
    assert "- `pinned_dependencies`: dependencies pinned" in guide
    assert "any other practice is for information and costs nothing" in guide
    (tmp_path / "kit").mkdir()
    for name in ("README.md", "challenge.toml"):
        (tmp_path / "kit" / name).write_bytes(files[name])
    (tmp_path / "kit" / "public").mkdir()
    (tmp_path / "kit" / "public" / "test_public.py").write_bytes(files["public/test_public.py"])
    assert load_challenge(str(tmp_path / "kit"), require_hidden=False).practices == HELLO.practices
    skeleton = load_challenge(str(new_challenge("notes-api", tmp_path / "new")))
    assert skeleton.practices.asked == ["pinned_dependencies"]
