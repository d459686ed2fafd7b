"""`grader similarity OUT_DIR` on an output directory built from fixture results, and the reports that show it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from grader.challenge import load_challenge
from grader.cli.grading import compare_cohort
from grader.results import write_result
from grader.similarity.store import compute_prints, write_prints
from tests.factories import graded_result
from tests.unit.grader.report.test_cli_report import run_grader
from tests.unit.grader.similarity.test_compare import FIXTURES

NAMES = ("original", "renamed", "unrelated")


def build_out(tmp_path: Path) -> tuple[Path, Path]:
    """OUT with a graded result and its fingerprints per fixture, and a store holding their snapshots."""
    out, cache = tmp_path / "out", tmp_path / "cache"
    for name in NAMES:
        write_result(graded_result(name), out / name)
        write_prints(compute_prints(FIXTURES / name, 20, 8), out / name)
        shutil.copytree(FIXTURES / name, cache / "snapshots" / f"{name}-feedbeef")  # the factory's content hash
    return out, cache


def test_similarity_writes_pairs_pages_and_the_reports_link_them(tmp_path: Path) -> None:
    out, cache = build_out(tmp_path)
    proc = run_grader("similarity", str(out), cache=cache)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "similarity.json").read_text())
    flagged = [p for p in data["pairs"] if p["flagged"]]
    assert [(p["a"], p["b"]) for p in flagged] == [("original", "renamed")]
    pair = flagged[0]
    assert 0.7 < pair["score_a"] <= 1 and 0.7 < pair["score_b"] <= 1
    assert pair["matches"]["a"]["loans.py"][0][0] >= 1 and "circulation.py" in pair["matches"]["b"]
    assert all(not p["flagged"] for p in data["pairs"] if "unrelated" in (p["a"], p["b"]))
    page = (out / pair["page"]).read_text()
    assert "<mark>" in page and "def lend" in page and "def check_out" in page  # both sides' code, highlighted
    assert "original" in proc.stdout and "renamed" in proc.stdout

    reviewer = run_grader("report", str(out), "--out", str(out))
    assert reviewer.returncode == 0, reviewer.stderr
    index = (out / "index.html").read_text()
    assert 'id="similarity"' in index and pair["page"] in index
    assert f"../{pair['page']}" in (out / "original" / "report.html").read_text()
    assert 'id="similar-to"' not in (out / "unrelated" / "report.html").read_text()

    candidate_out = tmp_path / "candidate"
    candidate = run_grader("report", str(out / "original"), "--out", str(candidate_out), "--audience", "candidate")
    assert candidate.returncode == 0, candidate.stderr
    assert "renamed" not in (candidate_out / "original" / "report.html").read_text()


def test_reports_rendered_elsewhere_carry_the_comparison_and_its_pages(tmp_path: Path) -> None:
    """`grader report OUT --out ELSEWHERE` shows the same similarity section, with pages that open."""
    out, cache = build_out(tmp_path)
    assert run_grader("similarity", str(out), cache=cache).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    proc = run_grader("report", str(out), "--out", str(elsewhere))
    assert proc.returncode == 0, proc.stderr
    (pair,) = [p for p in json.loads((out / "similarity.json").read_text())["pairs"] if p["flagged"]]
    assert pair["page"] in (elsewhere / "index.html").read_text()
    assert (elsewhere / pair["page"]).read_text() == (out / pair["page"]).read_text()
    candidate = tmp_path / "candidate"
    assert run_grader("report", str(out), "--out", str(candidate), "--audience", "candidate").returncode == 0
    assert not (candidate / "similarity.json").exists(), "the candidate copy never holds other candidates' code"


def test_threshold_and_reference_corpus(tmp_path: Path) -> None:
    out, cache = build_out(tmp_path)
    corpus = tmp_path / "corpus"
    shutil.copytree(FIXTURES / "unrelated", corpus / "public-weather")
    proc = run_grader("similarity", str(out), "--against", str(corpus), "--threshold", "0.99", cache=cache)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "similarity.json").read_text())
    assert data["settings"]["threshold"] == 0.99
    by_pair = {(p["a"], p["b"]): p for p in data["pairs"]}
    assert by_pair[("unrelated", "against/public-weather")]["flagged"]  # an exact copy of a known solution
    assert by_pair[("unrelated", "against/public-weather")]["b_reference"]
    assert not by_pair[("original", "renamed")]["flagged"]  # under 99%


def test_missing_fingerprints_and_snapshot_leave_a_submission_out(tmp_path: Path) -> None:
    out, cache = build_out(tmp_path)
    (out / "unrelated" / "fingerprints.json").unlink()
    shutil.rmtree(cache / "snapshots" / "unrelated-feedbeef")
    proc = run_grader("similarity", str(out), cache=cache)
    assert proc.returncode == 0, proc.stderr
    assert "unrelated" in proc.stderr and "grade it again" in proc.stderr
    data = json.loads((out / "similarity.json").read_text())
    assert [s["name"] for s in data["submissions"]] == ["original", "renamed"]


def test_grade_compares_a_cohort_after_grading_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out, cache = build_out(tmp_path)
    monkeypatch.setenv("GRADER_CACHE_DIR", str(cache))
    compare_cohort(out, load_challenge("hello-api"))  # what `grade` runs after more than one grading
    data = json.loads((out / "similarity.json").read_text())
    assert [(p["a"], p["b"]) for p in data["pairs"] if p["flagged"]] == [("original", "renamed")]
    assert (out / data["pairs"][0]["page"]).is_file()


def test_a_new_comparison_removes_the_pages_of_the_last_one(tmp_path: Path) -> None:
    out, cache = build_out(tmp_path)
    stale = out / "similarity" / "pair-009.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("an earlier comparison's page")
    proc = run_grader("similarity", str(out), cache=cache)
    assert proc.returncode == 0, proc.stderr
    assert not stale.exists() and (out / "similarity" / "pair-001.html").is_file()


def challenge_with(tmp_path: Path, table: str) -> Path:
    """A copy of the hello-api bundle (without its solutions) whose challenge.toml ends with `table`."""
    bundle = tmp_path / "bundle"
    shutil.copytree(Path(load_challenge("hello-api").root), bundle, ignore=shutil.ignore_patterns("solutions"))
    with (bundle / "challenge.toml").open("a", encoding="utf-8") as handle:
        handle.write("\n" + table)
    return bundle


@pytest.mark.parametrize(("table", "flagged"), [
    ("", [("original", "renamed")]),  # the defaults: the bundle's own settings below are what changes it
    ("[similarity]\nthreshold = 0.99\n", []),
    ("[similarity]\nignore = [\"circulation.py\"]\n", []),
    ("[similarity]\nmin_matches = 100000\n", []),
])
def test_the_challenges_similarity_table_is_honoured(tmp_path: Path, table: str,
                                                     flagged: list[tuple[str, str]]) -> None:
    out, cache = build_out(tmp_path)
    bundle = challenge_with(tmp_path, table)
    proc = run_grader("similarity", str(out), "--challenge", str(bundle), cache=cache)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "similarity.json").read_text())
    assert [(p["a"], p["b"]) for p in data["pairs"] if p["flagged"]] == flagged


def test_k_and_window_from_the_challenge_recompute_the_fingerprints(tmp_path: Path) -> None:
    """Fingerprints kept beside a result were made with other k/window: they are made again from the snapshot."""
    out, cache = build_out(tmp_path)

    def counts(label: str, table: str) -> dict[str, int]:
        bundle = challenge_with(tmp_path / label, table)
        proc = run_grader("similarity", str(out), "--challenge", str(bundle), cache=cache)
        assert proc.returncode == 0, proc.stderr
        data = json.loads((out / "similarity.json").read_text())
        assert [(p["a"], p["b"]) for p in data["pairs"] if p["flagged"]] == [("original", "renamed")]
        return {s["name"]: s["fingerprints"] for s in data["submissions"]} | {
            "k": data["settings"]["k"], "window": data["settings"]["window"]}

    default, changed = counts("defaults", ""), counts("k30", "[similarity]\nk = 30\nwindow = 4\n")
    assert (default["k"], default["window"], changed["k"], changed["window"]) == (20, 8, 30, 4)
    assert all(default[name] != changed[name] for name in NAMES)


def test_the_cohort_page_groups_submissions_that_share_code(tmp_path: Path) -> None:
    """The cluster view: three submissions that are copies of each other are one group, the fourth none."""
    out, cache = build_out(tmp_path)
    write_result(graded_result("third"), out / "third")
    write_prints(compute_prints(FIXTURES / "original", 20, 8), out / "third")
    shutil.copytree(FIXTURES / "original", cache / "snapshots" / "third-feedbeef")
    assert run_grader("similarity", str(out), cache=cache).returncode == 0
    assert json.loads((out / "similarity.json").read_text())["clusters"] == [["original", "renamed", "third"]]
    proc = run_grader("report", str(out), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    index = (out / "index.html").read_text()
    groups = index[index.index('<ul class="clusters">'):]
    groups = groups[:groups.index("</ul>")]
    assert groups.count("<li>") == 1 and "original · renamed · third" in groups and "unrelated" not in groups
