"""Challenge authoring: create a bundle from a skeleton, validate it end to end, export the candidate kit.

`new_challenge` writes a working bundle (`grader/templates/challenge/`). `validate_challenge` proves a
bundle: the manifest's schema, the layout, suites that import nothing from the candidate, every bundled
solution graded for real and landing in its expected outcome, and the starter failing the hidden suite.
`export_kit` writes the zip a candidate gets: the assignment, the public tests, the starter, the public
part of `challenge.toml` and a pinned grader requirement, and never `hidden/` or `solutions/`.
"""

from __future__ import annotations

import ast
import json
import re
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checks.formats import UNCATEGORIZED
from grader.challenge import (
    MANIFEST,
    ChallengeError,
    has_tests,
    hidden_tests_dir,
    load_challenge,
    public_tests_dir,
    solutions_dir,
    starter_dir,
)
from grader.distribution import DistributionError, candidate_wheel
from grader.models import HIDDEN_SUITE, PRACTICES, Challenge, GradeResult, SolutionExpectation
from grader.pipeline import grade_submission
from grader.sandbox.base import Sandbox

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates" / "challenge"
TEMPLATE_SUFFIX = ".tmpl"
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
KIT_WHEELS = "grader-dist"  # the grader's own wheel: the kit installs exactly the grader that grades it
KIT_GUIDE = "CHECKING.md"
# The runner's own packages: psycopg and redis let a suite read the grading's services from the grader's side.
ALLOWED_SUITE_IMPORTS = frozenset({"pytest", "_pytest", "httpx", "checks", "psycopg", "redis"})
# Candidates see what is asked of them and how it is scored: the practices asked for included.
PUBLIC_MANIFEST_KEYS = ("id", "title", "python", "app", "services", "limits", "scorecard", "scoring", "practices",
                        "docker")
PUBLIC_SCORING_KEYS = ("hidden_points", "rules")  # needed for the same scores; hiring bands stay private
JUNK_NAMES = frozenset({"__pycache__", ".DS_Store", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".venv"})
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

Log = Callable[[str], None]


class AuthoringError(ChallengeError):
    """A bundle cannot be created or exported as asked; the message says what to change."""


# --- challenge new ------------------------------------------------------------------------------------------


def new_challenge(challenge_id: str, parent: Path, title: str | None = None) -> Path:
    """Write a working skeleton bundle to `parent/challenge_id` and return its directory."""
    if not ID_PATTERN.fullmatch(challenge_id):
        raise AuthoringError(f"{challenge_id!r} is not a challenge id: use lower-case letters, digits and '-'")
    target = parent / challenge_id
    if target.exists() and any(target.iterdir()):
        raise AuthoringError(f"{target} already exists and is not empty; choose another id or --dir")
    values = {"__ID__": challenge_id, "__TITLE__": title or default_title(challenge_id)}
    for template in sorted(TEMPLATE_DIR.rglob(f"*{TEMPLATE_SUFFIX}")):
        relative = template.relative_to(TEMPLATE_DIR).as_posix().removesuffix(TEMPLATE_SUFFIX)
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(fill_template(template.read_text(encoding="utf-8"), values), encoding="utf-8")
    return target


def default_title(challenge_id: str) -> str:
    """`orders-api` -> `Orders API`."""
    words = [word.upper() if word in ("api", "http", "sql") else word.capitalize() for word in challenge_id.split("-")]
    return " ".join(words)


def fill_template(text: str, values: Mapping[str, str]) -> str:
    """Replace each placeholder (`__ID__`, `__TITLE__`) with its value."""
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


# --- challenge validate ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """One thing `validate` checked: what, whether it holds, and the evidence in one line."""

    subject: str
    ok: bool
    detail: str


@dataclass
class ValidationReport:
    """Every verdict of one validation; the bundle is valid when all of them hold."""

    target: str
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.verdicts) and all(v.ok for v in self.verdicts)


