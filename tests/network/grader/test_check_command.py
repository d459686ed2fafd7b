"""`grader check`: the public tests and the static checks, from an exported kit, with `grade`'s scoring, on the
local backend (exporting the kit and grading need the package index). In Docker:
tests/docker/grader/test_check_command.py.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from grader.challenge import load_challenge
from grader.losses import rank_losses
from grader.models import GradeResult
from tests.conftest import REPO_ROOT
from tests.unit.grader.test_check_command import HELLO_ROOT, grader, read_result
from tests.unit.grader.test_losses import FLAWED_TOP


def export_and_unpack(bundle: str, where: Path) -> tuple[Path, Path]:
    """(kit zip, unpacked kit directory), exported by the CLI and unpacked by hand."""
    kit = where / "kit.zip"
    proc = grader("challenge", "export", bundle, "--out", str(kit))
    assert proc.returncode == 0, proc.stderr
    unpacked = where / "candidate"
    with zipfile.ZipFile(kit) as archive:
        archive.extractall(unpacked)
    (top,) = list(unpacked.iterdir())
    return kit, top


@pytest.mark.slow
def test_exported_orders_api_kit_checks_the_reference_and_the_starter(tmp_path: Path, local_postgres: str) -> None:
    bundle = Path(load_challenge("orders-api").root)
    kit_zip, kit = export_and_unpack("orders-api", tmp_path / "away")
    assert not (kit / "hidden").exists() and not (kit / "solutions").exists()
    assert REPO_ROOT not in kit.parents
    public_count = len([line for line in (kit / "public" / "test_public.py").read_text().splitlines()
                        if line.startswith("def test_")])
    shutil.copytree(bundle / "solutions" / "fastapi", kit / "my-solution")  # the candidate's work
    results = tmp_path / "results"

    # orders-api declares PostgreSQL: the local backend uses a server on this machine (Docker starts its own).
    postgres = f"postgres={local_postgres}"
    starter = grader("check", "starter", "--challenge", ".", "--sandbox", "local", "--service-url", postgres,
                     "--out", str(results), cwd=kit)
    assert starter.returncode == 0, starter.stderr[-3000:]
    assert "starter: public score" in starter.stdout and f"public tests 0/{public_count} passed" in starter.stdout
    assert "Top fixes" in starter.stdout and "test_place_an_order_takes_stock_and_totals:" in (
        starter.stdout.replace("\n", " "))
    for title in ("Python fundamentals", "API design", "Databases", "Testing", "Infrastructure", "Observability"):
        assert title in starter.stdout
    assert "Traceback" not in starter.stderr

    reference = grader("check", "my-solution", "--challenge", str(kit_zip), "--sandbox", "local",
                       "--service-url", postgres, "--out", str(results), cwd=kit)
    assert reference.returncode == 0, reference.stderr[-3000:]
    assert f"public tests {public_count}/{public_count} passed" in reference.stdout

    result = read_result(results / "my-solution" / "result.json")
    assert result.status == "graded"
    suites = {check.id.split("/")[0] for check in result.checks}
    assert "public-tests" in suites and "hidden-tests" not in suites
    assert {"typecheck", "lint", "complexity", "practices", "candidate_tests"} <= suites
    starter_result = read_result(results / "starter" / "result.json")
    assert starter_result.overall is not None and result.overall is not None
    assert starter_result.overall + 30 < result.overall


@pytest.mark.slow
def test_check_scores_the_public_part_exactly_as_grade_does(tmp_path: Path) -> None:
    flawed = HELLO_ROOT / "solutions" / "fastapi-flawed"
    graded = grader("grade", str(flawed), "--challenge", "hello-api", "--sandbox", "local", "--out",
                    str(tmp_path / "grade"), "--format", "json")
    assert graded.returncode == 0, graded.stderr[-3000:]
    checked = grader("check", str(flawed), "--challenge", "hello-api", "--sandbox", "local", "--out",
                     str(tmp_path / "check"))
    assert checked.returncode == 0, checked.stderr[-3000:]
    by_grade = read_result(tmp_path / "grade" / "fastapi-flawed" / "result.json")
    by_check = read_result(tmp_path / "check" / "fastapi-flawed" / "result.json")

    def static(result: GradeResult) -> list[tuple[str, float, float, list[str]]]:
        return [(c.id, c.score, c.max_score, [d.rule for d in c.deductions]) for c in result.checks
                if not c.id.startswith(("hidden-tests/", "public-tests/"))]

    assert static(by_check) == static(by_grade)
    assert static(by_check)
    # the real grading leads with the same losses, in points of the overall 100, as the golden Docker result
    ranked = rank_losses(by_grade.checks, by_grade.categories)
    assert [(loss.category, loss.title[:18]) for loss in ranked[:6]] == [
        (category, title[:18]) for category, title, _ in FLAWED_TOP]
    assert "+15.0" in checked.stdout and "No tests of its own" in checked.stdout
    public = [t for c in by_check.checks if c.id.startswith("public-tests/") for t in c.tests]
    assert sorted(t.name for t in public) == ["test_create_note", "test_get_note", "test_health", "test_list_notes"]
    assert not any(c.id.startswith("hidden-tests/") for c in by_check.checks)


def test_a_kit_is_accepted_by_check_and_refused_by_grade(tmp_path: Path) -> None:
    _, kit = export_and_unpack("hello-api", tmp_path)
    proc = grader("grade", str(kit / "starter"), "--challenge", str(kit), "--sandbox", "local",
                  "--out", str(tmp_path / "out"))
    assert proc.returncode == 3
    assert "candidate kit" in proc.stderr and "grader check" in proc.stderr
    from grader.candidate_check import load_check_challenge

    assert load_check_challenge(None, kit / "starter").id == "hello-api"  # nearest challenge.toml upwards
    assert load_check_challenge(str(tmp_path / "kit.zip"), kit / "starter").id == "hello-api"
