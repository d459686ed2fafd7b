"""Exact versions as the author had them: locks, pins, then a resolution as of the submission's date.

These run the real resolver (uv) against the real package index, with no Docker: source archives are not
built here (no builder), which is what the local backend does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from packaging.version import Version

from grader import resolve as resolve_module
from grader.environments import (
    DependencyError,
    candidate_request,
    prepare_wheels,
    read_declared,
    sandbox_target,
)
from grader.resolve import Resolution, ResolveRequest, resolve
from grader.uv import Target
from tests.conftest import REPO_ROOT

SUBMISSIONS = REPO_ROOT / "tests" / "fixtures" / "submissions"
CONTAINER = sandbox_target("3.11", "linux-container")
HOST = sandbox_target("3.11", "host")
BEFORE_BCRYPT_5 = datetime(2024, 6, 1, tzinfo=UTC)  # bcrypt 5.0 (which breaks passlib 1.7.4) came in 2025


def quiet(_: str) -> None:
    pass


def versions(resolution: Resolution) -> dict[str, tuple[str, str, str]]:
    return {p.name: (p.version, p.origin, p.group) for p in resolution.packages}


def request(main: tuple[str, ...], as_of: datetime | None = None, target: Target = CONTAINER) -> ResolveRequest:
    return ResolveRequest(main=main, test=(), tools=(), lock=None, target=target, as_of=as_of)


def test_a_poetry_lock_installs_its_versions_not_the_newest() -> None:
    declared = read_declared(SUBMISSIONS / "locked-bcrypt", None, "none")
    locked = versions(resolve(candidate_request(declared, CONTAINER), None, quiet))
    assert locked["bcrypt"] == ("4.2.0", "lock", "main")
    assert locked["passlib"] == ("1.7.4", "lock", "main")
    assert locked["pytest"] == ("8.3.2", "lock", "test")  # their dev group, at their version, not the grader's
    assert locked["coverage"][1] == "tool"  # the grader's, for running their tests under coverage
    # What the grader installed before it read lock files: the newest bcrypt, which breaks passlib.
    unlocked = versions(resolve(request(declared.main.requirements), None, quiet))
    assert Version(unlocked["bcrypt"][0]) >= Version("5")


def test_unlocked_versions_resolve_as_of_the_submissions_date() -> None:
    declared = read_declared(SUBMISSIONS / "pinned-bcrypt", BEFORE_BCRYPT_5, "HEAD commit date")
    assert declared.as_of.moment == datetime(2024, 6, 1, 23, 59, 59, tzinfo=UTC)
    dated = versions(resolve(candidate_request(declared, CONTAINER), None, quiet))
    assert dated["passlib"] == ("1.7.4", "pin", "main")
    assert dated["bcrypt"][1] == "resolved" and Version(dated["bcrypt"][0]) < Version("4.2")
    newest = versions(resolve(request(declared.main.requirements), None, quiet))
    assert Version(newest["bcrypt"][0]) >= Version("5")


def test_the_override_and_implausible_dates(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("six\n")
    assert read_declared(tmp_path, BEFORE_BCRYPT_5, "newest file date", "now").as_of.moment is None
    zip_default = datetime(1980, 1, 1, tzinfo=UTC)
    assert read_declared(tmp_path, zip_default, "newest file date").as_of.moment is None
    chosen = read_declared(tmp_path, None, "none", datetime(2023, 2, 3, tzinfo=UTC)).as_of
    assert chosen.moment == datetime(2023, 2, 3, 23, 59, 59, tzinfo=UTC) and chosen.source == "--resolve-as-of"


def test_a_lock_that_does_not_fit_the_declarations_is_named_and_left_out(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\ndependencies = ["six>=1.16"]\n')
    (tmp_path / "uv.lock").write_text('version = 1\n[[package]]\nname = "six"\nversion = "1.15.0"\n'
                                      'source = { registry = "https://example.invalid/simple" }\n')
    declared = read_declared(tmp_path, None, "none")
    resolution = resolve(candidate_request(declared, CONTAINER), None, quiet)
    assert resolution.lock_file is None
    assert Version(versions(resolution)["six"][0]) >= Version("1.16")
    mismatch = [f for f in resolution.findings if f.rule == "deps.lock-mismatch"]
    assert mismatch and "uv.lock" in mismatch[0].message and "six" in mismatch[0].message


def test_a_package_that_does_not_exist_is_named_as_such() -> None:
    resolution = resolve(request(("six==1.16.0", "grader-no-such-package-zz9")), None, quiet)
    assert "six" in versions(resolution)
    assert [f.rule for f in resolution.findings] == ["deps.not-installed"]
    assert "no project named grader-no-such-package-zz9" in resolution.findings[0].message


def test_a_release_for_another_python_is_named_as_such() -> None:
    resolution = resolve(request(("django>=6",)), None, quiet)  # Django 6 needs Python 3.12
    assert versions(resolution) == {}
    assert "supports Python 3.11" in resolution.findings[0].message
    assert ">=3.12" in resolution.findings[0].message


def test_a_conflict_names_the_requirements_that_conflict() -> None:
    resolution = resolve(request(("flask==3.0.0", "werkzeug==2.0")), None, quiet)
    assert versions(resolution) == {}
    (finding,) = [f for f in resolution.findings if f.rule == "deps.conflict"]
    assert "flask==3.0.0" in finding.message and "werkzeug" in finding.message


def test_without_a_builder_a_source_only_package_is_reported_not_built() -> None:
    resolution = resolve(request(("six==1.16.0", "pypika==0.48.9"), target=HOST), None, quiet)
    assert set(versions(resolution)) == {"six"}
    (finding,) = resolution.findings
    assert finding.rule == "deps.no-wheel" and "pypika 0.48.9" in finding.message


def test_a_wheel_set_is_resolved_once(monkeypatch: pytest.MonkeyPatch) -> None:
    first = prepare_wheels(request(("six==1.16.0",)), None, quiet)
    assert first.installable == ("six==1.16.0",) and (first.directory / "six-1.16.0-py2.py3-none-any.whl").is_file()
    assert first.resolve_s > 0  # this call resolved (its time is recorded apart from the download's)

    def no_resolver(*_args: object, **_kwargs: object) -> Resolution:
        raise AssertionError("the recorded resolution should have been reused")

    monkeypatch.setattr("grader.environments.resolve", no_resolver)
    again = prepare_wheels(request(("six==1.16.0",)), None, quiet)
    assert again.installable == first.installable and again.resolution == first.resolution
    assert (again.resolve_s, again.download_s) == (0.0, 0.0)  # reused: nothing resolved or fetched


def test_an_unreachable_index_is_the_graders_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_DEFAULT_INDEX", "http://127.0.0.1:9/simple")
    monkeypatch.setattr(resolve_module, "index_urls", lambda: ("http://127.0.0.1:9/simple/",))
    with pytest.raises(DependencyError, match="could not reach the package index"):
        prepare_wheels(request(("grader-only-on-this-run-zz1",)), None, quiet)
