"""Work out which framework a submission uses and the shell command that starts its app.

Candidate code is never imported or run here: pyproject.toml is read with tomllib, Python files are only
parsed with `ast`. The command runs later, inside the sandbox, with `$PORT` set.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from grader.intake import IntakeError, read_candidate_bytes
from grader.models import Finding, Severity

Framework = Literal["fastapi", "flask", "django"]
NO_START_COMMAND = "no start command: add [tool.grader] start to pyproject.toml or a Procfile web: line"
NO_START_PROBLEM = "no start command was found: add [tool.grader] start to pyproject.toml or a Procfile web: line"

DJANGO_COMMAND = "python manage.py migrate --noinput && python manage.py runserver 127.0.0.1:$PORT --noreload"
_MAX_CONFIG_BYTES = 1024 * 1024
# Larger files are data or generated code, never the module that creates the app; parsing them is waste.
_MAX_SOURCE_BYTES = 2 * 1024 * 1024
_MAX_COMMAND_CHARS = 2000
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_SKIPPED_DIRS = frozenset(
    {"tests", "test", "node_modules", "venv", "site-packages", "__pycache__", "migrations", "build", "dist"}
)
_PREFERRED_STEMS = ("main", "app")
# Where each framework's class lives, and what must be installed to serve an app of it.
_CLASSES: dict[Framework, tuple[str, str]] = {"fastapi": ("fastapi", "FastAPI"), "flask": ("flask", "Flask")}
_SERVING_PACKAGES: dict[Framework, tuple[str, ...]] = {
    "fastapi": ("fastapi", "uvicorn"),
    "flask": ("flask",),
    "django": ("django",),
}


@dataclass(frozen=True)
class AppSpec:
    """The detected framework, the start command and where the command came from.

    `problem` says why there is no start command (None when there is one): the app's `problem` in the result.
    """

    framework: Framework | None
    start_command: str | None
    source: Literal["pyproject", "procfile", "auto"] | None
    findings: tuple[Finding, ...]
    problem: str | None = None
    # A background process run beside the app (`[tool.grader] worker`, or a Procfile `worker:` line).
    worker_command: str | None = None
    worker_source: Literal["pyproject", "procfile"] | None = None


@dataclass(frozen=True)
class _Candidate:
    """A module-level app object (or Flask factory) found by parsing."""

    framework: Framework
    path: PurePosixPath  # relative to the project root
    attribute: str
    factory: bool
    order: int  # position in the file, so the first definition wins a tie


def detect_app(project_dir: Path, requirements: Sequence[str]) -> AppSpec:
    """Find the start command: `[tool.grader] start`, then a Procfile `web:` line, then auto-detection; and
    the worker command, if one is declared (`[tool.grader] worker`, then a Procfile `worker:` line)."""
    findings: list[Finding] = []
    installed = _requirement_names(requirements)
    declared = _Declarations(project_dir, findings)
    explicit = declared.command("start", "web")
    worker = declared.command("worker", "worker")
    worker_command, worker_source = worker if worker is not None else (None, None)
    detected, unparsable = _auto_detect(project_dir, installed)
    if explicit is not None:
        framework = detected[0] if detected else _framework_from_requirements(installed)
        command, source = explicit
        return AppSpec(framework, command, source, tuple(findings), None, worker_command, worker_source)
    if detected is None:
        problem = unparsable_problem(unparsable) if unparsable else NO_START_PROBLEM
        findings.append(_no_app_finding(unparsable))
        return AppSpec(_framework_from_requirements(installed), None, None, tuple(findings), problem,
                       worker_command, worker_source)
    framework, command = detected
    findings.extend(_missing_packages(framework, installed))
    return AppSpec(framework, command, "auto", tuple(findings), None, worker_command, worker_source)


@dataclass(frozen=True)
class Unparsable:
    """A module that could hold the app (it names FastAPI or Flask) but does not parse: where, and why."""

    path: PurePosixPath  # relative to the project root
    line: int | None
    message: str

    @property
    def where(self) -> str:
        """`main.py:12`, or `main.py` when the parser gave no line."""
        return f"{self.path.as_posix()}:{self.line}" if self.line else self.path.as_posix()


def unparsable_problem(unparsable: Sequence[Unparsable]) -> str:
    """Why no app was found: `main.py:12 does not parse (invalid syntax), so no app could be found in it`."""
    first = unparsable[0]
    others = len(unparsable) - 1
    more = f" (nor do {others} other file(s) naming FastAPI or Flask)" if others else ""
    return f"{first.where} does not parse ({first.message}){more}, so no app could be found in it"


def _no_app_finding(unparsable: Sequence[Unparsable]) -> Finding:
    if not unparsable:
        return Finding(message=NO_START_COMMAND, severity=Severity.ERROR, rule="detect.no-command")
    first = unparsable[0]
    return Finding(message=f"{unparsable_problem(unparsable)}; fix the syntax error.", file=first.path.as_posix(),
                   line=first.line, severity=Severity.ERROR, rule="detect.unparsable", category="python_fundamentals")


# --- explicit commands ------------------------------------------------------------------------------


def _read_text(project_dir: Path, name: str, findings: list[Finding]) -> str | None:
    try:
        data = read_candidate_bytes(project_dir / name, _MAX_CONFIG_BYTES)
    except IntakeError as exc:
        findings.append(Finding(message=str(exc), file=name, severity=Severity.WARNING, rule="detect.unreadable"))
        return None
    return None if data is None else data.decode("utf-8-sig", "replace")


def _checked_command(command: object, file: str, what: str, findings: list[Finding]) -> str | None:
    """The command if it is a usable one-line string, else None with a finding (`what`: start or worker)."""
    if not isinstance(command, str) or not command.strip():
        message = f"The {what} command in {file} is not a non-empty string, so it was ignored; fix it."
    elif _CONTROL_CHARS.search(command.strip()):
        message = f"The {what} command in {file} contains a line break or control character; put it on one line."
    elif len(command) > _MAX_COMMAND_CHARS:
        message = f"The {what} command in {file} is longer than {_MAX_COMMAND_CHARS} characters; shorten it."
    else:
        return command.strip()
    findings.append(Finding(message=message, file=file, severity=Severity.WARNING, rule="detect.bad-command"))
    return None


class _Declarations:
    """The commands the candidate wrote down: `[tool.grader]` in pyproject.toml, then the Procfile. Each file
    is read (as text, never run) at most once, and only when a command is looked up in it."""

    def __init__(self, project_dir: Path, findings: list[Finding]) -> None:
        self.project_dir = project_dir
        self.findings = findings
        self._table: dict[str, object] | None = None
        self._procfile: dict[str, str] | None = None

    def command(self, key: str, process: str) -> tuple[str, Literal["pyproject", "procfile"]] | None:
        """`[tool.grader] <key>`, else the Procfile's `<process>:` line, and where it came from; pyproject.toml
        wins over the Procfile."""
        what = "start" if key == "start" else key
        table = self._grader_table()
        if key in table:
            command = _checked_command(table[key], "pyproject.toml", what, self.findings)
            if command is not None:
                return command, "pyproject"
        procfile = self._procfile_lines()
        if process not in procfile:
            return None
        command = _checked_command(procfile[process], "Procfile", what, self.findings)
        return (command, "procfile") if command is not None else None

    def _grader_table(self) -> dict[str, object]:
        if self._table is None:
            self._table = _pyproject_grader_table(self.project_dir, self.findings)
        return self._table

    def _procfile_lines(self) -> dict[str, str]:
        if self._procfile is None:
            self._procfile = _procfile_processes(self.project_dir, self.findings)
        return self._procfile


def _pyproject_grader_table(project_dir: Path, findings: list[Finding]) -> dict[str, object]:
    """pyproject.toml's `[tool.grader]` table (empty when there is none or the file does not parse)."""
    text = _read_text(project_dir, "pyproject.toml", findings)
    if text is None:
        return {}
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        findings.append(
            Finding(
                message=f"pyproject.toml is not valid TOML ({exc}), so [tool.grader] was not read; fix its syntax.",
                file="pyproject.toml",
                severity=Severity.WARNING,
                rule="detect.invalid-toml",
            )
        )
        return {}
    grader = data.get("tool", {}).get("grader") if isinstance(data.get("tool"), dict) else None
    return dict(grader) if isinstance(grader, dict) else {}