def validate_challenge(
    id_or_path: str,
    sandbox_for: Callable[[Challenge], Sandbox] | None,
    out_root: Path,
    log: Log = print,
    on_verdict: Callable[[Verdict], None] | None = None,
) -> ValidationReport:
    """Check a bundle; grade its solutions and starter with `sandbox_for(challenge)` unless that is None.

    `on_verdict` sees each verdict as soon as it is known (grading takes a while).
    """
    report = ValidationReport(id_or_path)

    def add(verdict: Verdict) -> None:
        report.verdicts.append(verdict)
        if on_verdict is not None:
            on_verdict(verdict)

    try:
        challenge = load_challenge(id_or_path)
    except ChallengeError as exc:
        add(Verdict("schema", False, str(exc)))
        return report
    add(Verdict("schema", True, f"{challenge.id}: challenge.toml and the bundle layout are valid"))
    for verdict in [*layout_verdicts(challenge), *import_verdicts(challenge)]:
        add(verdict)
    if sandbox_for is not None:
        sandbox = sandbox_for(challenge)
        overall: dict[str, float | None] = {}
        for name, expectation in sorted(challenge.solutions.items()):
            if (solutions_dir(challenge) / name).is_dir():
                verdict, overall[name] = grade_solution(challenge, name, expectation, sandbox, out_root, log)
                add(verdict)
        if challenge.flawed_margin is not None and overall:
            add(margin_verdict(challenge, overall))
        if starter_dir(challenge).is_dir():
            add(grade_starter(challenge, sandbox, out_root, log))
    return report


def layout_verdicts(challenge: Challenge) -> list[Verdict]:
    """Public tests, a starter, and a solution directory for every expectation (and vice versa)."""
    verdicts = [
        Verdict("public tests", has_tests(public_tests_dir(challenge)),
                "public/ holds test_*.py files" if has_tests(public_tests_dir(challenge))
                else "public/ has no test_*.py: candidates need public tests to check their work"),
        Verdict("starter present", starter_dir(challenge).is_dir(),
                "starter/ is present" if starter_dir(challenge).is_dir()
                else "starter/ is missing: the kit needs the candidate's starting point"),
    ]
    present = {p.name for p in solutions_dir(challenge).iterdir() if p.is_dir()} if solutions_dir(
        challenge).is_dir() else set()
    listed = set(challenge.solutions)
    verdicts += [Verdict(f"solution {name}", False, f"listed in {MANIFEST} but solutions/{name}/ is missing")
                 for name in sorted(listed - present)]
    verdicts += [Verdict(f"solution {name}", False, f"solutions/{name}/ has no [solutions.{name}] in {MANIFEST}")
                 for name in sorted(present - listed) if not name.startswith((".", "_"))]
    if not any(e.kind == "reference" for e in challenge.solutions.values()):
        verdicts.append(Verdict("solutions", False, "no reference solution: nothing proves the hidden suite passable"))
    return verdicts


def import_verdicts(challenge: Challenge) -> list[Verdict]:
    """The hidden and public suites import only the stdlib, the runner's packages (pytest, httpx, psycopg,
    redis), `checks` and their own modules."""
    verdicts = []
    for label, directory in (("hidden", hidden_tests_dir(challenge)), ("public", public_tests_dir(challenge))):
        if not directory.is_dir():
            continue
        problems = foreign_imports(directory)
        detail = (f"{label}/ imports only the standard library, the runner's packages and checks" if not problems
                  else f"{label}/ must not import the candidate's code: " + "; ".join(problems[:5]))
        verdicts.append(Verdict(f"{label} imports", not problems, detail))
    return verdicts


def foreign_imports(directory: Path) -> list[str]:
    """`file:line: import NAME` for each import in `directory` that is not allowed, and each dynamic import."""
    local = {p.stem for p in directory.rglob("*.py")} | {p.name for p in directory.rglob("*") if p.is_dir()}
    problems = []
    for path in sorted(directory.rglob("*.py")):
        where = path.relative_to(directory).as_posix()
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=where)
        except (SyntaxError, UnicodeDecodeError, ValueError) as exc:
            problems.append(f"{where}: cannot be parsed ({exc})")
            continue
        for node in ast.walk(tree):
            problems += [f"{where}:{getattr(node, 'lineno', 0)}: {what}" for what in _import_problems(node, local)]
    return problems


