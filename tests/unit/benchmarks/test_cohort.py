"""The cold cohort generator (benchmarks/cohort.py): distinct dependency sets, its failing members, determinism."""

from __future__ import annotations

import ast
import filecmp
import random
import tomllib
from pathlib import Path

import pytest

from benchmarks.cohort import (
    MISSING_MODULE,
    MISSING_VERSION,
    failing_counts,
    plan,
    rename_names,
    reorder_functions,
    write_cohort,
    write_member,
)
from grader.locks import find_lock


def test_every_member_has_a_dependency_set_of_its_own() -> None:
    members = plan(300, seed=3)
    assert len({member.dependency_set() for member in members}) == 300
    assert len({member.name for member in members}) == 300
    assert {member.base for member in members} == {"fastapi-ref", "flask-ref"}


def test_a_few_members_fail_to_install_and_a_few_to_start() -> None:
    members = plan(32, seed=5)
    install = [m for m in members if m.expect == "install-fails"]
    start = [m for m in members if m.expect == "start-fails"]
    assert (len(install), len(start)) == failing_counts(32) == (2, 2)
    missing = {f"{name}=={version}" for name, version in MISSING_VERSION.items()}
    for member in install:
        assert any(pin.lower() in missing for pin in member.main), member.main
    for member in members:
        if member.expect != "install-fails":
            assert not any(pin.lower() in missing for pin in member.main)


def test_the_same_seed_writes_the_same_files_and_another_seed_other_ones(tmp_path: Path) -> None:
    first = write_cohort(tmp_path / "a", 8, seed=11)
    again = write_cohort(tmp_path / "b", 8, seed=11)
    other = plan(8, seed=12)
    assert first == again
    assert [m.dependency_set() for m in first] != [m.dependency_set() for m in other]
    compared = filecmp.dircmp(tmp_path / "a", tmp_path / "b")
    assert not compared.diff_files and not compared.left_only and not compared.right_only
    for member in first:
        inner = filecmp.dircmp(tmp_path / "a" / member.name, tmp_path / "b" / member.name)
        assert not inner.diff_files, member.name


def test_written_members_are_valid_python_with_their_pins_and_distinct_code(tmp_path: Path) -> None:
    members = write_cohort(tmp_path / "cohort", 16, seed=2)
    apps = {}
    for member in members:
        root = tmp_path / "cohort" / member.name
        for path in root.rglob("*.py"):
            ast.parse(path.read_text())  # still a program
        app = (root / ("main.py" if member.base == "fastapi-ref" else "app.py")).read_text()
        apps[member.name] = app
        assert (MISSING_MODULE in app) == (member.expect == "start-fails")
        declared = _declared_text(root)
        framework = next(pin for pin in member.main if pin.lower().startswith(("fastapi==", "flask==")))
        assert framework in declared, member
    assert len(set(apps.values())) == len(members)  # no two apps alike


def test_a_uv_lock_member_pins_its_whole_closure_as_the_grader_reads_it(tmp_path: Path) -> None:
    member = next(m for m in plan(40, seed=1) if m.packaging == "uv-lock")
    write_member(member, tmp_path / member.name)
    lock = find_lock(tmp_path / member.name)
    assert lock is not None and lock.file == "uv.lock"
    assert set(lock.versions().items()) == {
        (pin.split("==")[0].lower(), pin.split("==")[1]) for pin in (*member.main, *member.dev)}
    tomllib.loads((tmp_path / member.name / "pyproject.toml").read_text())


def test_renaming_touches_names_only_and_reordering_keeps_every_function() -> None:
    source = 'def database_path() -> str:\n    return "database_path"  # database_path\n\n\ndef b() -> str:\n' \
             "    return database_path()\n\n\ndef c() -> None:\n    pass\n"
    renamed = rename_names(source, {"database_path": "sqlite_file_path"})
    assert renamed.count("sqlite_file_path") == 2 and renamed.count("database_path") == 2
    orders = {tuple(node.name for node in ast.parse(reorder_functions(source, random.Random(seed))).body)
              for seed in range(20)}
    assert len(orders) > 1 and all(sorted(order) == ["b", "c", "database_path"] for order in orders)


def test_more_members_than_known_sets_is_refused() -> None:
    with pytest.raises(ValueError, match="distinct dependency sets"):
        plan(5000, seed=1)


def _declared_text(root: Path) -> str:
    return "".join(path.read_text() for name in ("pyproject.toml", "requirements.txt", "uv.lock")
                   if (path := root / name).is_file())