def _procfile_processes(project_dir: Path, findings: list[Finding]) -> dict[str, str]:
    """Each process type of the Procfile (`web`, `worker`, ...) and its command; the first line of a type wins."""
    text = _read_text(project_dir, "Procfile", findings)
    processes: dict[str, str] = {}
    for line in (text or "").splitlines():
        match = re.match(r"^\s*([A-Za-z0-9_-]+)\s*:(.*)$", line)
        if match is not None:
            processes.setdefault(match.group(1), match.group(2))
    return processes


# --- requirements -----------------------------------------------------------------------------------


def _requirement_names(requirements: Sequence[str]) -> dict[str, set[str]]:
    """Canonical name -> extras asked for, for every requirement that parses."""
    names: dict[str, set[str]] = {}
    for text in requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        name = canonicalize_name(requirement.name)
        names.setdefault(name, set()).update(canonicalize_name(extra) for extra in requirement.extras)
    return names


def _framework_from_requirements(installed: dict[str, set[str]]) -> Framework | None:
    for framework in ("django", "fastapi", "flask"):
        if framework in installed:
            return framework
    return None


def _missing_packages(framework: Framework, installed: dict[str, set[str]]) -> list[Finding]:
    findings = []
    for package in _SERVING_PACKAGES[framework]:
        # fastapi[standard] and fastapi[all] bring uvicorn with them.
        if package == "uvicorn" and installed.get("fastapi", set()) & {"standard", "all"}:
            continue
        if package in installed:
            continue
        consequence = "the app cannot be served" if package == "uvicorn" else "the app cannot start"
        findings.append(
            Finding(
                message=f"{package} is not a dependency, so {consequence}; add it to the requirements.",
                severity=Severity.WARNING,
                rule="detect.missing-dependency",
            )
        )
    return findings


