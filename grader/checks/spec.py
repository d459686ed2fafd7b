"""The one protocol every check's host-side spec follows.

A check has two halves. Its code runs in the sandbox (`checks/`): a module that writes its output files.
Its spec lives on the host: which sandbox environment runs it, how long it may take, which metrics it
declares (the scoring rules may use only those), the command that starts it, and how its output becomes
records. The host never imports a check's sandbox module; it builds the command, hands it to a backend and
parses the files that come back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, TypeVar

# Where a check runs:
# - "tools": the grader's tool environment (the runner image, or the grader's interpreter on the local
#   backend), no network, the submission read-only;
# - "candidate": the candidate's own environment (its image or venv), no network but fresh services;
# - "suite-runner": the runner beside the candidate's running app, sharing only its loopback.
RunsIn = Literal["tools", "candidate", "suite-runner"]

ParsedT_co = TypeVar("ParsedT_co", covariant=True)


@dataclass(frozen=True)
class CheckContext:
    """Where a check's command reads and writes, as the sandbox sees those paths."""

    input_dir: str  # what the check reads: the submission (static checks) or the challenge suite (suite)
    output_dir: str  # where it writes its files
    python: str = "python"  # the interpreter that runs it there
    app_url: str = ""  # the app under test (the suite only)


@dataclass(frozen=True)
class CheckOutput:
    """What the host collected after a check's command ran."""

    output_dir: Path  # host directory holding the files the command wrote
    exit_code: int | None
    log: str  # its output, for saying why it wrote nothing


class CheckSpec(Protocol[ParsedT_co]):
    """What the host knows about one check; ParsedT_co is what its output parses into."""

    @property
    def id(self) -> str:
        """The check's id: the first part of its results' and scoring rules' ids."""
        ...

    @property
    def runs_in(self) -> RunsIn:
        """The sandbox environment that runs its command."""
        ...

    @property
    def entry_module(self) -> str:
        """The module of `checks/` the sandbox runs (`python -m` or `pytest -p`)."""
        ...

    @property
    def timeout_s(self) -> float | None:
        """Wall time its command may take; None when the challenge sets it (`[limits] test_timeout_s`)."""
        ...

    @property
    def metrics(self) -> tuple[str, ...]:
        """Every metric its report holds: the scoring rules (`grader.rules`) may use only these."""
        ...

    def command(self, context: CheckContext) -> list[str]:
        """argv that runs the check in its sandbox environment."""
        ...

    def parse(self, output: CheckOutput) -> ParsedT_co:
        """Its output files as records; missing or malformed output means the check could not run."""
        ...
