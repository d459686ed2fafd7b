"""grader.deps read and then resolved: real resolutions and downloads against the package index.

The reading half, which needs no index, is tests/unit/grader/test_deps.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from grader.deps import read_dependencies
from grader.environments import prepare_wheels, sandbox_target
from grader.models import Severity
from grader.resolve import Resolution, ResolveRequest, resolve
from tests.unit.grader.test_deps import write

# docopt has only ever been published as an sdist; the control test below keeps that assumption honest.
SDIST_ONLY = "docopt==0.6.2"
# A pure-python wheel whose own dependency (docopt) has no wheel: the failure is one level down.
NEEDS_SDIST_ONLY = "num2words==0.5.13"
NONEXISTENT = "grader-test-no-such-package-q7x"


def quiet(_: str) -> None:
    pass


def resolve_for(requirements: tuple[str, ...], target: str = "linux-container") -> Resolution:
    request = ResolveRequest(requirements, (), (), None, sandbox_target("3.11", target), None)
    return resolve(request, None, quiet)


def test_sdist_only_control_package_really_has_no_wheel(tmp_path: Path) -> None:
    """Guards the tests below: if docopt ever ships a wheel, they must pick another package."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--no-deps", "--dest", str(tmp_path),
         SDIST_ONLY],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode != 0
    assert "No matching distribution found for docopt" in done.stderr


def test_pure_python_wheels_for_a_linux_container(tmp_path: Path) -> None:
    wheels = prepare_wheels(ResolveRequest(("six==1.16.0", "idna"), (), (), None,
                                           sandbox_target("3.11", "linux-container"), None), None, quiet)
    assert wheels.installable[1] == "six==1.16.0" and wheels.installable[0].startswith("idna==")
    assert wheels.resolution.findings == ()
    assert (wheels.directory / "six-1.16.0-py2.py3-none-any.whl").is_file()


def test_compiled_packages_get_manylinux_wheels() -> None:
    (package,) = resolve_for(("markupsafe==2.1.5",)).packages
    assert "cp311" in package.filename and "manylinux" in package.filename and package.sha256


def test_wheels_for_the_host() -> None:
    (package,) = resolve_for(("six==1.16.0",), "host").packages
    assert package.filename == "six-1.16.0-py2.py3-none-any.whl"


def test_sdist_only_and_unknown_packages_are_dropped_with_findings() -> None:
    resolution = resolve_for(("six==1.16.0", SDIST_ONLY, NONEXISTENT))
    assert [p.name for p in resolution.packages] == ["six"]
    messages = " ".join(f.message for f in resolution.findings)
    assert "docopt 0.6.2 has no wheel" in messages and f"no project named {NONEXISTENT}" in messages
    assert all(f.severity == Severity.WARNING for f in resolution.findings)


def test_psycopg2_really_has_no_linux_wheel_and_its_twin_resolves(tmp_path: Path) -> None:
    """The substitution's premise, checked against the index; then the real read -> resolve path."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--no-deps", "--dest", str(tmp_path),
         "--python-version", "3.11", "--platform", "manylinux_2_36_x86_64", "psycopg2==2.9.9"],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode != 0 and "No matching distribution found for psycopg2==2.9.9" in done.stderr

    write(tmp_path / "project", "requirements.txt", "psycopg2==2.9.9\n")
    deps = read_dependencies(tmp_path / "project")
    (package,) = resolve_for(deps.requirements).packages
    assert (package.name, package.version) == ("psycopg2-binary", "2.9.9")
    assert package.filename.startswith("psycopg2_binary-2.9.9-cp311-cp311-") and "manylinux" in package.filename


def test_transitive_dependency_without_wheel_drops_the_top_level_requirement() -> None:
    resolution = resolve_for(("six==1.16.0", NEEDS_SDIST_ONLY))
    assert [p.name for p in resolution.packages] == ["six"]
    messages = " ".join(f.message for f in resolution.findings)
    assert "docopt" in messages and NEEDS_SDIST_ONLY in messages


def test_empty_requirements_resolve_to_nothing() -> None:
    assert resolve_for(()).packages == ()
