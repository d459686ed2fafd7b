"""One gateway each, and imports that flow one way (cli -> pipeline -> steps -> gateways -> models).

Read from the source, not by importing it: a lazy `import docker` inside a function counts as much as one at
the top. The gateways are

- `grader.processes`: the only module that starts or signals processes on the host;
- `grader.engine`: the only module that imports the Docker SDK;
- `grader.cache`: the store (paths, keys, last use), with `grader.filelocks` its one lock implementation.

A gateway imports nothing from the layers above it: not the pipeline, the CLI, the sandbox backends or the
steps; only the bottom (`grader.errors`, `grader.paths`, the package's version) and its own lock.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

import pytest

from tests.conftest import REPO_ROOT

GRADER = REPO_ROOT / "grader"
# Where each gateway's business may be done, and nowhere else.
PROCESS_GATEWAY = "grader/processes.py"
ENGINE_GATEWAY = "grader/engine.py"
# Calls that start or signal a process without the subprocess module.
PROCESS_CALLS = {"os.kill", "os.killpg", "os.system", "os.popen", "os.fork", "os.forkpty", "os.posix_spawn",
                 "os.posix_spawnp", "os.spawnv", "os.spawnve", "os.spawnl", "os.execv", "os.execve", "os.execvp",
                 "os.execvpe", "pty.spawn"}
# What each gateway may import from the grader: the bottom layer only.
GATEWAY_IMPORTS = {
    "grader/processes.py": set(),
    "grader/engine.py": {"grader.errors"},
    "grader/filelocks.py": {"grader.paths"},
    "grader/cache.py": {"grader", "grader.filelocks", "grader.paths"},
    "grader/errors.py": set(),
}


def modules() -> Iterator[tuple[str, ast.Module]]:
    """Every module of the grader package, by its path relative to the repository."""
    for path in sorted(GRADER.rglob("*.py")):
        yield path.relative_to(REPO_ROOT).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def imported(tree: ast.Module) -> set[str]:
    """Every module an `import` or `from ... import` anywhere in `tree` names (also inside functions);
    `from grader import cache` names `grader.cache`, `from grader.paths import cache_dir` only `grader.paths`."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names
                         if is_module(f"{node.module}.{alias.name}"))
    return names


def is_module(name: str) -> bool:
    """Whether `name` is a module of this repository (`grader.cache`) or any name outside it (`docker.errors`)."""
    if top(name) not in ("grader", "checks"):
        return True
    path = REPO_ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def called(tree: ast.Module) -> set[str]:
    """Dotted names called in `tree` (`os.kill(...)` gives `os.kill`)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            parts = []
            target = node.func
            while isinstance(target, ast.Attribute):
                parts.append(target.attr)
                target = target.value
            if isinstance(target, ast.Name):
                names.add(".".join([target.id, *reversed(parts)]))
    return names


def top(name: str) -> str:
    return name.split(".")[0]


def test_only_the_process_gateway_starts_or_signals_processes() -> None:
    offenders = {}
    for path, tree in modules():
        if path == PROCESS_GATEWAY:
            continue
        found = {name for name in imported(tree) if top(name) in ("subprocess", "multiprocessing", "pty")}
        found |= called(tree) & PROCESS_CALLS
        if found:
            offenders[path] = sorted(found)
    assert offenders == {}, "start and stop processes through grader.processes"


def test_only_the_engine_gateway_imports_the_docker_sdk() -> None:
    offenders = {path: sorted(n for n in imported(tree) if top(n) == "docker")
                 for path, tree in modules() if path != ENGINE_GATEWAY}
    assert {path: names for path, names in offenders.items() if names} == {}, "talk to Docker through grader.engine"


@pytest.mark.parametrize("gateway", sorted(GATEWAY_IMPORTS))
def test_a_gateway_imports_only_the_layer_below(gateway: str) -> None:
    tree = ast.parse((REPO_ROOT / gateway).read_text(encoding="utf-8"))
    own = {name for name in imported(tree) if top(name) in ("grader", "checks")}
    above = sorted(own - GATEWAY_IMPORTS[gateway])
    assert above == [], f"{gateway} reaches above its layer"


def is_above(name: str, *packages: str) -> bool:
    """Whether `name` is one of `packages` or inside one."""
    return any(name == package or name.startswith(package + ".") for package in packages)


def test_nothing_below_the_cli_imports_it_and_no_gateway_or_backend_imports_the_pipeline() -> None:
    """Imports flow one way: cli -> bulk -> pipeline -> steps -> environments, backends and gateways -> models."""
    offenders = {}
    for path, tree in modules():
        names = imported(tree)
        in_cli = path.startswith("grader/cli/") or path == "grader/__main__.py"  # the CLI package imports itself
        wrong = set() if in_cli else {n for n in names if n == "grader.cli" or n.startswith("grader.cli.")}
        if path.startswith(("grader/sandbox/", "grader/steps/")) or path in GATEWAY_IMPORTS:
            wrong |= {n for n in names if is_above(n, "grader.pipeline", "grader.bulk")}
        if path.startswith("grader/sandbox/") or path in GATEWAY_IMPORTS:
            wrong |= {n for n in names if is_above(n, "grader.steps")}
        if wrong:
            offenders[path] = sorted(wrong)
    assert offenders == {}


def test_the_checks_never_use_the_host_gateways() -> None:
    """The sandbox side has its own small runner (`checks._common.run_tool`) and never talks to the engine."""
    offenders = {}
    for path in sorted((REPO_ROOT / "checks").rglob("*.py")):
        names = imported(ast.parse(path.read_text(encoding="utf-8")))
        wrong = {n for n in names if n.startswith(("grader.processes", "grader.engine", "grader.cache"))}
        if wrong:
            offenders[path.name] = sorted(wrong)
    assert offenders == {}


def test_the_scanners_see_what_they_look_for() -> None:
    """A lazy import inside a function, a module imported from its package, a process call through an attribute."""
    tree = ast.parse("def f():\n    import docker.errors\n    from grader import cache\n"
                     "    from grader.paths import cache_dir\n    os.killpg(1, 9)\n")
    assert imported(tree) == {"docker.errors", "grader", "grader.cache", "grader.paths"}
    assert "os.killpg" in called(tree)
