"""Grade real RealWorld checkouts with one or more graders and tabulate what each did (docs/validity.md).

For every checkout given, the entry of `projects.toml` with the same folder name says how a reviewer would
fit it to the challenge's contract: a start command and environment variable names, nothing else. The runner
clones the checkout into a temporary directory, writes that adaptation there as a Procfile `web:` line and
commits it with the original HEAD's author and committer dates (the grader grades a git checkout's HEAD and
dates it by its files' times, so the as-of resolution sees the project's own date). The checkout itself is
never written to.

The candidate's own tests run with the challenge's `[app] env`, not with the start command's exports, so the
adaptation's variables whose values the challenge can express (plain text, `$DATA_DIR`, `$PORT`) are also
written into a copy of the challenge for that project: its tests then see what its app sees, as they would
when a reviewer set those variables. Values naming the database service's variables ($PGHOST, ...) exist only
when the app starts and stay in the Procfile.

Each grader (`--grader LABEL=PATH`: PATH is put on PYTHONPATH, `-` for the installed one) grades the adapted
copies with the Docker sandbox, into OUT/LABEL/: one `grader grade` call per challenge copy.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHALLENGE = HERE / "realworld-challenge"
PROJECTS = HERE / "projects.toml"
ADAPTER = "validity-runner <validity@grader.invalid>"
DJANGO_START = "python manage.py migrate --noinput && exec python manage.py runserver 127.0.0.1:$PORT --noreload"
# The start command's variables the challenge's [app] env can name too, as its placeholders.
CHALLENGE_PLACEHOLDERS = {"DATA_DIR": "{data_dir}", "PORT": "{port}"}
SHELL_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
ENV_LINE = re.compile(r"^env = \{.*\}$", re.MULTILINE)


@dataclass(frozen=True)
class Project:
    """One entry of projects.toml."""

    name: str
    repo: str
    commit: str
    framework: str
    database: str = ""
    dependencies: str = ""
    tests: str = ""
    start: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    why: str = ""

    def procfile_line(self) -> str | None:
        """The `web:` line of the adaptation, or None when the project is graded as it is."""
        if self.start is None and not self.env:
            return None
        exports = [f'export {name}="{value}"' for name, value in self.env.items()]
        start = self.start or DJANGO_START
        return "web: " + "; ".join([*exports, start])

    def test_env(self) -> dict[str, str]:
        """The adaptation's variables the challenge can give the candidate's tests too (see the module
        docstring): values whose only shell variables are $DATA_DIR or $PORT, written as the challenge's
        placeholders."""
        shown = {}
        for name, value in self.env.items():
            variables = set(SHELL_VARIABLE.findall(value))
            if variables <= set(CHALLENGE_PLACEHOLDERS):
                shown[name] = SHELL_VARIABLE.sub(lambda m: CHALLENGE_PLACEHOLDERS[m.group(1)], value)
        return shown


def load_projects(path: Path = PROJECTS) -> dict[str, Project]:
    """The projects of projects.toml by name."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    projects = {}
    for entry in data.get("project", []):
        project = Project(**entry)
        projects[project.name] = project
    return projects


def _git(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    completed = subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **(env or {})}, check=True,
                               capture_output=True, text=True)
    return completed.stdout.strip()


def adapted_copy(checkout: Path, project: Project, work: Path) -> Path:
    """A clone of `checkout` at its HEAD with the project's adaptation committed on top (same dates)."""
    head = _git(["rev-parse", "HEAD"], checkout)
    if head != project.commit:
        print(f"warning: {project.name} is at {head[:12]}, projects.toml records {project.commit[:12]}",
              file=sys.stderr)
    copy = work / project.name
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(checkout), str(copy)], check=True)
    line = project.procfile_line()
    if line is None:
        return copy
    procfile = copy / "Procfile"
    kept = [ln for ln in procfile.read_text(encoding="utf-8").splitlines()
            if not ln.lstrip().startswith("web:")] if procfile.exists() else []
    procfile.write_text("\n".join([line, *kept]) + "\n", encoding="utf-8")
    author_date = _git(["log", "-1", "--format=%aI"], copy)
    commit_date = _git(["log", "-1", "--format=%cI"], copy)
    name, email = ADAPTER.split(" <")
    env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email.rstrip(">"), "GIT_COMMITTER_NAME": name,
           "GIT_COMMITTER_EMAIL": email.rstrip(">"), "GIT_AUTHOR_DATE": author_date,
           "GIT_COMMITTER_DATE": commit_date}
    _git(["add", "Procfile"], copy)
    _git(["commit", "--quiet", "--no-verify", "-m", "validity: reviewer's adaptation (start command, env)"],
         copy, env)
    return copy


