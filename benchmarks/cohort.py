"""A cold cohort: N hello-api submissions, each with a dependency set of its own, as real candidates send them.

Every member starts from a bundled reference (fastapi-ref or flask-ref) and gets:
- its own pins of the same frameworks and libraries, chosen among released versions that work with the
  reference code (`FASTAPI_FAMILIES`, `FLASK_FAMILIES`: each framework release with the library versions
  of its time); no two members share a dependency set;
- its own packaging: top-level pins in pyproject.toml or requirements files, the full closure pinned in
  requirements.txt, or a uv.lock beside the pyproject (Flask members, whose closure is known here);
- small code variations: its helpers renamed (as tokens, in the app and its tests alike), its undecorated
  module-level functions reordered, comments of its own, so that neither the result cache nor similarity
  collapse two members;
- a few members are meant to fail: a pinned version that does not exist (the install fails) or an import of
  a module no one installs (the app fails to start).

The same `(n, seed)` always writes the same files. `python -m benchmarks.cohort DEST --n 8 --seed 1` writes
one for a look; `python -m benchmarks.run --cohort N` grades one cold and warm.
"""

from __future__ import annotations

import argparse
import ast
import io
import itertools
import random
import shutil
import sys
import tokenize
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO_ROOT / "challenges" / "hello-api" / "solutions"

Expect = Literal["graded", "install-fails", "start-fails"]
Packaging = Literal["pyproject", "requirements", "pinned-closure", "uv-lock"]

PYTEST = ("7.4.4", "8.2.2", "8.3.5")
UVICORN = ("0.27.1", "0.28.1", "0.29.0", "0.30.6", "0.31.1", "0.32.1", "0.33.0", "0.34.2")


@dataclass(frozen=True)
class FastAPIFamily:
    """A FastAPI release and the pydantic and httpx (TestClient) versions that work with it."""

    fastapi: str
    pydantic: tuple[str, ...]
    httpx: tuple[str, ...]


@dataclass(frozen=True)
class FlaskFamily:
    """Flask releases and the versions of its dependencies each accepts (Flask 3.1 raised every floor)."""

    flask: tuple[str, ...]
    werkzeug: tuple[str, ...]
    blinker: tuple[str, ...]
    itsdangerous: tuple[str, ...]
    click: tuple[str, ...]
    jinja2: tuple[str, ...]
    markupsafe: tuple[str, ...]


# httpx 0.28 removed what Starlette's TestClient used before Starlette 0.41 (FastAPI 0.115.6 and later have it).
FASTAPI_FAMILIES = (
    FastAPIFamily("0.110.3", ("2.6.4", "2.7.4"), ("0.26.0", "0.27.0")),
    FastAPIFamily("0.111.1", ("2.7.4", "2.8.2"), ("0.27.0",)),
    FastAPIFamily("0.112.4", ("2.8.2", "2.9.2"), ("0.27.2",)),
    FastAPIFamily("0.114.2", ("2.9.2",), ("0.27.2",)),
    FastAPIFamily("0.115.0", ("2.9.2",), ("0.27.2",)),
    FastAPIFamily("0.115.6", ("2.10.3", "2.10.6"), ("0.27.2", "0.28.1")),
    FastAPIFamily("0.115.12", ("2.10.6", "2.11.4"), ("0.28.1",)),
)
FLASK_FAMILIES = (
    FlaskFamily(("3.0.0", "3.0.2", "3.0.3"), ("3.0.1", "3.0.3", "3.0.6"), ("1.7.0", "1.8.2"), ("2.1.2", "2.2.0"),
                ("8.1.7",), ("3.1.3", "3.1.4"), ("2.1.5",)),
    FlaskFamily(("3.1.0", "3.1.1"), ("3.1.3",), ("1.9.0",), ("2.2.0",), ("8.1.8", "8.2.1"), ("3.1.5", "3.1.6"),
                ("3.0.2",)),
)
MISSING_VERSION = {"fastapi": "0.115.99", "flask": "3.0.99"}  # never released: resolution fails
MISSING_MODULE = "notes_settings_local"  # imported by start-failing members, installed by no one

