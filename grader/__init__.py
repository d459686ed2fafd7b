"""grader: grade take-home backend assignments in a locked-down sandbox."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("grader")
except PackageNotFoundError:  # running from a checkout without an install
    __version__ = "0.0.0+checkout"
