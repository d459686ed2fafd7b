"""The CLI starts where POSIX-only modules do not exist (Windows), and says what works where.

Windows has no `fcntl` and no `resource`. Each test runs a fresh interpreter in which both are made
unimportable before anything of the grader is imported, then drives the CLI through click's CliRunner.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests.conftest import REPO_ROOT

WITHOUT_POSIX = """
import sys
sys.modules["fcntl"] = None  # what Windows lacks: `import fcntl` raises ImportError
sys.modules["resource"] = None
"""


def run_without_posix(body: str, tmp_path: Path) -> dict[str, Any]:
    """Run `body` (which fills the dict `report`) in an interpreter with no fcntl and no resource."""
    script = WITHOUT_POSIX + textwrap.dedent("""
        import json
        report = {}
    """) + textwrap.dedent(body) + "\nprint(json.dumps(report))\n"
    env_cache = tmp_path / "cache"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT,
                          env={**_env(), "GRADER_CACHE_DIR": str(env_cache)}, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return report


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(REPO_ROOT)}


def test_cli_and_every_backend_module_import_without_fcntl_and_resource(tmp_path: Path) -> None:
    report = run_without_posix("""
        from click.testing import CliRunner
        import grader.cli
        import grader.filelocks, grader.cache, grader.sandbox.docker, grader.sandbox.local, grader.sandbox.cleanup
        import grader.processes, grader.engine, grader.sandbox.images, grader.sandbox.venvs
        runner = CliRunner()
        for args in (["--help"], ["check", "--help"], ["grade", "--help"], ["sandbox", "cleanup", "--help"],
                     ["--version"]):
            result = runner.invoke(grader.cli.main, args)
            report[" ".join(args)] = [result.exit_code, result.output]
        report["fcntl"] = sys.modules["fcntl"] is None and sys.modules["resource"] is None
    """, tmp_path)
    assert report.pop("fcntl") is True, "the test must really run without fcntl and resource"
    for args, (code, output) in report.items():
        assert code == 0, (args, output)
    assert "Usage:" in report["check --help"][1] and "--sandbox" in report["check --help"][1]
    assert report["--version"][1].startswith("grader ")


def test_the_local_backend_explains_itself_on_windows(tmp_path: Path) -> None:
    """On Windows the local backend is refused in one sentence that names what to use instead."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text("print('hi')\n")
    report = run_without_posix(f"""
        from click.testing import CliRunner
        import grader.cli
        sys.platform = "win32"  # as on Windows, once the modules that read it at import time are loaded
        result = CliRunner().invoke(grader.cli.main, ["check", {str(project)!r}, "--challenge", "hello-api",
                                                      "--sandbox", "local"])
        report["code"], report["output"] = result.exit_code, result.output
    """, tmp_path)
    assert report["code"] == 3, report["output"]
    lines = [line for line in report["output"].splitlines() if line.startswith("error:")]
    assert lines == ["error: the local backend runs on Linux and macOS only (it needs POSIX process groups and "
                     "rlimits): use --sandbox docker with Docker Desktop on Windows"], report["output"]
    assert "Traceback" not in report["output"]
