"""Git submissions: the HEAD commit, fetched into a bare repository of the grader's and exported as a tar
(git never runs inside the candidate's repository).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from grader.intake.files import _CHUNK, IntakeError, IntakeLimits, _human
from grader.processes import OutputTooLarge, TimedOut, copy_output
from grader.processes import run as run_process

_GIT_TIMEOUT_S = 300


def _git_env(home: Path) -> dict[str, str]:
    """An environment in which git reads only a config of ours and never prompts.

    Our config trusts every directory (`safe.directory`): git runs only in our own bare repository and,
    through the fetch, as upload-pack in the candidate's, which reads no command from repository config.
    A submission owned by another user would otherwise be refused as "dubious ownership".
    """
    home = home.absolute()  # git changes directory, so every path it is given must be absolute
    config = home / "gitconfig"
    config.write_text('[safe]\n\tdirectory = *\n[protocol "file"]\n\tallow = always\n', encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=str(config),  # unlike `-c`, this reaches the upload-pack child of a local fetch
        GIT_TERMINAL_PROMPT="0",
        GIT_PAGER="cat",
        HOME=str(home),
        XDG_CONFIG_HOME=str(home),
    )
    return env


def _git(args: list[str], env: dict[str, str], source: Path) -> str:
    command = ["git", "-c", "core.hooksPath=/dev/null", *args]
    try:
        done = run_process(command, env=env, timeout_s=_GIT_TIMEOUT_S)
    except FileNotFoundError as exc:
        raise IntakeError("git is not installed on this machine; install it to grade git checkouts.") from exc
    except TimedOut as exc:
        raise IntakeError(f"git took more than {_GIT_TIMEOUT_S} s to read {source}; send an archive instead.") from exc
    if done.returncode != 0:
        reason = _git_reason(done.stderr) or f"exit code {done.returncode}"
        if "couldn't find remote ref" in done.stderr.lower():
            raise IntakeError(f"The git repository {source} has no commits; commit the work and submit again.")
        raise IntakeError(f"git could not read the repository {source} ({reason}); check that it is a valid checkout.")
    return done.stdout


def _git_reason(stderr: str) -> str:
    """git's own explanation: the first `fatal:` or `error:` line, without the prefix."""
    for line in stderr.splitlines():
        for prefix in ("fatal:", "error:"):
            if line.startswith(prefix):
                return line.removeprefix(prefix).strip().rstrip(".")
    return ""


def _git_head_archive(source: Path, work: Path, limits: IntakeLimits) -> tuple[Path, str]:
    """Export the HEAD commit of `source` as a tar in `work`; returns the tar and the commit id.

    git is never run inside the candidate's repository: its config could name filter or fsmonitor
    commands that git would execute. Instead a bare repository of ours fetches HEAD over the upload-pack
    protocol, which git treats as safe against untrusted repositories, and the archive comes from there.
    """
    env = _git_env(work)
    bare = work.absolute() / "head.git"
    _git(["init", "--quiet", "--bare", str(bare)], env, source)
    _git(
        [
            "-C", str(bare), "fetch", "--quiet", "--no-tags", "--no-recurse-submodules", "--depth=1",
            os.path.abspath(source), "HEAD",
        ],
        env,
        source,
    )  # fmt: skip
    revision = _git(["-C", str(bare), "rev-parse", "--verify", "FETCH_HEAD^{commit}"], env, source).strip()
    if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", revision):
        raise IntakeError(f"git gave an unexpected commit id for {source}; check the repository.")
    archive = work / "head.tar"
    _git_archive_to(["-C", str(bare), "archive", "--format=tar", revision], env, archive, limits, source)
    return archive, revision


def _git_archive_to(args: list[str], env: dict[str, str], archive: Path, limits: IntakeLimits, source: Path) -> None:
    """Run `git archive`, stopping it once its output passes the same raw cap as any other archive."""
    cap = limits.max_total_bytes * 10
    command = ["git", "-c", "core.hooksPath=/dev/null", *args]
    try:
        with open(archive, "wb") as out:
            code = copy_output(command, out, max_bytes=cap, timeout_s=_GIT_TIMEOUT_S, env=env, chunk_bytes=_CHUNK)
    except OutputTooLarge as exc:
        raise IntakeError(f"The HEAD commit of {source} is larger than {_human(cap)}; remove large files.") from exc
    except TimedOut as exc:
        raise IntakeError(f"git took more than {_GIT_TIMEOUT_S} s to read {source}; send an archive instead.") from exc
    if code != 0:
        raise IntakeError(f"git could not export the HEAD commit of {source}; check the repository.")