# Helpers renamed per member (NAME tokens, so strings and comments stay as they are).
RENAMES = {
    "database_path": ("db_file", "sqlite_path", "resolve_db_path", "notes_db_path"),
    "row_to_note": ("note_from_row", "as_note", "to_note", "serialize_row"),
    "init_db": ("create_schema", "setup_database", "ensure_tables"),
    "validate_note": ("parse_note", "clean_note", "check_note_payload"),
    "InvalidNote": ("BadNote", "NoteValidationError", "InvalidPayload"),
}
COMMENTS = ("# kept small on purpose", "# see README for the API", "# TODO: pagination", "# sqlite is enough here",
            "# one connection per unit of work", "# reviewed", "# NOTE: ids are autoincrement")


@dataclass(frozen=True)
class Member:
    """One planned submission: its reference, its pins, how it packages them, and what should happen."""

    name: str
    base: Literal["fastapi-ref", "flask-ref"]
    main: tuple[str, ...]  # name==version, the app's dependencies
    dev: tuple[str, ...]  # name==version, for its tests
    packaging: Packaging
    expect: Expect
    variant: int  # seeds the code variations

    def dependency_set(self) -> tuple[str, ...]:
        """What makes two members' environments the same (sorted pins)."""
        return tuple(sorted((*self.main, *self.dev)))


PinSet = tuple[tuple[str, ...], tuple[str, ...]]  # (main, dev)


def fastapi_sets() -> list[PinSet]:
    """Every (main, dev) pin combination of the FastAPI families, in a fixed order."""
    sets: list[PinSet] = []
    for family in FASTAPI_FAMILIES:
        for pydantic, uvicorn, httpx, pytest in itertools.product(family.pydantic, UVICORN, family.httpx, PYTEST):
            main = (f"fastapi=={family.fastapi}", f"pydantic=={pydantic}", f"uvicorn=={uvicorn}")
            sets.append((main, (f"httpx=={httpx}", f"pytest=={pytest}")))
    return sets


def flask_sets() -> list[PinSet]:
    """Every (main, dev) pin combination of the Flask families (main is the full closure), in a fixed order."""
    sets: list[PinSet] = []
    for f in FLASK_FAMILIES:
        for combo in itertools.product(f.flask, f.werkzeug, f.blinker, f.itsdangerous, f.click, f.jinja2,
                                       f.markupsafe, PYTEST):
            flask, werkzeug, blinker, itsdangerous, click, jinja2, markupsafe, pytest = combo
            main = (f"blinker=={blinker}", f"click=={click}", f"Flask=={flask}", f"itsdangerous=={itsdangerous}",
                    f"Jinja2=={jinja2}", f"MarkupSafe=={markupsafe}", f"Werkzeug=={werkzeug}")
            sets.append((main, (f"pytest=={pytest}",)))
    return sets


