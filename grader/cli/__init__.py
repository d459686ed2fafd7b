"""The `grader` command line. Click lives here only; everything it calls is plain functions.

The rooms: `console` (consoles, exit codes, one-line errors, progress, --debug/-v/-q), `base` (the `grader`
group and the options several commands share), then one module per group of commands: `grading` (grade,
check, report, schema), `reviewing` (review), `sandbox` (sandbox and cache), `challenges` (challenge),
`similarity` and `distributed` (worker, workers). The entry point is `grader.cli:main`.
"""

from grader.cli import challenges, distributed, grading, reviewing, sandbox, similarity
from grader.cli.base import main
from grader.cli.console import add_output_options

add_output_options(main)  # last: every command registered by the modules above gets --debug, -v and -q

__all__ = ["challenges", "distributed", "grading", "main", "reviewing", "sandbox", "similarity"]