# --- auto-detection ---------------------------------------------------------------------------------


def _auto_detect(
    project_dir: Path, installed: dict[str, set[str]]
) -> tuple[tuple[Framework, str] | None, list[Unparsable]]:
    """The framework and start command found by looking at the files (or None), and the modules that could
    hold the app but do not parse, most likely app module first."""
    if _django_manage(project_dir):
        return ("django", DJANGO_COMMAND), []
    unparsable: list[Unparsable] = []
    located = [
        (candidate, location)
        for path in _python_files(project_dir)
        for candidate in _candidates_in(project_dir, path, unparsable)
        if (location := _locate(project_dir, candidate.path)) is not None
    ]
    unparsable.sort(key=_likely_app_first)
    if not located:
        return None, unparsable
    best, location = min(located, key=lambda pair: _rank(pair[0], pair[1], installed))
    return (best.framework, _command_for(best, location)), unparsable


def _django_manage(project_dir: Path) -> bool:
    """A `manage.py` of Django's: one that mentions Django, or at least not Flask. A Flask CLI group
    (Flask-Script, FlaskGroup) is often called manage.py too, and must not be started as Django."""
    path = project_dir / "manage.py"
    if not os.path.isfile(path) or os.path.islink(path):
        return False
    try:
        data = read_candidate_bytes(path, _MAX_SOURCE_BYTES) or b""
    except IntakeError:
        return False
    if re.search(rb"\bdjango\b|DJANGO_SETTINGS_MODULE", data, re.IGNORECASE):
        return True
    return not re.search(rb"\bflask(_script)?\b", data, re.IGNORECASE)


def _likely_app_first(item: Unparsable) -> tuple[int, int, str]:
    stem = item.path.stem
    preferred = _PREFERRED_STEMS.index(stem) if stem in _PREFERRED_STEMS else len(_PREFERRED_STEMS)
    return (len(item.path.parts), preferred, item.path.as_posix())


def _python_files(project_dir: Path) -> Iterator[PurePosixPath]:
    """Project .py files, without tests, virtualenvs, tool caches or hidden directories."""
    for dirpath, dirnames, filenames in os.walk(project_dir):
        # os.walk does not follow directory symlinks by default; pruning here keeps it out of junk.
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in _SKIPPED_DIRS
            and not d.startswith(".")
            and not os.path.lexists(os.path.join(dirpath, d, "pyvenv.cfg"))
        )
        rel_dir = PurePosixPath(Path(dirpath).relative_to(project_dir).as_posix())
        for name in sorted(filenames):
            if name.endswith(".py") and not _is_test_file(name):
                yield rel_dir / name if rel_dir != PurePosixPath(".") else PurePosixPath(name)


def _is_test_file(name: str) -> bool:
    return name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"


def _parse(project_dir: Path, path: PurePosixPath) -> ast.Module | Unparsable | None:
    """The module's syntax tree; where and why it does not parse; or None when it cannot be read or names
    neither app class (never a crash)."""
    try:
        source = read_candidate_bytes(project_dir.joinpath(*path.parts), _MAX_SOURCE_BYTES)
    except IntakeError:
        return None
    # Cheap pre-check: a file that never mentions either class cannot create an app.
    if source is None or (b"FastAPI" not in source and b"Flask" not in source):
        return None
    try:
        return ast.parse(source, filename=path.as_posix())
    except SyntaxError as exc:
        return Unparsable(path, exc.lineno, " ".join((exc.msg or "invalid syntax").split())[:200])
    except (ValueError, RecursionError, MemoryError) as exc:
        return Unparsable(path, None, " ".join(f"{type(exc).__name__}: {exc}".split())[:200])


@dataclass(frozen=True)
class _Names:
    """How one module can refer to a framework's app class."""

    cls: str  # the class's own name, e.g. "FastAPI"
    classes: frozenset[str]  # names bound to the class: FastAPI, or F after `from fastapi import FastAPI as F`
    modules: frozenset[str]  # names bound to the module: fastapi, or fa after `import fastapi as fa`


