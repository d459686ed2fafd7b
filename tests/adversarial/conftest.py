"""The corpus's case directories hold hostile conftest.py files and tests: they must never be collected."""

collect_ignore = ["cases"]
