"""Where the Python project lives inside a submission: its top level, or a subfolder of a monorepo.

A repository with `backend/` and `frontend/` is graded as its author runs it: dependencies, the app and the
candidate's own tests from `backend/`, while repository-level evidence (README, CI workflows, Dockerfile,
compose files) still comes from the whole submission. The root is, in order:
1. `--root DIR` on the command line;
2. `[tool.grader] root = "DIR"` in the submission's top-level pyproject.toml;
3. the top level itself, when it holds a Python project file or a `.py` file;
4. the one subfolder (two levels deep at most) holding a Python project file; with several, the one with
   a conventional name (backend, api, server, ...), else the first, with a finding saying how to choose.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.intake import IntakeError, read_candidate_bytes
from grader.models import Finding, Severity

PROJECT_FILES = ("pyproject.toml", "requirements.txt", "Pipfile", "setup.py", "setup.cfg", "manage.py", "Procfile",
                 "poetry.lock", "uv.lock", "pdm.lock", "pylock.toml")
PREFERRED = ("backend", "api", "server", "service", "app", "src", "python")
SKIPPED = frozenset({"node_modules", "frontend", "client", "web", "docs", "doc", "tests", "test", ".github",
                     ".gitlab", "scripts", "infra", "deploy", "k8s", "charts", "migrations"})
MAX_DEPTH = 2


@dataclass(frozen=True)
class ProjectRoot:
    """The project's folder relative to the submission ("." for the top level) and how it was chosen."""

    rel: str
    source: str
    findings: tuple[Finding, ...] = ()

    def path(self, snapshot: Path) -> Path:
        """The root inside a snapshot."""
        return snapshot if self.rel == "." else snapshot.joinpath(*PurePosixPath(self.rel).parts)


def find_project_root(snapshot: Path, override: str | None = None) -> ProjectRoot:
    """The project root of a snapshot (see the module docstring); raises IntakeError for a bad choice."""
    if override is not None:
        return _checked(snapshot, override, "--root")
    declared = _declared_root(snapshot)
    if declared is not None:
        return _checked(snapshot, declared, "[tool.grader] root")
    if _is_project(snapshot, top=True):
        return ProjectRoot(".", "top level")
    candidates = sorted(_candidates(snapshot, PurePosixPath(), 1), key=_rank)
    if not candidates:
        return ProjectRoot(".", "top level")
    chosen = candidates[0].as_posix()
    findings = []
    if len(candidates) > 1:
        others = ", ".join(c.as_posix() for c in candidates[1:])
        findings.append(Finding(
            message=f"The Python project was taken from {chosen}/ (also found: {others}); set "
                    "[tool.grader] root in pyproject.toml or pass --root to choose another.",
            severity=Severity.INFO, rule="project.root"))
    else:
        findings.append(Finding(message=f"The Python project lives in {chosen}/: its app and tests run there, "
                                        "repository files (README, CI, Dockerfile) count from the top level.",
                                severity=Severity.INFO, rule="project.root"))
    return ProjectRoot(chosen, "found in a subfolder", tuple(findings))


def _checked(snapshot: Path, rel: str, source: str) -> ProjectRoot:
    cleaned = PurePosixPath(rel.strip().strip("/") or ".")
    if cleaned.is_absolute() or ".." in cleaned.parts:
        raise IntakeError(f"The project root {rel!r} ({source}) must be a folder inside the submission; "
                          "give a relative path such as backend.")
    target = snapshot.joinpath(*cleaned.parts)
    if not target.is_dir() or target.is_symlink():
        raise IntakeError(f"The project root {rel!r} ({source}) is not a folder of the submission; "
                          "check the name.")
    return ProjectRoot(cleaned.as_posix(), source)


def _declared_root(snapshot: Path) -> str | None:
    try:
        data = read_candidate_bytes(snapshot / "pyproject.toml", 1024 * 1024)
        table = tomllib.loads(data.decode("utf-8", "replace")) if data else {}
    except (IntakeError, tomllib.TOMLDecodeError):
        return None
    root = table.get("tool", {}).get("grader", {}).get("root") if isinstance(table.get("tool"), dict) else None
    return root if isinstance(root, str) else None


def _is_project(directory: Path, top: bool = False) -> bool:
    """A Python project file here (or, at the top level, any .py file)."""
    if any((directory / name).is_file() for name in PROJECT_FILES):
        return True
    return top and any(path.suffix == ".py" and path.is_file() for path in directory.iterdir())


def _candidates(snapshot: Path, rel: PurePosixPath, depth: int) -> list[PurePosixPath]:
    found: list[PurePosixPath] = []
    for child in sorted((snapshot / rel).iterdir() if rel.parts else snapshot.iterdir()):
        if not child.is_dir() or child.is_symlink() or child.name.startswith(".") or child.name.lower() in SKIPPED:
            continue
        child_rel = rel / child.name
        if _is_project(child):
            found.append(child_rel)
        elif depth < MAX_DEPTH:
            found += _candidates(snapshot, child_rel, depth + 1)
    return found


def _rank(path: PurePosixPath) -> tuple[int, int, str]:
    name = path.name.lower()
    preferred = PREFERRED.index(name) if name in PREFERRED else len(PREFERRED)
    return (len(path.parts), preferred, path.as_posix())