def _class_aliases(tree: ast.Module) -> dict[Framework, _Names]:
    aliases: dict[Framework, _Names] = {}
    for framework, (module, cls) in _CLASSES.items():
        classes, modules = {cls}, {module}
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module == module:
                classes.update(alias.asname for alias in node.names if alias.name == cls and alias.asname)
            elif isinstance(node, ast.Import):
                modules.update(alias.asname for alias in node.names if alias.name == module and alias.asname)
        aliases[framework] = _Names(cls, frozenset(classes), frozenset(modules))
    return aliases


def _creates(node: ast.AST | None, names: _Names) -> bool:
    """Is `node` a call of the class (`FastAPI(...)`, `fastapi.FastAPI(...)`), or the class itself?"""
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Name):
        return target.id in names.classes
    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
        return target.value.id in names.modules and target.attr == names.cls
    return False


def _candidates_in(project_dir: Path, path: PurePosixPath, unparsable: list[Unparsable]) -> list[_Candidate]:
    tree = _parse(project_dir, path)
    if isinstance(tree, Unparsable):
        unparsable.append(tree)
        return []
    if tree is None:
        return []
    aliases = _class_aliases(tree)
    found = []
    for order, node in enumerate(tree.body):
        for framework, names in aliases.items():
            found.extend(_node_candidates(node, framework, names, path, order))
    return found


def _node_candidates(
    node: ast.stmt, framework: Framework, names: _Names, path: PurePosixPath, order: int
) -> list[_Candidate]:
    """The app objects one module-level statement defines: `app = FastAPI()`, `app: Flask = ...`, a factory."""
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and _creates(node.value, names):
        targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        return [_Candidate(framework, path, name, False, order) for name in targets]
    if (
        isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.value is not None
        and (_creates(node.value, names) or _creates(node.annotation, names))
    ):
        return [_Candidate(framework, path, node.target.id, False, order)]
    if (
        framework == "flask"
        and isinstance(node, ast.FunctionDef)
        and node.name == "create_app"
        and _builds(node, names)
    ):
        return [_Candidate(framework, path, "create_app", True, order)]
    return []


def _builds(function: ast.FunctionDef, names: _Names) -> bool:
    """Does the factory visibly build the app? FastAPI projects often have a create_app too."""
    if _creates(function.returns, names):
        return True
    return any(_creates(node, names) for node in ast.walk(function) if isinstance(node, ast.Call))


@dataclass(frozen=True)
class _Location:
    """Where Python must look (`root`, None for the project root) to import `module`."""

    root: PurePosixPath | None
    module: str


def _locate(project_dir: Path, path: PurePosixPath) -> _Location | None:
    """How to import the module at `path`, or None when its own name is not importable.

    A src layout (src/ is not itself a package) imports from src/. A directory whose name is not an
    identifier (`my-app/`) cannot be part of a dotted name, so the import starts below it.
    """
    parts = [*path.parent.parts, path.stem] if path.stem != "__init__" else list(path.parent.parts)
    start = 0
    if len(parts) > 1 and parts[0] == "src" and not (project_dir / "src" / "__init__.py").exists():
        start = 1
    while start < len(parts) and not all(part.isidentifier() for part in parts[start:]):
        start += 1
    if start >= len(parts):
        return None
    root = PurePosixPath(*parts[:start]) if start else None
    return _Location(root, ".".join(parts[start:]))


def _rank(candidate: _Candidate, location: _Location, installed: dict[str, set[str]]) -> tuple[int | str, ...]:
    """Sort key: framework in the requirements, importable from the top, shallow, main.py/app.py first."""
    stem = candidate.path.stem
    preferred = _PREFERRED_STEMS.index(stem) if stem in _PREFERRED_STEMS else len(_PREFERRED_STEMS)
    return (
        0 if candidate.framework in installed else 1,
        0 if location.root in (None, PurePosixPath("src")) else 1,
        len(location.module.split(".")),
        preferred,
        len(candidate.path.parts),
        # The path breaks the last ties, so the choice never depends on the order files were listed in.
        candidate.path.as_posix(),
        int(candidate.factory),  # an app object beats a factory in the same module, as in Flask's own lookup
        candidate.order,
    )


def _command_for(candidate: _Candidate, location: _Location) -> str:
    root = shlex.quote(location.root.as_posix()) if location.root is not None else None
    if candidate.framework == "fastapi":
        app_dir = f" --app-dir {root}" if root else ""
        return f"python -m uvicorn {location.module}:{candidate.attribute}{app_dir} --host 127.0.0.1 --port $PORT"
    target = f"{location.module}:{candidate.attribute}" + ("()" if candidate.factory else "")
    # The flask CLI has no --app-dir; PYTHONPATH does the same job.
    prefix = f"PYTHONPATH={root} " if root else ""
    return f"{prefix}python -m flask --app {shlex.quote(target)} run --host 127.0.0.1 --port $PORT"
