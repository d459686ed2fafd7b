"""grader.app_log: the line of a crashed app's log that says why it never became ready."""

from __future__ import annotations

from grader.app_log import failure_line, not_ready_sentence

# The shape of uvicorn's output when the app module raises at import (frames shortened).
IMPORT_ERROR_LOG = """\
Traceback (most recent call last):
  File "<frozen runpy>", line 198, in _run_module_as_main
  File "/opt/venv/lib/python3.11/site-packages/uvicorn/importer.py", line 19, in import_from_string
    module = importlib.import_module(module_str)
             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/app/main.py", line 7, in <module>
    from settings import DATABASE_PATH
ImportError: cannot import name 'DATABASE_PATH' from 'settings' (/app/settings.py)
"""

SYNTAX_ERROR_LOG = """\
INFO:     Will watch for changes
Traceback (most recent call last):
  File "/usr/lib/python3.11/importlib/__init__.py", line 126, in import_module
    return _bootstrap._gcd_import(name[level:], package, level)
  File "<frozen importlib._bootstrap_external>", line 1004, in source_to_code
  File "/app/main.py", line 21
    def products(:
                 ^
SyntaxError: invalid syntax
"""


def test_the_exception_ending_the_last_traceback_is_the_reason() -> None:
    assert failure_line(IMPORT_ERROR_LOG, ["/app"]) == (
        "ImportError: cannot import name 'DATABASE_PATH' from 'settings' (settings.py)")


def test_a_syntax_error_names_the_candidates_file_and_line() -> None:
    assert failure_line(SYNTAX_ERROR_LOG, ["/app"]) == "SyntaxError: invalid syntax (main.py:21)"


def test_lines_after_the_traceback_do_not_hide_the_exception() -> None:
    log = IMPORT_ERROR_LOG + "ERROR:    Application startup failed. Exiting.\n"
    assert (failure_line(log, ["/app"]) or "").startswith("ImportError: cannot import name 'DATABASE_PATH'")


def test_without_a_traceback_the_last_line_naming_a_failure_wins() -> None:
    log = 'INFO:     Started server process [7]\nERROR:    Error loading ASGI app. Could not import module "api".\n' \
          "INFO:     Stopping\n"
    assert failure_line(log) == 'ERROR:    Error loading ASGI app. Could not import module "api".'
    assert failure_line("starting\nboom: missing configuration\n") == "boom: missing configuration"
    assert failure_line("\x1b[31mthe end\x1b[0m\n") == "the end"
    assert failure_line("") is None and failure_line("\n  \n") is None


def test_not_ready_sentence_reads_whatever_the_backend_wrote() -> None:
    assert not_ready_sentence("did not start within 60 s: no answer") == "The app did not start within 60 s: no answer"
    assert not_ready_sentence("main.py:12 does not parse (x), so no app could be found in it") == (
        "The app did not start: main.py:12 does not parse (x), so no app could be found in it")
    assert not_ready_sentence(None) == "The app did not start"