def failing_counts(n: int) -> tuple[int, int]:
    """How many members fail to install and to start: about one in sixteen each, at least one from n >= 4."""
    if n < 4:
        return 0, 0
    each = max(1, n // 16)
    return each, each


def plan(n: int, seed: int) -> list[Member]:
    """N members with N distinct dependency sets, about 60% FastAPI; deterministic from `seed`."""
    rng = random.Random(seed)
    n_fastapi = round(n * 0.6)
    fastapi_pool, flask_pool = fastapi_sets(), flask_sets()
    if n_fastapi > len(fastapi_pool) or n - n_fastapi > len(flask_pool):
        raise ValueError(f"at most {len(fastapi_pool) + len(flask_pool)} distinct dependency sets are known")
    chosen = [("fastapi-ref", pins) for pins in rng.sample(fastapi_pool, n_fastapi)]
    chosen += [("flask-ref", pins) for pins in rng.sample(flask_pool, n - n_fastapi)]
    rng.shuffle(chosen)
    install_fails, start_fails = failing_counts(n)
    failing: list[Expect] = ["install-fails"] * install_fails
    failing += ["start-fails"] * start_fails
    graded: list[Expect] = ["graded"] * (n - len(failing))
    expectations = failing + graded
    rng.shuffle(expectations)
    members = []
    for number, ((base, (main, dev)), expect) in enumerate(zip(chosen, expectations, strict=True), start=1):
        packaging = _packaging(base, rng)
        if expect == "install-fails":
            main = _with_missing_version(main)
        framework = base.removesuffix("-ref")
        members.append(Member(f"{number:03d}-{framework}", base, main, dev, packaging, expect, rng.randrange(10**6)))  # type: ignore[arg-type]
    return members


def _packaging(base: str, rng: random.Random) -> Packaging:
    if base == "fastapi-ref":
        return rng.choice(("pyproject", "pyproject", "requirements"))
    return rng.choice(("pinned-closure", "pinned-closure", "requirements", "uv-lock"))


def _with_missing_version(main: tuple[str, ...]) -> tuple[str, ...]:
    """The framework's pin replaced by a version that was never released."""
    out = []
    for pin in main:
        name = pin.split("==")[0]
        out.append(f"{name}=={MISSING_VERSION[name.lower()]}" if name.lower() in MISSING_VERSION else pin)
    return tuple(out)


# --- writing a member -------------------------------------------------------------------------------------


def write_cohort(dest: Path, n: int, seed: int) -> list[Member]:
    """Plan N members and write each to `dest/<name>/`; `dest` must not exist yet."""
    dest.mkdir(parents=True)
    members = plan(n, seed)
    for member in members:
        write_member(member, dest / member.name)
    return members


def write_member(member: Member, target: Path) -> None:
    """The member's files: the reference's code varied, and its dependency files."""
    shutil.copytree(SOLUTIONS / member.base, target)
    rng = random.Random(member.variant)
    for stale in ("pyproject.toml", "requirements.txt", "requirements-dev.txt"):
        (target / stale).unlink(missing_ok=True)
    renames = {old: rng.choice(new) for old, new in RENAMES.items()}
    for path in sorted(target.rglob("*.py")):
        path.write_text(vary_code(path.read_text(), renames, rng))
    app_file = target / ("main.py" if member.base == "fastapi-ref" else "app.py")
    if member.expect == "start-fails":
        app_file.write_text(_break_start(app_file.read_text()))
    (target / "README.md").write_text((target / "README.md").read_text()
                                      + f"\nSubmitted by candidate {member.name} (variant {member.variant}).\n")
    _write_dependencies(member, target)


def vary_code(source: str, renames: dict[str, str], rng: random.Random) -> str:
    """The same program: helpers renamed, undecorated module-level functions reordered, comments added."""
    renamed = rename_names(source, renames)
    reordered = reorder_functions(renamed, rng)
    return add_comments(reordered, rng)


def rename_names(source: str, renames: dict[str, str]) -> str:
    """Rename NAME tokens (also attributes such as `module.helper`); strings and comments are left alone."""
    lines = source.splitlines(keepends=True)
    hits = [tok for tok in tokenize.generate_tokens(io.StringIO(source).readline)
            if tok.type == tokenize.NAME and tok.string in renames]
    for tok in reversed(hits):  # from the end, so earlier columns stay valid
        row, col = tok.start
        line = lines[row - 1]
        lines[row - 1] = line[:col] + renames[tok.string] + line[col + len(tok.string):]
    return "".join(lines)


def reorder_functions(source: str, rng: random.Random) -> str:
    """Shuffle each run of adjacent undecorated module-level functions (names resolve at call time)."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    runs = list(_function_runs(tree.body))
    for run in reversed(runs):  # from the end, so earlier line numbers stay valid
        start, end = run[0].lineno - 1, run[-1].end_lineno or run[-1].lineno
        blocks = ["".join(lines[node.lineno - 1:node.end_lineno]).rstrip("\n") + "\n" for node in run]
        rng.shuffle(blocks)
        lines[start:end] = ["\n\n".join(blocks)]
    return "".join(lines)


def _function_runs(body: Sequence[ast.stmt]) -> Iterator[list[ast.FunctionDef]]:
    run: list[ast.FunctionDef] = []
    for node in body:
        if isinstance(node, ast.FunctionDef) and not node.decorator_list:
            run.append(node)
            continue
        if len(run) > 1:
            yield run
        run = []
    if len(run) > 1:
        yield run


def add_comments(source: str, rng: random.Random) -> str:
    """A comment of the member's own before a few top-level definitions."""
    lines = source.splitlines(keepends=True)
    out = []
    for line in lines:
        if line.startswith(("def ", "class ")) and rng.random() < 0.4:
            out.append(rng.choice(COMMENTS) + "\n")
        out.append(line)
    return "".join(out)


def _break_start(source: str) -> str:
    """Import, after the future import, a module that no one installs: the app exits as it starts."""
    marker = "from __future__ import annotations\n"
    return source.replace(marker, f"{marker}\nimport {MISSING_MODULE}  # noqa: F401  (local settings)\n", 1)


def _write_dependencies(member: Member, target: Path) -> None:
    project = f"hello-notes-{member.name}"
    if member.packaging == "pyproject":
        (target / "pyproject.toml").write_text(_pyproject(project, member.main, member.dev))
    elif member.packaging == "uv-lock":
        (target / "pyproject.toml").write_text(_pyproject(project, _top_level(member.main), member.dev))
        (target / "uv.lock").write_text(_uv_lock(project, member.main, member.dev))
    elif member.packaging == "requirements" and member.base == "flask-ref":
        _write_requirements(target, _top_level(member.main), member.dev)
    else:  # "requirements" for FastAPI (its top-level pins) and "pinned-closure"
        _write_requirements(target, member.main, member.dev)


def _top_level(main: tuple[str, ...]) -> tuple[str, ...]:
    """What a Flask candidate names themselves when they leave the rest to the resolver."""
    return tuple(pin for pin in main if pin.split("==")[0] in ("Flask", "Werkzeug"))


def _write_requirements(target: Path, main: tuple[str, ...], dev: tuple[str, ...]) -> None:
    (target / "requirements.txt").write_text("\n".join(main) + "\n")
    (target / "requirements-dev.txt").write_text("-r requirements.txt\n" + "\n".join(dev) + "\n")


def _pyproject(project: str, main: Sequence[str], dev: Sequence[str]) -> str:
    deps = "".join(f'  "{pin}",\n' for pin in main)
    dev_deps = "".join(f'  "{pin}",\n' for pin in dev)
    return (f'[project]\nname = "{project}"\nversion = "1.0.0"\nrequires-python = ">=3.11"\n'
            f"dependencies = [\n{deps}]\n\n[project.optional-dependencies]\ndev = [\n{dev_deps}]\n\n"
            '[tool.pytest.ini_options]\npythonpath = ["."]\ntestpaths = ["tests"]\n')


def _uv_lock(project: str, main: Sequence[str], dev: Sequence[str]) -> str:
    """A uv.lock naming every package at its version (the grader reads names, versions and sources)."""
    parts = ['version = 1\nrequires-python = ">=3.11"\n']
    for pin in sorted((*main, *dev), key=str.lower):
        name, version = pin.split("==")
        parts.append(f'[[package]]\nname = "{name.lower()}"\nversion = "{version}"\n'
                     'source = { registry = "https://pypi.org/simple" }\n')
    parts.append(f'[[package]]\nname = "{project}"\nversion = "1.0.0"\nsource = {{ virtual = "." }}\n')
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    """Write a cohort and list its members."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    for member in write_cohort(args.dest, args.n, args.seed):
        print(f"{member.name}  {member.packaging:14}  {member.expect:13}  {' '.join(member.main)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