def challenge_for(project: Project, work: Path) -> Path:
    """The challenge the project is graded with: the RealWorld challenge, or a copy of it whose [app] env
    also has the project's test_env() (same hidden tests, same limits)."""
    extra = project.test_env()
    if not extra:
        return CHALLENGE
    copy = work / "challenges" / project.name
    shutil.copytree(CHALLENGE, copy)
    manifest = copy / "challenge.toml"
    text = manifest.read_text(encoding="utf-8")
    env = {**tomllib.loads(text)["app"].get("env", {}), **extra}
    line = "env = { " + ", ".join(f"{name} = {json.dumps(value)}" for name, value in env.items()) + " }"
    if len(ENV_LINE.findall(text)) != 1:
        raise SystemExit(f"error: {manifest} must have exactly one `env = {{ ... }}` line under [app].")
    manifest.write_text(ENV_LINE.sub(lambda _: line, text), encoding="utf-8")
    return copy


def grade(copies: list[Path], challenge: Path, label: str, grader_path: str, python: str, out: Path,
          jobs: int) -> int:
    """Grade every copy with one grader and one challenge; returns its exit code."""
    env = dict(os.environ)
    if grader_path != "-":
        env["PYTHONPATH"] = grader_path
    command = [python, "-m", "grader", "grade", *map(str, copies), "--challenge", str(challenge),
               "--sandbox", "docker", "--out", str(out / label), "--format", "json", "--force", "-j", str(jobs)]
    print(f"[{label}] {shlex.join(command)}", file=sys.stderr)
    # Never the caller's directory: `python -m grader` would import a ./grader package found there.
    cwd = grader_path if grader_path != "-" else tempfile.gettempdir()
    return subprocess.run(command, env=env, cwd=cwd).returncode


# --- the table ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """What one grader did with one project."""

    grader: str
    project: str
    commit: str
    framework: str
    overall: str
    band: str
    hidden: str
    testing: str
    test_runner: str
    deps: str
    built: str
    app: str


def band_of(overall: float | None, bands: dict[str, float]) -> str:
    """The hiring band of a score (the challenge's thresholds)."""
    if overall is None:
        return "-"
    for name in ("strong_hire", "hire", "lean_no"):
        if name in bands and overall >= bands[name]:
            return name
    return "no"