def _import_problems(node: ast.AST, local: set[str]) -> Iterator[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        names = [] if node.level else [node.module or ""]
    elif isinstance(node, ast.Call) and _is_dynamic_import(node.func):
        yield "dynamic import (importlib.import_module/__import__) is not allowed"
        return
    else:
        return
    for name in names:
        top = name.split(".")[0]
        if top not in sys.stdlib_module_names and top not in ALLOWED_SUITE_IMPORTS and top not in local:
            yield f"import {name}"


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def grade_solution(
    challenge: Challenge, name: str, expectation: SolutionExpectation, sandbox: Sandbox, out_root: Path, log: Log
) -> tuple[Verdict, float | None]:
    """Grade `solutions/<name>` for real and compare it with its expectation; (verdict, overall score)."""
    result = grade_submission(solutions_dir(challenge) / name, challenge, sandbox, out_root / "solutions", log=log)
    return solution_verdict(name, expectation, result), result.overall


def margin_verdict(challenge: Challenge, overall: Mapping[str, float | None]) -> Verdict:
    """Every graded flawed solution scores at least `flawed_margin` below the lowest graded reference."""
    margin = challenge.flawed_margin or 0.0
    kinds = {name: challenge.solutions[name].kind for name in overall}
    references = [score for name, score in overall.items() if kinds[name] == "reference" and score is not None]
    if not references:
        return Verdict("flawed margin", False, "no reference solution was graded, so the margin cannot be checked")
    ceiling = min(references) - margin
    too_close = [f"{name} {score:g}" for name, score in sorted(overall.items())
                 if kinds[name] == "flawed" and (score is None or score > ceiling)]
    detail = f"every flawed solution at or below {ceiling:g} (lowest reference {min(references):g} - {margin:g})"
    if too_close:
        return Verdict("flawed margin", False, f"{detail}; too close: {', '.join(too_close)}")
    return Verdict("flawed margin", True, detail)


def weakest_problems(result: GradeResult, expectation: SolutionExpectation) -> list[str]:
    """The flaw's category must be the lowest-scoring evaluated category (a tie counts)."""
    target = expectation.weakest_category
    if target is None:
        return []
    scores = {c.id: c.score for c in result.categories if c.evaluated and c.score is not None}
    if target not in scores:
        return [f"its target category {target} was not evaluated"]
    lowest = min(scores.values())
    if scores[target] > lowest:
        weakest = ", ".join(f"{cid} {score:g}" for cid, score in scores.items() if score == lowest)
        return [f"its weakest category is {weakest}, not {target} ({scores[target]:g})"]
    return []


def solution_verdict(name: str, expectation: SolutionExpectation, result: GradeResult) -> Verdict:
    """Whether a graded solution landed where `challenge.toml` says: framework, failures, score band."""
    subject = f"solution {name}"
    if result.status != "graded":
        return Verdict(subject, False, f"not graded: {result.error}")
    framework = result.submission.framework if result.submission else None
    failed = failed_hidden_tests(result)
    expected = set(expectation.expected_failures)
    problems = []
    if framework != expectation.framework:
        problems.append(f"detected framework {framework}, expected {expectation.framework}")
    if failed - expected:
        problems.append(f"fails {', '.join(sorted(failed - expected))} (expected to pass)")
    if expected - failed:
        problems.append(f"passes {', '.join(sorted(expected - failed))} (expected to fail)")
    problems += band_problems(result.overall, expectation)
    problems += weakest_problems(result, expectation)
    problems += uncategorized_problems(result)
    passed, total = result.hidden_totals()
    summary = f"{expectation.kind}, overall {_score(result.overall)}{band_text(expectation)}, hidden {passed}/{total}"
    return Verdict(subject, not problems, summary + ("" if not problems else ": " + "; ".join(problems)))


def grade_starter(challenge: Challenge, sandbox: Sandbox, out_root: Path, log: Log) -> Verdict:
    """Grade `starter/`: it must be gradeable and fail at least one hidden test."""
    result = grade_submission(starter_dir(challenge), challenge, sandbox, out_root / "starter", log=log)
    return starter_verdict(result)


def starter_verdict(result: GradeResult) -> Verdict:
    """A starter that passed the whole hidden suite would hand candidates the answer."""
    if result.status != "graded":
        return Verdict("starter", False, f"not graded: {result.error}")
    passed, total = result.hidden_totals()
    started = "" if result.app is None or result.app.started else f"; its app {result.app.problem}"
    detail = f"overall {_score(result.overall)}, hidden {passed}/{total}{started}"
    if total and passed < total:
        return Verdict("starter", True, f"fails the hidden suite as it should: {detail}")
    return Verdict("starter", False, f"passes the whole hidden suite: {detail}; strip it down to a skeleton")


def failed_hidden_tests(result: GradeResult) -> set[str]:
    """Names of the hidden tests that failed or errored."""
    return {test.name for test in result.failed_tests(HIDDEN_SUITE)}


def band_problems(overall: float | None, expectation: SolutionExpectation) -> list[str]:
    """What is wrong with `overall` against the expectation's optional band."""
    low, high = expectation.min_overall, expectation.max_overall
    if low is None and high is None:
        return []
    if overall is None:
        return ["no overall score, but a score band is expected"]
    if low is not None and overall < low:
        return [f"overall {overall:g} is below min_overall {low:g}"]
    if high is not None and overall > high:
        return [f"overall {overall:g} is above max_overall {high:g}"]
    return []


def band_text(expectation: SolutionExpectation) -> str:
    """` (band 60-80)`, ` (band >= 60)` or nothing."""
    low, high = expectation.min_overall, expectation.max_overall
    if low is None and high is None:
        return ""
    if high is None:
        return f" (band >= {low:g})"
    return f" (band {0 if low is None else low:g}-{high:g})"


def uncategorized_problems(result: GradeResult) -> list[str]:
    """Hidden tests with no valid category marker are never scored: an authoring error."""
    return [f"{len(c.tests)} hidden test(s) have no valid @pytest.mark.category"
            for c in result.checks if c.id == f"{HIDDEN_SUITE}/{UNCATEGORIZED}"]


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"


# --- challenge export ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kit:
    """An exported candidate kit: where it was written and what it holds (paths inside the top folder)."""

    path: Path
    top: str
    files: tuple[str, ...]


def export_kit(id_or_path: str, out_file: Path) -> Kit:
    """Write the candidate kit of a bundle to `out_file` (a zip with one top folder named after the id)."""
    challenge = load_challenge(id_or_path)
    files = kit_files(challenge)
    leaks = leaked_names(files, hidden_only_test_names(challenge))
    if leaks:
        raise AuthoringError("the kit would reveal hidden test names: " + "; ".join(leaks[:5]))
    write_zip(out_file, challenge.id, files)
    return Kit(out_file, challenge.id, tuple(sorted(files)))


def kit_files(challenge: Challenge) -> dict[str, bytes]:
    """Every file of the kit by its path inside the kit: never anything from hidden/ or solutions/."""
    root = Path(challenge.root)
    if not has_tests(public_tests_dir(challenge)):
        raise AuthoringError(f"{root}: public/ has no test_*.py; candidates need public tests")
    if not starter_dir(challenge).is_dir():
        raise AuthoringError(f"{root}: starter/ is missing; candidates need a starting point")
    files = {
        "README.md": (root / "README.md").read_bytes(),
        MANIFEST: public_manifest(root / MANIFEST).encode(),
    }
    with tempfile.TemporaryDirectory(prefix="grader-kit-") as scratch:
        try:
            wheel = candidate_wheel(Path(scratch))
        except DistributionError as exc:
            raise AuthoringError(str(exc)) from exc
        files[f"{KIT_WHEELS}/{wheel.name}"] = wheel.read_bytes()
    files[KIT_GUIDE] = kit_guide(challenge, wheel.name).encode()
    for folder in ("public", "starter"):
        for relative, data in tree_files(root / folder):
            files[f"{folder}/{relative}"] = data
    return files


def tree_files(directory: Path) -> Iterator[tuple[str, bytes]]:
    """(relative posix path, bytes) of the regular files under `directory`, junk skipped, links refused."""
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if any(part in JUNK_NAMES for part in relative.parts) or path.suffix == ".pyc":
            continue
        if path.is_symlink():
            raise AuthoringError(f"{path} is a symbolic link; the kit holds regular files only")
        if path.is_file():
            yield relative.as_posix(), path.read_bytes()


def public_manifest(manifest: Path) -> str:
    """The candidate's `challenge.toml`: the app contract, services, limits, scorecard, scoring rules and the
    practices asked for.

    Left out: `[solutions]` (it names hidden tests) and the hiring bands.
    """
    data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    public: dict[str, Any] = {key: data[key] for key in PUBLIC_MANIFEST_KEYS if key in data}
    if isinstance(public.get("scoring"), dict):
        public["scoring"] = {k: v for k, v in public["scoring"].items() if k in PUBLIC_SCORING_KEYS}
        if not public["scoring"]:
            del public["scoring"]
    header = ("# The public part of this challenge's manifest, for `grader check`: how your app is run\n"
              "# (port, health path, environment, limits) and how the checks are scored.\n\n")
    text = header + toml_dumps(public)
    Challenge.model_validate(tomllib.loads(text))  # what we hand out must load
    return text


def kit_guide(challenge: Challenge, wheel: str) -> str:
    """`CHECKING.md`: how a candidate installs the kit's own grader and runs the public checks."""
    return f"""# Checking your work: {challenge.title}

The assignment is in `README.md`; `starter/` is a place to begin. Before you submit, run the public tests
(`public/`) and the static checks against your code, with the grader the real grading uses: its wheel is
in `{KIT_WHEELS}/`, and it pins the exact versions of every tool that scores your code. From this folder:

```sh
python3 -m venv .grader-venv
.grader-venv/bin/pip install {KIT_WHEELS}/{wheel}
.grader-venv/bin/grader check starter --challenge .
```

On Windows, use `.grader-venv\\Scripts\\pip` and `.grader-venv\\Scripts\\grader`; the checks then need
Docker Desktop running (the local backend runs on Linux and macOS).
{services_note(challenge)}
Replace `starter` with the directory of your project. `grader check` starts your app the way the real
grading does (see README.md), runs the public tests against it over HTTP, runs the type checker, the
linter, the complexity and practices checks and your own tests, and prints a score per category with the
fixes worth the most points. It uses Docker when it is available and otherwise runs your app as a plain
local process. The real grading also runs a larger hidden test suite, so a full public score is a good
sign, not a guarantee.

{practices_paragraph(challenge)}
"""


def services_note(challenge: Challenge) -> str:
    """What a candidate without Docker needs for a challenge with services: a server of their own."""
    if not challenge.services:
        return ""
    kinds = ", ".join(f"{kind} {spec.version}" for kind, spec in sorted(challenge.services.items()))
    examples = {"postgres": "postgres=postgresql://user:password@localhost:5432/postgres",
                "redis": "redis=redis://localhost:6379/15"}
    flags = " ".join(f"--service-url {examples[kind]}" for kind in sorted(challenge.services) if kind in examples)
    needs = {"postgres": "a PostgreSQL role that may create databases", "redis": "a Redis database it may empty"}
    wanted = "; ".join(needs[kind] for kind in sorted(challenge.services) if kind in needs)
    return f"""
This challenge runs your app with {kinds}. With Docker the grader starts fresh servers itself; without
Docker, name servers you run ({wanted}):

```sh
.grader-venv/bin/grader check starter --challenge . {flags}
```
"""


def practices_paragraph(challenge: Challenge) -> str:
    """What `CHECKING.md` says about the repository practices this assignment asks for."""
    asked = challenge.practices.asked
    if not asked:
        return ("This assignment asks for none of the repository practices the grader can check (migrations, a "
                "Dockerfile, CI, ...): what it reports about them is for information and costs nothing.")
    listed = "\n".join(f"- `{name}`: {PRACTICES[name]}" for name in asked)
    return ("The repository practices this assignment asks for, and that are scored:\n\n" + listed + "\n\n"
            "What the grader reports about any other practice is for information and costs nothing.")


def hidden_only_test_names(challenge: Challenge) -> set[str]:
    """Test function names of the hidden suite that the public suite does not also use."""
    return defined_test_names(hidden_tests_dir(challenge)) - defined_test_names(public_tests_dir(challenge))


def defined_test_names(directory: Path) -> set[str]:
    """Names of the `test*` functions defined in the `.py` files under `directory`."""
    names: set[str] = set()
    if not directory.is_dir():
        return names
    for path in directory.rglob("*.py"):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        names |= {node.name for node in ast.walk(tree)
                  if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")}
    return names


def leaked_names(files: Mapping[str, bytes], secrets: set[str]) -> list[str]:
    """`path: name` for each secret name found in a file's text."""
    leaks = []
    for path, data in sorted(files.items()):
        text = data.decode("utf-8", errors="replace")
        leaks += [f"{path}: {name}" for name in sorted(secrets) if name in text]
    return leaks


def write_zip(out_file: Path, top: str, files: Mapping[str, bytes]) -> None:
    """A reproducible zip (sorted members, fixed dates) written atomically."""
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_name(out_file.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for relative in sorted(files):
            info = zipfile.ZipInfo(f"{top}/{relative}", date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[relative])
    tmp.replace(out_file)


# --- a TOML writer for the manifest subset (tables, strings, numbers, booleans, lists of scalars) ------------


def toml_dumps(data: Mapping[str, Any]) -> str:
    """TOML text for `data`; `tomllib.loads(toml_dumps(d)) == d` for the types a manifest uses."""
    lines: list[str] = []
    _emit_table(data, [], lines)
    return "\n".join(lines).strip("\n") + "\n"


def _emit_table(table: Mapping[str, Any], path: list[str], lines: list[str]) -> None:
    scalars = [(k, v) for k, v in table.items() if not isinstance(v, dict)]
    tables = [(k, v) for k, v in table.items() if isinstance(v, dict)]
    if path and (scalars or not tables):
        lines += ["", "[" + ".".join(_toml_key(part) for part in path) + "]"]
    lines += [f"{_toml_key(key)} = {_toml_value(value)}" for key, value in scalars]
    for key, value in tables:
        _emit_table(value, [*path, key], lines)


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise AuthoringError(f"cannot write {type(value).__name__} values to challenge.toml")
