"""Read the dependencies a submission declares (requirements files, PEP 621, Poetry, Pipfile).

The grader installs only packages from the package index: no URLs, VCS checkouts, local paths or private
indexes. Anything else a candidate declares is dropped with a finding that says why, so the report can
explain a missing package. Exact versions are decided later (`grader.resolve`): a lock file's, a pin's, or
what resolved on the submission's date.

One exception to "dropped": a package PyPI ships only as source but whose own project also publishes the
same module as wheels under another name (psycopg2 -> psycopg2-binary, see `requirement._WHEEL_TWINS`) is
replaced by that twin, with an INFO finding, when the requirement is parsed, so everything downstream (the
dependency set, its cache key, the wheel download) sees the twin.

The rooms: `sources` (the two entry points), `requirement` (one requirement), `requirements_txt` and
`tables` (pyproject.toml, Poetry, Pipfile).
"""

from grader.deps.requirement import WHEELS_ONLY, normalize_requirements
from grader.deps.sources import DependencySet, read_dependencies, read_test_dependencies

__all__ = ["WHEELS_ONLY", "DependencySet", "normalize_requirements", "read_dependencies", "read_test_dependencies"]
