"""The sandbox side of the grader: the challenge suites' pytest plugin and fixtures, the runner's half of the
control channel, and each check's entry point. Standard library, pytest and the tools only; nothing here
imports `grader` (the host's side of each check is `grader.checks`; both share `checks.formats`)."""
