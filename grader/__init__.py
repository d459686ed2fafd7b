"""grader: grade take-home backend assignments in a locked-down sandbox."""

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "takehome-grader"  # the name on PyPI; the import name and the command are `grader`

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # running from a checkout without an install
    __version__ = "0.0.0+checkout"