def _checks(result: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [check for check in result.get("checks", []) if str(check.get("id", "")).startswith(prefix)]


def hidden_counts(result: dict[str, Any]) -> str:
    """Hidden tests passed / collected."""
    tests = [test for check in _checks(result, "hidden-tests") for test in check.get("tests") or []]
    return f"{sum(t.get('outcome') == 'passed' for t in tests)}/{len(tests)}" if tests else "-"


BACKTICKED = re.compile(r"`([^`]+)`")
# Findings of the candidate-tests check that say why their tests did not (all) run.
STOPPED_RULES = ("tests-crashed", "tests-not-run", "no-tests", "tests-timeout")


def test_runner(result: dict[str, Any]) -> str:
    """How the candidate's own tests ran: the runner's command (from the check's `test-runner` finding),
    tests that ran and pass rate, and the first reason some did not run."""
    checks = _checks(result, "candidate_tests")
    if not checks:
        return "-"
    check = checks[0]
    if check.get("status") == "error":
        return f"error: {str(check.get('summary') or '')[:110]}"
    findings = check.get("findings") or []
    runner = next((BACKTICKED.search(str(f.get("message"))) for f in findings if f.get("rule") == "test-runner"), None)
    metrics = check.get("metrics") or {}
    parts = [runner.group(1) if runner else str(check.get("status", "?"))]
    if metrics.get("tests_found") is not None:
        parts.append(f"{int(metrics['tests_found'])} tests")
    if metrics.get("pass_rate") is not None:
        parts.append(f"{metrics['pass_rate']:.0f}% pass")
    if metrics.get("coverage_percent"):
        parts.append(f"{metrics['coverage_percent']:.0f}% coverage")
    stopped = next((f for f in findings if f.get("rule") in STOPPED_RULES), None)
    if stopped is not None:
        parts.append(f"{stopped['rule']}: {str(stopped.get('message'))[:90]}")
    return ", ".join(parts)


def dependency_summary(result: dict[str, Any]) -> tuple[str, str]:
    """(lock file / as-of, packages built from source) from the new grader's dependency record."""
    record = (result.get("submission") or {}).get("dependencies")
    if not record:
        return "-", "-"
    deps = record.get("lock_file") or record.get("declared_in") or "-"
    if record.get("as_of"):
        deps += f" / as of {record['as_of']}"
    built = [f"{p['name']} {p['version']}" for p in record.get("packages", []) if p.get("built_from_source")]
    return deps, ", ".join(built) or "-"


def app_summary(result: dict[str, Any]) -> str:
    """`yes` or why the app did not start (or why the submission was not graded)."""
    if result.get("status") == "error":
        return f"not graded: {str(result.get('error'))[:90]}"
    app = result.get("app") or {}
    if app.get("started"):
        return "yes"
    # The merged grader records an app that never ran as its own outcome (runtime categories count as 0).
    prefix = "did not run" if result.get("outcome") == "did_not_run" else "no"
    return f"{prefix}: {str(app.get('problem') or 'no reason recorded')[:140]}"


def row_for(label: str, project: Project, result: dict[str, Any]) -> Row:
    """One table row from a result.json."""
    overall = result.get("overall")
    categories = {c["id"]: c for c in result.get("categories") or []}
    testing = categories.get("testing", {}).get("score")
    deps, built = dependency_summary(result)
    return Row(
        grader=label, project=project.repo,
        commit=project.commit[:9], framework=project.framework,
        overall=f"{overall:.1f}" if isinstance(overall, int | float) else "-",
        band=band_of(overall if isinstance(overall, int | float) else None, result.get("bands") or {}),
        hidden=hidden_counts(result), testing=f"{testing:.0f}" if isinstance(testing, int | float) else "-",
        test_runner=test_runner(result), deps=deps, built=built, app=app_summary(result),
    )


def collect(out: Path, labels: list[str], projects: list[Project]) -> list[Row]:
    """Rows for every grader and project whose result.json exists."""
    rows = []
    for project in projects:
        for label in labels:
            result = _result_of(out / label, project)
            if result is not None:
                rows.append(row_for(label, project, result))
    return rows


def _result_of(directory: Path, project: Project) -> dict[str, Any] | None:
    """The result.json in `directory` whose submission came from the project's adapted copy (the grader
    names result folders after the submission, with characters such as `+` replaced)."""
    for path in sorted(directory.glob("*/result.json")):
        result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        source = (result.get("submission") or {}).get("source") or ""
        if Path(source).name == project.name or path.parent.name == project.name.replace("+", "-"):
            return result
    return None


HEADERS = ("grader", "project", "commit", "framework", "overall", "band", "hidden", "testing", "their tests",
           "lock / as-of", "built from source", "app started")


def markdown_table(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for row in rows:
        cells = [row.grader, row.project, f"`{row.commit}`", row.framework, row.overall, row.band, row.hidden,
                 row.testing, row.test_runner, row.deps, row.built, row.app]
        lines.append("| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |")
    return "\n".join(lines)


# --- command line -------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.validity", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkouts", nargs="*", type=Path, help="git checkouts named as in projects.toml")
    parser.add_argument("--out", type=Path, required=True, help="results go to OUT/<grader label>/<project>/")
    parser.add_argument("--grader", action="append", default=[], metavar="LABEL=PATH",
                        help="a grader to run: PATH goes on PYTHONPATH (`-`: the installed one); repeatable; "
                             "default new=<this repository>")
    parser.add_argument("--grader-python", default=sys.executable, help="the Python that runs the grader")
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--table-only", action="store_true", help="only tabulate results already in OUT")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Adapt, grade and tabulate (see the module docstring)."""
    args = parse_args(argv)
    projects = load_projects()
    graders = [tuple(g.split("=", 1)) for g in args.grader] or [("new", str(HERE.parent.parent))]
    chosen = []
    for checkout in args.checkouts:
        project = projects.get(checkout.resolve().name)
        if project is None:
            print(f"error: {checkout.name} is not in {PROJECTS.name}; add an entry first.", file=sys.stderr)
            return 2
        chosen.append((checkout.resolve(), project))
    if not args.table_only:
        with tempfile.TemporaryDirectory(prefix="validity-") as work:
            groups: dict[Path, list[Path]] = {}
            for checkout, project in chosen:
                copy = adapted_copy(checkout, project, Path(work))
                groups.setdefault(challenge_for(project, Path(work)), []).append(copy)
            for label, path in graders:
                for challenge, copies in groups.items():
                    grade(copies, challenge, label, path, args.grader_python, args.out.resolve(), args.jobs)
    selected = [project for _, project in chosen] or list(projects.values())
    table = markdown_table(collect(args.out, [label for label, _ in graders], selected))
    print(table)
    (args.out / "table.md").write_text(table + "\n", encoding="utf-8")
    return 0
