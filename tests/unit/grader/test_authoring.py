"""Challenge authoring: `challenge new`, `challenge validate` and `challenge export` (the candidate kit)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from grader.authoring import (
    AuthoringError,
    band_problems,
    defined_test_names,
    foreign_imports,
    hidden_only_test_names,
    kit_files,
    margin_verdict,
    new_challenge,
    solution_verdict,
    starter_verdict,
    toml_dumps,
    weakest_problems,
)
from grader.challenge import ChallengeError, load_challenge
from grader.models import (
    CategoryScore,
    Challenge,
    CheckResult,
    CheckStatus,
    GradeResult,
    SolutionExpectation,
    SubmissionInfo,
    TestCase,
)

HELLO = load_challenge("hello-api")


def grader(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=900, check=False)


def verdict_lines(stdout: str) -> dict[str, str]:
    """`ok   subject: detail` / `FAIL subject: detail` lines by subject."""
    lines = {}
    for line in stdout.splitlines():
        mark, _, rest = line.partition(" ")
        if mark in ("ok", "FAIL"):
            subject, _, detail = rest.strip().partition(": ")
            lines[subject] = f"{mark} {detail}"
    return lines


# --- challenge new -------------------------------------------------------------------------------------------


def test_new_writes_a_skeleton_that_passes_the_static_checks(tmp_path: Path) -> None:
    proc = grader("challenge", "new", "orders-api", "--dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    bundle = tmp_path / "orders-api"
    for expected in ("challenge.toml", "README.md", "public/test_public.py", "hidden/test_hidden.py",
                     "solutions/reference/main.py", "solutions/reference/tests/test_api.py", "starter/main.py"):
        assert (bundle / expected).is_file(), expected
    challenge = load_challenge(str(bundle))
    assert (challenge.id, challenge.title) == ("orders-api", "Orders API")
    assert challenge.solutions["reference"].kind == "reference"
    hidden = (bundle / "hidden" / "test_hidden.py").read_text()
    assert '@pytest.mark.category("api_design")' in hidden and '@pytest.mark.category("databases")' in hidden
    assert "__ID__" not in hidden and "__TITLE__" not in (bundle / "README.md").read_text()
    validated = grader("challenge", "validate", str(bundle), "--no-grade")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "FAIL" not in validated.stdout


def test_new_refuses_a_bad_id_and_an_existing_bundle(tmp_path: Path) -> None:
    with pytest.raises(AuthoringError, match="not a challenge id"):
        new_challenge("Orders API", tmp_path)
    new_challenge("orders-api", tmp_path)
    proc = grader("challenge", "new", "orders-api", "--dir", str(tmp_path))
    assert proc.returncode == 3
    assert "already exists" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_new_skeleton_validates_when_graded(tmp_path: Path) -> None:
    bundle = new_challenge("orders-api", tmp_path)
    proc = grader("challenge", "validate", str(bundle), "--sandbox", "local")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    verdicts = verdict_lines(proc.stdout)
    assert verdicts["solution reference"].startswith("ok reference, overall")
    assert verdicts["starter"].startswith("ok fails the hidden suite")


# --- challenge validate ----------------------------------------------------------------------------------------


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


def test_validate_refuses_hidden_tests_that_import_the_candidate(tmp_path: Path) -> None:
    bundle = new_challenge("peeking-api", tmp_path)
    (bundle / "hidden" / "test_peek.py").write_text(
        "def test_peek() -> None:\n    import main\n    from app.models import Item\n    assert main, Item\n")
    proc = grader("challenge", "validate", str(bundle), "--no-grade")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    verdicts = verdict_lines(proc.stdout)
    assert verdicts["hidden imports"].startswith("FAIL")
    assert "test_peek.py:2: import main" in verdicts["hidden imports"]
    assert "import app.models" in verdicts["hidden imports"]
    assert verdicts["public imports"].startswith("ok")


def test_a_malformed_manifest_is_one_failed_verdict(tmp_path: Path) -> None:
    bundle = new_challenge("bad-api", tmp_path)
    (bundle / "challenge.toml").write_text('id = "bad-api"\ntitle = "B"\n[app]\nport = "x"\n')
    proc = grader("challenge", "validate", str(bundle), "--no-grade")
    assert proc.returncode == 1
    assert verdict_lines(proc.stdout)["schema"].startswith("FAIL")
    assert "field 'app.port'" in proc.stdout


def test_foreign_imports_allow_only_stdlib_pytest_httpx_checks_and_local_modules(tmp_path: Path) -> None:
    (tmp_path / "helpers.py").write_text("import json\n")
    (tmp_path / "test_a.py").write_text(
        "import os, uuid\nimport httpx\nimport pytest\nfrom checks.pytest_plugin import CATEGORY_IDS\n"
        "from helpers import json\nfrom . import helpers\n"
        "import main\nfrom fastapi.testclient import TestClient\n"
        "import importlib\nmod = importlib.import_module('app')\n"
    )
    problems = foreign_imports(tmp_path)
    assert problems == [
        "test_a.py:7: import main",
        "test_a.py:8: import fastapi.testclient",
        "test_a.py:10: dynamic import (importlib.import_module/__import__) is not allowed",
    ]
    (tmp_path / "test_b.py").write_text("def broken(:\n")
    assert any("test_b.py: cannot be parsed" in p for p in foreign_imports(tmp_path))


def _result(failed: set[str], passed: set[str], overall: float | None, framework: str = "fastapi") -> GradeResult:
    tests = [TestCase(name=n, nodeid=f"t.py::{n}", category="api_design", outcome="failed") for n in sorted(failed)]
    tests += [TestCase(name=n, nodeid=f"t.py::{n}", category="api_design", outcome="passed") for n in sorted(passed)]
    check = CheckResult(id="hidden-tests/api_design", category="api_design", status=CheckStatus.FAILED,
                        score=len(passed), max_score=len(tests), tests=tests)
    submission = SubmissionInfo(name="s", source="s", source_kind="directory", content_hash="h", file_count=1,
                                framework=framework, start_command="x", start_command_source="auto")
    return GradeResult(grader_version="0", graded_at="now", status="graded", challenge={}, submission=submission,
                       sandbox=None, checks=[check], overall=overall)


def test_solution_verdict_compares_failures_framework_and_band() -> None:
    expectation = SolutionExpectation(kind="flawed", framework="fastapi", expected_failures=["test_a"],
                                      min_overall=40, max_overall=60)
    assert solution_verdict("x", expectation, _result({"test_a"}, {"test_b"}, 50)).ok
    wrong = solution_verdict("x", expectation, _result({"test_b"}, {"test_a"}, 70, framework="flask"))
    assert not wrong.ok
    for expected in ("detected framework flask", "fails test_b (expected to pass)",
                     "passes test_a (expected to fail)", "above max_overall 60"):
        assert expected in wrong.detail
    assert starter_verdict(_result({"test_a"}, {"test_b"}, 10)).ok
    assert not starter_verdict(_result(set(), {"test_a", "test_b"}, 90)).ok


def test_band_problems() -> None:
    band = SolutionExpectation(kind="reference", framework="django", min_overall=70)
    assert band_problems(75, band) == []
    assert band_problems(65, band) == ["overall 65 is below min_overall 70"]
    assert band_problems(None, band) == ["no overall score, but a score band is expected"]
    assert band_problems(None, SolutionExpectation(kind="reference", framework="django")) == []


def test_toml_writer_round_trips_a_manifest() -> None:
    data = {
        "id": "x", "title": 'Quotes " and \\ and ünïcode', "python": "3.11",
        "app": {"port": 8000, "env": {}, "flags": [1, 2.5, True, "a"]},
        "scoring": {"hidden_points": {"api_design": 90.0},
                    "rules": {"candidate_tests.coverage_percent": {"points": 30, "good": 70, "bad": 10}}},
    }
    assert tomllib.loads(toml_dumps(data)) == data


# --- challenge export ------------------------------------------------------------------------------------------


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


def _with_categories(result: GradeResult, scores: dict[str, float]) -> GradeResult:
    categories = [CategoryScore(id=cid, weight=10, score=score, evaluated=True) for cid, score in scores.items()]
    return result.model_copy(update={"categories": categories})


def test_weakest_category_must_be_the_flaws_target() -> None:
    expectation = SolutionExpectation(kind="flawed", framework="fastapi", weakest_category="databases")
    scored = _with_categories(_result(set(), {"test_a"}, 60), {"databases": 20, "testing": 55, "api_design": 80})
    assert weakest_problems(scored, expectation) == []
    wrong = _with_categories(scored, {"databases": 40, "testing": 25, "api_design": 80})
    assert weakest_problems(wrong, expectation) == ["its weakest category is testing 25, not databases (40)"]
    assert not solution_verdict("x", expectation, wrong).ok
    with pytest.raises(ValueError, match="unknown category"):
        SolutionExpectation(kind="flawed", framework="fastapi", weakest_category="vibes")


def test_flawed_margin_is_measured_from_the_lowest_reference() -> None:
    challenge = Challenge(id="c", title="c", flawed_margin=15, solutions={
        "ref-a": SolutionExpectation(kind="reference", framework="fastapi"),
        "ref-b": SolutionExpectation(kind="reference", framework="flask"),
        "bad": SolutionExpectation(kind="flawed", framework="fastapi"),
    })
    assert margin_verdict(challenge, {"ref-a": 95, "ref-b": 91, "bad": 76}).ok
    close = margin_verdict(challenge, {"ref-a": 95, "ref-b": 91, "bad": 77.5})
    assert not close.ok and "bad 77.5" in close.detail
    assert not margin_verdict(challenge, {"bad": 10}).ok


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
