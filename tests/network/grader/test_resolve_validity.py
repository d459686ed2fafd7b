"""Resolution failures seen on real public projects (docs/validity.md), reproduced on fixtures of our own.

Like test_resolve.py these run the real resolver (uv) against the real package index, without Docker (no
builder: what the local backend does). The one failure that needs a builder (an old C extension) is
tests/docker/grader/test_resolve_validity.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from grader import builds
from grader.deps import read_dependencies
from grader.environments import candidate_request, read_declared, sandbox_target
from grader.resolve import BuildOutcome, Resolution, Resolver, ResolveRequest, resolve
from tests.conftest import REPO_ROOT

SUBMISSIONS = REPO_ROOT / "tests" / "fixtures" / "submissions"
CONTAINER = sandbox_target("3.11", "linux-container")
HOST = sandbox_target("3.11", "host")


def quiet(_: str) -> None:
    pass


def packages(resolution: Resolution) -> dict[str, tuple[str, str, str]]:
    return {p.name: (p.version, p.origin, p.group) for p in resolution.packages}


def rules(resolution: Resolution) -> list[str]:
    return [f.rule or "" for f in resolution.findings]


def test_tools_the_lock_pins_run_at_the_locked_version_and_the_app_keeps_its_packages() -> None:
    """luizcarloscf/fastapi-realworld-example: the grader's own coverage pin conflicted with the lock's
    coverage (pytest-cov in the dev group); repairing that conflict dropped the app's OpenTelemetry
    instrumentations, misdiagnosed as "no release supports Python 3.11 (the newest needs >=3.9)"."""
    declared = read_declared(SUBMISSIONS / "locked-dev-tools", datetime(2024, 5, 1, tzinfo=UTC), "HEAD commit date")
    resolution = resolve(candidate_request(declared, CONTAINER), None, quiet)
    found = packages(resolution)
    assert resolution.lock_file == "poetry.lock"
    assert found["coverage"] == ("7.5.0", "lock", "test"), "their locked coverage, not the grader's"
    assert found["pytest"] == ("8.1.1", "lock", "test")
    assert found["opentelemetry-instrumentation-logging"] == ("0.45b0", "lock", "main")
    assert "deps.not-installed" not in rules(resolution)


def test_a_pre_release_only_requirement_is_not_called_unsupported() -> None:
    """The diagnosis of a requirement whose matching releases are all pre-releases uses its own specifier."""
    resolver = Resolver(ResolveRequest(main=(), test=(), tools=(), lock=None, target=CONTAINER, as_of=None),
                        None, quiet)
    requirement = "opentelemetry-instrumentation-logging>=0.45b0,<0.46"
    assert resolver._diagnose("opentelemetry-instrumentation-logging", Requirement(requirement).specifier, None) is None


def test_the_test_phase_never_drops_what_the_app_requires(monkeypatch: pytest.MonkeyPatch) -> None:
    """A conflict that only the candidate's test requirements cause costs their tests, never the app: even
    when the diagnosis blames an app requirement (as the pre-release misdiagnosis did), the test phase may
    not leave it out of the environment."""
    monkeypatch.setattr(Resolver, "_diagnose", lambda self, name, specifier, locked: "blamed for the test")
    request = ResolveRequest(main=("six==1.16.0",), test=("coverage==7.5.0", "coverage==7.4.0"), tools=(),
                             lock=None, target=CONTAINER, as_of=None)
    resolution = resolve(request, None, quiet)
    assert packages(resolution)["six"] == ("1.16.0", "pin", "main")
    assert not any("six" in f.message for f in resolution.findings if f.rule == "deps.not-installed")


def test_psycopg_3_gets_its_binary_extra() -> None:
    """luizcarloscf: psycopg 3 without [binary] imports no libpq in the sandbox ("no pq wrapper available")."""
    declared = read_dependencies(SUBMISSIONS / "psycopg3-plain")
    assert declared.requirements == ("psycopg[binary]==3.1.18",)
    (finding,) = [f for f in declared.findings if f.rule == "deps.substituted"]
    assert "libpq" in finding.message and "psycopg[binary]" in finding.message
    resolution = resolve(ResolveRequest(main=declared.requirements, test=(), tools=(), lock=None, target=CONTAINER,
                                        as_of=None), None, quiet)
    assert packages(resolution)["psycopg-binary"][0] == "3.1.18"


def test_psycopg_with_an_extra_of_its_own_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("psycopg[c]==3.1.18\npsycopg2-binary==2.9.9\n")
    declared = read_dependencies(tmp_path)
    assert sorted(declared.requirements) == ["psycopg2-binary==2.9.9", "psycopg[c]==3.1.18"]
    assert declared.findings == ()


def test_a_locked_dependency_without_a_wheel_for_this_python_is_set_free() -> None:
    """saalaus/fastapi-realworld: poetry.lock pins httptools 0.4.0 (no wheel for 3.11, and it does not build);
    the whole of uvicorn[standard] was dropped, so the app had no server. The lock is relaxed for that one
    dependency instead, and the rest of the lock still holds."""
    declared = read_declared(SUBMISSIONS / "locked-no-wheel-for-python", datetime(2022, 11, 21, tzinfo=UTC),
                             "HEAD commit date")
    resolution = resolve(candidate_request(declared, CONTAINER), None, quiet)
    found = packages(resolution)
    assert found["uvicorn"] == ("0.18.3", "lock", "main")
    assert found["httptools"][1] == "resolved" and Version(found["httptools"][0]) >= Version("0.5")
    assert found["click"] == ("8.1.3", "lock", "main"), "packages that install as locked stay locked"
    relaxed = [f for f in resolution.findings if f.rule == "deps.lock-relaxed"]
    assert any("httptools 0.4.0" in f.message for f in relaxed)
    assert "deps.not-installed" not in rules(resolution)


def test_build_requirements_fall_back_to_the_newest_when_none_existed_on_the_date(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """a-r-g-v/realworld-flask (2017): the default build requirement setuptools>=40.8.0 has no release before
    2019, so with the submission's date as cutoff no source archive could be built at all: the newest tools
    are used instead (and `wheel` is always the newest)."""
    monkeypatch.setattr(builds, "fetch_all", lambda files: [Path(name) for _, _, name in files])
    built_with: list[list[str]] = []

    class Recording:
        identity = "recording"

        def build_wheel(self, sdist: Path, build_wheels: list[Path], out_dir: Path) -> BuildOutcome:
            built_with.append(sorted(path.name for path in build_wheels))
            return BuildOutcome(None, "exit 1: recorded")

    request = ResolveRequest(main=(), test=(), tools=(), lock=None, target=CONTAINER,
                             as_of=datetime(2017, 5, 24, 23, 59, 59, tzinfo=UTC))
    sdist = tmp_path / "legacy-1.0.tar.gz"
    sdist.write_bytes(b"")  # no pyproject.toml inside: the default build requirements apply
    outcome = builds._build(Resolver(request, Recording(), quiet), sdist, tmp_path / "place")
    assert outcome.wheel is None and len(built_with) == 1  # the dated set does not exist: one build, newest
    assert any(name.startswith("setuptools-") for name in built_with[0])
    assert any(name.startswith("wheel-") for name in built_with[0])


def test_a_package_that_cannot_be_had_takes_with_it_only_what_needs_it() -> None:
    """congdh/fastapi-realworld: SQLAlchemy 1.3.19 could not be built and alembic needs it; the resolver then
    gave up on every declared dependency. Now only what needs the missing package is left out."""
    request = ResolveRequest(main=("six==1.16.0", "docopt==0.6.2", "num2words==0.5.13"), test=(), tools=(),
                             lock=None, target=HOST, as_of=None)  # no builder: docopt (sdist only) cannot be had
    resolution = resolve(request, None, quiet)
    assert set(packages(resolution)) == {"six"}
    messages = " ".join(f.message for f in resolution.findings)
    assert "docopt 0.6.2 has no wheel" in messages
    assert "'num2words==0.5.13' was not installed: it needs docopt" in messages
    assert "deps.conflict" not in rules(resolution)


def test_the_graders_tools_fit_themselves_to_what_the_app_holds() -> None:
    """Sean-Miningah/realWorld-DjangoRestFramework: the app holds packaging 23.1 (drf-yasg's era); the grader's
    exact pytest needs packaging>=24, so their tests could not run at all ("pytest and coverage could not be
    installed"). A pytest and coverage that fit the app are installed instead."""
    request = ResolveRequest(main=("packaging==23.1",), test=(), tools=("pytest==9.2.0", "coverage==7.18.0"),
                             lock=None, target=CONTAINER, as_of=None)
    resolution = resolve(request, None, quiet)
    found = packages(resolution)
    assert found["packaging"] == ("23.1", "pin", "main")
    assert Version(found["pytest"][0]) >= Version("7") and found["pytest"][2] == "test"
    assert "coverage" in found
    assert "deps.tools-conflict" not in rules(resolution)
    assert "deps.tools-adjusted" in rules(resolution)


def test_a_build_that_failed_the_old_way_is_tried_again(tmp_path: Path) -> None:
    """Failures recorded before build requirements fell back to the newest (no `format`) are not reused."""
    (tmp_path / builds.FAILED_MARKER).write_text('{"builder": "engine-1", "log_tail": "could not be resolved"}')
    assert builds._cached(tmp_path, "engine-1") is None
    (tmp_path / builds.FAILED_MARKER).write_text(
        f'{{"builder": "engine-1", "format": {builds.BUILD_FORMAT}, "log_tail": "exit 1"}}')
    cached = builds._cached(tmp_path, "engine-1")
    assert cached is not None and cached.wheel is None and cached.log_tail == "exit 1"


def test_locked_test_tools_that_cannot_run_on_this_python_are_raised_to_ones_that_can() -> None:
    """saalaus/fastapi-realworld and congdh/fastapi-realworld: their locks pin pytest 5.4.3 / 6.0.1 and py 1.9.0,
    which install on Python 3.11 but cannot run there (pytest: `required field "lineno" missing from alias`;
    py: `AttributeError: __spec__`), so their tests never ran. The lowest releases that run are installed,
    closest to what they declared, and the findings say why."""
    declared = read_declared(SUBMISSIONS / "locked-old-test-tools", datetime(2020, 10, 1, tzinfo=UTC),
                             "HEAD commit date")
    resolution = resolve(candidate_request(declared, CONTAINER), None, quiet)
    found = packages(resolution)
    assert found["six"] == ("1.15.0", "lock", "main"), "the app's lock still holds"
    assert Version("6.2.4") <= Version(found["pytest"][0]) < Version("7"), "the nearest pytest that runs"
    assert Version(found["py"][0]) >= Version("1.11.0")
    assert Version(found["coverage"][0]) >= Version("6.3")
    assert found["pytest-cov"] == ("2.10.1", "lock", "test")
    assert found["pluggy"] == ("0.13.1", "lock", "test"), "what still runs stays as locked"
    messages = " ".join(f.message for f in resolution.findings)
    assert "pytest 5.4.3, as poetry.lock locks it, does not run on Python 3.11" in messages
    assert "py 1.9.0, as poetry.lock locks it, does not run on Python 3.11" in messages
    assert "deps.substituted" in rules(resolution)  # `pytest = "^5.2"` admits no pytest that runs
    assert "deps.not-installed" not in rules(resolution)


def test_requirements_on_test_tools_get_the_lowest_release_that_runs() -> None:
    """A requirement that admits no release that runs is replaced by the nearest one (the major series of the
    lowest that runs); one that admits some is left to the floor constraint; others, and the floors of a newer
    Python on an older one, are left alone."""
    from grader.tool_floors import raise_to_floor, runnable_floors

    floors = runnable_floors("3.11")
    raised, replaced = raise_to_floor("pytest>=5.2,<6.0", floors)
    assert replaced and Requirement(raised).specifier == SpecifierSet(">=6.2.4,<7")
    assert raise_to_floor("pytest>=6.0.1,<7.0.0", floors) == ("pytest>=6.0.1,<7.0.0", False)  # narrowed later
    raised, replaced = raise_to_floor("coverage[toml]==5.3; python_version >= '3'", floors)
    assert replaced and Requirement(raised).specifier == SpecifierSet(">=6.3,<7")
    assert Requirement(raised).extras == {"toml"} and str(Requirement(raised).marker) == 'python_version >= "3"'
    assert raise_to_floor("pytest>=7", floors) == ("pytest>=7", False)
    assert raise_to_floor("pytest!=6.2.4", floors) == ("pytest!=6.2.4", False)
    assert raise_to_floor("pytest", floors) == ("pytest", False)
    assert raise_to_floor("six==1.15.0", floors) == ("six==1.15.0", False)
    assert "pytest" not in runnable_floors("3.9") and "py" not in runnable_floors("3.10")
