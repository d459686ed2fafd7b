"""Data records shared across the grader: challenge bundle, findings, check results and the result file.

Everything here is plain pydantic so it validates on load and serialises to the published JSON Schema.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from checks.formats import CATEGORY_IDS as CATEGORY_IDS  # one list for the suite's plugin (in the sandbox) and the host

SCHEMA_VERSION = "1.0"

# What each scorecard category is called on a page or a terminal (ids in checks/formats.py).
CATEGORY_TITLES: dict[str, str] = {
    "python_fundamentals": "Python fundamentals",
    "api_design": "API design",
    "databases": "Databases",
    "testing": "Testing",
    "infrastructure": "Infrastructure",
    "observability": "Observability",
}

# The challenge suite's results are `<suite>/<category>` checks: `grade` runs the hidden suite, `grader check`
# the public one the same way. Only these checks hold test verdicts.
SuiteId = Literal["hidden-tests", "public-tests"]
HIDDEN_SUITE: SuiteId = "hidden-tests"
PUBLIC_SUITE: SuiteId = "public-tests"
SUITE_IDS: tuple[SuiteId, ...] = (HIDDEN_SUITE, PUBLIC_SUITE)

DEFAULT_WEIGHTS: dict[str, int] = {
    "python_fundamentals": 20,
    "api_design": 20,
    "databases": 20,
    "testing": 15,
    "infrastructure": 15,
    "observability": 10,
}


# Repository practices an assignment may ask for (`[practices] asked` in challenge.toml), with what each
# one means. Only the practices a challenge asks for are charged; see grader/rules.py for their rules.
PRACTICES: dict[str, str] = {
    "migrations": "schema migrations committed (Alembic, Flask-Migrate, Django, SQL files)",
    "dockerfile": "a Dockerfile, free of Dockerfile lint issues",
    "ci": "a CI configuration that runs the tests",
    "env_example": "an .env.example documenting the configuration",
    "logging": "logging configured (basicConfig/dictConfig, handlers, structlog, Django LOGGING, ...)",
    "readme": "a README that says how to install and run the service",
    "pinned_dependencies": "dependencies pinned to exact versions, or a lockfile",
}


def category_title(category_id: str) -> str:
    """`api_design` -> `API design`; an id not in the scorecard -> its words, capitalised."""
    return CATEGORY_TITLES.get(category_id, category_id.replace("_", " ").capitalize())


class Strict(BaseModel):
    """Base for records read from files a person writes: unknown keys are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


# --- challenge bundle (challenge.toml) -------------------------------------------------------------


MAX_REPLICAS = 4  # each replica is a whole app process with the challenge's limits, on a 2-core machine


class AppContract(Strict):
    """How the candidate's app must behave to be graded: where it listens and what it is given."""

    port: int = Field(8000, ge=1024, le=65535, description="Port the app listens on inside the sandbox.")
    health_path: str = Field("/health", description="Path that answers 200 once the app is ready.")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment variables for the app.")
    replicas: int = Field(1, description="App processes started on the same databases and services, behind the "
                          f"runner's round-robin proxy (1 to {MAX_REPLICAS}).")

    @field_validator("replicas")
    @classmethod
    def _replicas_in_range(cls, value: int) -> int:
        if not 1 <= value <= MAX_REPLICAS:
            raise ValueError(f"must be between 1 and {MAX_REPLICAS} (each replica is a whole app process with the "
                             "challenge's limits); set `replicas` in [app] to a number in that range")
        return value

    @field_validator("health_path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value


class Limits(Strict):
    """Resource and time limits applied to every grading of this challenge."""

    memory_mb: int = Field(512, ge=64, description="Memory limit of the app container.")
    cpus: float = Field(1.0, gt=0, le=64)
    pids: int = Field(128, ge=16, description="Maximum number of processes/threads of the app.")
    startup_timeout_s: float = Field(60, gt=0, description="How long the app may take to answer its health path.")
    test_timeout_s: float = Field(180, gt=0, description="Wall time for the hidden suite.")
    data_mb: int = Field(64, ge=1, description="Size of the writable data dir.")
    log_bytes: int = Field(1_000_000, ge=1024, description="Cap on the app output kept for the report.")


class ServiceSpec(Strict):
    """A service the grader starts beside the app for every grading (a fresh, empty one each time)."""

    version: str = Field(
        pattern=r"^\d+(\.\d+)?$",
        description="Major version (e.g. \"15\" for PostgreSQL, \"7\" for Redis); offline images have Debian's.",
    )


class SolutionExpectation(Strict):
    """What the grader's own tests expect when grading one bundled solution."""

    kind: Literal["reference", "flawed"]
    framework: Literal["fastapi", "flask", "django"]
    expected_failures: list[str] = Field(
        default_factory=list, description="Hidden test names (function names) this solution must fail."
    )
    min_overall: float | None = Field(None, ge=0, le=100, description="Lowest overall score it may get.")
    max_overall: float | None = Field(None, ge=0, le=100, description="Highest overall score it may get.")
    weakest_category: str | None = Field(
        None, description="The category a flawed solution's flaw targets: it must be its lowest-scoring one."
    )
    note: str = ""

    @field_validator("weakest_category")
    @classmethod
    def _known_category(cls, value: str | None) -> str | None:
        if value is not None and value not in CATEGORY_IDS:
            raise ValueError(f"unknown category {value!r}; use one of {list(CATEGORY_IDS)}")
        return value


class RuleOverride(Strict):
    """A challenge's change to one default scoring rule (see docs/scoring.md)."""

    points: float | None = Field(None, ge=0)
    good: float | None = None
    bad: float | None = None


class Bands(Strict):
    """Overall-score thresholds for the hiring band shown in reports."""

    strong_hire: float = 85
    hire: float = 70
    lean_no: float = 50


class ScoringConfig(Strict):
    """How metrics and hidden tests become points; every field has a documented default."""

    hidden_points: dict[str, float] = Field(
        default_factory=dict, description="Points the hidden tests of a category are worth (defaults in scoring)."
    )
    rules: dict[str, RuleOverride] = Field(default_factory=dict)
    bands: Bands = Field(default_factory=Bands)


class Practices(Strict):
    """`[practices]`: the repository practices the assignment (README.md) asks for, and what each is worth.

    A practice in `asked` is scored by its rules (docs/scoring.md); a practice left out is reported for
    information and costs nothing, neither points lost nor points possible. `points` changes what an asked
    practice is worth in total (its default is the sum of its rules' points).
    """

    asked: list[str] = Field(
        default_factory=list, description=f"Practices the assignment asks for, of {sorted(PRACTICES)}."
    )
    points: dict[str, float] = Field(
        default_factory=dict, description="Points an asked practice is worth, when not its rules' default."
    )

    @field_validator("asked")
    @classmethod
    def _known_practices(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in PRACTICES]
        if unknown:
            raise ValueError(f"unknown practices {unknown}; use some of {sorted(PRACTICES)}")
        if len(set(value)) != len(value):
            raise ValueError("a practice is listed twice")
        return value

    @field_validator("points")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        negative = sorted(name for name, points in value.items() if points < 0)
        if negative:
            raise ValueError(f"points must be >= 0 (see {negative})")
        return value

    @model_validator(mode="after")
    def _points_only_for_asked(self) -> Practices:
        stray = sorted(set(self.points) - set(self.asked))
        if stray:
            raise ValueError(f"points are given for {stray}, which `asked` does not list: add them to `asked` "
                             "or remove their points")
        return self


class SimilaritySettings(Strict):
    """`[similarity]`: how a cohort's submissions are compared (docs/similarity.md): a reason to look, not a verdict."""

    threshold: float = Field(0.5, gt=0, le=1, description="A pair is flagged when either one has this share of "
                             "its own code (fingerprints) found in the other.")
    k: int = Field(20, ge=5, le=200, description="Tokens per k-gram: shorter shared runs are never evidence.")
    window: int = Field(8, ge=1, le=100, description="Winnowing window: any shared run of k + window - 1 "
                        "tokens is always found.")
    common_share: float = Field(0.5, gt=0, le=1, description="A fingerprint found in more than this share of "
                                "the cohort (and in more than 3 submissions) is common code, not evidence.")
    min_matches: int = Field(8, ge=1, description="Fewest shared fingerprints before a pair can be flagged.")
    ignore: list[str] = Field(default_factory=list, description="Extra glob patterns of paths (relative to "
                              "the submission) that are not evidence, beside the starter and framework boilerplate.")


class DockerSettings(Strict):
    """`[docker]`: what the grader does with the candidate's own Dockerfile (docs/scoring.md, "The candidate's
    Dockerfile")."""

    build: bool = Field(False, description="Build the submission's Dockerfile on the engine (RUN steps without "
                        "network) and check that its container starts and answers the health path: an "
                        "infrastructure finding, never points. Skipped where the base image is unavailable.")


class Challenge(Strict):
    """A validated challenge bundle. `root` is where the bundle lives on disk (not read from the toml)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    python: str = Field("3.11", pattern=r"^3\.\d+$")
    app: AppContract = Field(default_factory=AppContract)  # type: ignore[arg-type]
    limits: Limits = Field(default_factory=Limits)  # type: ignore[arg-type]
    scorecard: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)
    practices: Practices = Field(default_factory=Practices)
    solutions: dict[str, SolutionExpectation] = Field(default_factory=dict)
    services: dict[Literal["postgres", "redis"], ServiceSpec] = Field(
        default_factory=dict,
        description="Services started per grading beside the app (DATABASE_URL, REDIS_URL, ...).",
    )
    similarity: SimilaritySettings = Field(default_factory=SimilaritySettings)  # type: ignore[arg-type]
    docker: DockerSettings = Field(default_factory=DockerSettings)  # type: ignore[arg-type]
    flawed_margin: float | None = Field(
        None, ge=0, le=100,
        description="Every flawed solution must score at least this many points below the lowest reference.",
    )
    root: str = Field("", exclude=True)

    @field_validator("scorecard")
    @classmethod
    def _known_categories(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(CATEGORY_IDS))
        if unknown:
            raise ValueError(f"unknown categories {unknown}; use {list(CATEGORY_IDS)}")
        if any(weight < 0 for weight in value.values()) or sum(value.values()) <= 0:
            raise ValueError("weights must be >= 0 and add up to more than 0")
        return value


# --- findings and checks ---------------------------------------------------------------------------


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class Finding(BaseModel):
    """One piece of evidence: what was seen, where, and which scorecard category it speaks to."""

    message: str
    file: str | None = None
    line: int | None = None
    severity: Severity = Severity.WARNING
    rule: str | None = None
    category: str | None = None


class CheckStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # the check could not run: not the candidate's failure
    SKIPPED = "skipped"


class TestCase(BaseModel):
    """One hidden test's verdict."""

    __test__: ClassVar[bool] = False  # not a pytest test class, despite the name

    name: str
    nodeid: str
    category: str
    outcome: Literal["passed", "failed", "error", "skipped"]
    duration_s: float = 0.0
    message: str | None = None
    weight: float = Field(default=1.0, gt=0, description="Share of its category's hidden points (relative).")

    @property
    def failed(self) -> bool:
        """Failed or errored: the test ran and did not pass."""
        return self.outcome in ("failed", "error")

    @property
    def ran(self) -> bool:
        """Passed, failed or errored: a skipped test was not run."""
        return self.outcome != "skipped"


def passed_and_run(tests: Iterable[TestCase]) -> tuple[int, int]:
    """(passed, run) over `tests`: a skipped test was not run and counts for nothing."""
    run = [test for test in tests if test.outcome != "skipped"]
    return sum(test.outcome == "passed" for test in run), len(run)


def weights_passed_and_run(tests: Iterable[TestCase]) -> tuple[float, float]:
    """(weight passed, weight run) over `tests`: what the suite scores a category by."""
    run = [test for test in tests if test.outcome != "skipped"]
    return sum(test.weight for test in run if test.outcome == "passed"), sum(test.weight for test in run)


class CheckRun(BaseModel):
    """A check's raw outcome before scoring: metrics and findings, or why the tool could not run.

    `status` is `ok` when the tool ran (whatever it found) and `error` when it crashed or timed out:
    the candidate is never blamed for a check that could not run.
    """

    id: str
    status: Literal["ok", "error"]
    error: str | None = None
    duration_s: float = 0.0
    metrics: dict[str, float] = Field(default_factory=dict)
    findings: list[Finding] = Field(default_factory=list)


class Deduction(BaseModel):
    """Points a category lost, and the evidence that cost them."""

    rule: str = Field(description="Scoring rule id, e.g. 'typecheck.errors_per_100_lines' or a hidden test name.")
    category: str
    points: float = Field(ge=0, description="Points lost, on the check's max_score scale.")
    reason: str
    metric: str | None = None
    value: float | None = None
    good: float | None = Field(default=None, description="Metric value that earns full points.")
    bad: float | None = Field(default=None, description="Metric value that earns no points.")
    evidence: list[Finding] = Field(default_factory=list)


class CheckResult(BaseModel):
    """The scored outcome of one check for one category."""

    id: str
    category: str
    status: CheckStatus
    score: float = Field(ge=0)
    max_score: float = Field(ge=0)
    summary: str = ""
    duration_s: float | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    findings: list[Finding] = Field(default_factory=list)
    deductions: list[Deduction] = Field(default_factory=list)
    tests: list[TestCase] = Field(default_factory=list)

    @property
    def suite(self) -> SuiteId | None:
        """`hidden-tests` or `public-tests` when this is a result of the challenge suite, else None."""
        head = self.id.split("/", 1)[0]
        if head == HIDDEN_SUITE:
            return HIDDEN_SUITE
        if head == PUBLIC_SUITE:
            return PUBLIC_SUITE
        return None


class ReviewNotes(BaseModel):
    """Deterministic notes for the reviewer, built from the findings by templates."""

    strengths: list[str] = Field(default_factory=list)
    concerns: list[str] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list)


# --- result.json -----------------------------------------------------------------------------------


class PackageRecord(BaseModel):
    """One package of the candidate's environment and what decided its version."""

    name: str
    version: str
    origin: Literal["lock", "pin", "resolved", "tool"] = Field(
        description="lock: the candidate's lock file; pin: an exact pin they wrote; resolved: chosen by the "
        "resolver as of the submission's date; tool: the grader's test tool, added for their tests."
    )
    group: Literal["main", "test"] = Field(description="main: the app's dependencies; test: only for their tests.")
    built_from_source: bool = Field(
        default=False, description="Built from its source archive in a no-network container (no wheel existed)."
    )


class DependencyRecord(BaseModel):
    """How the environment's exact versions were decided."""

    declared_in: str | None = Field(default=None, description="Where the requirements were read from.")
    lock_file: str | None = Field(default=None, description="The lock file whose versions were installed.")
    as_of: str | None = Field(default=None, description="Cutoff date of the resolution of unlocked versions.")
    as_of_source: str = Field(default="none", description="What gave the cutoff: the HEAD commit date, ...")
    resolver: str = ""
    packages: list[PackageRecord] = Field(default_factory=list)


class SubmissionInfo(BaseModel):
    name: str
    source: str
    source_kind: Literal["directory", "zip", "tar", "git"]
    content_hash: str
    file_count: int
    framework: str | None
    start_command: str | None
    start_command_source: str | None
    worker_command: str | None = Field(
        default=None, description="The background worker run beside the app, as the submission declares it."
    )
    worker_command_source: str | None = Field(default=None, description="Where it was declared: pyproject or procfile.")
    requirements: list[str] = Field(default_factory=list)
    project_root: str = Field(default=".", description="The Python project's folder in the submission.")
    dependencies: DependencyRecord | None = None
    findings: list[Finding] = Field(default_factory=list)


class SandboxInfo(BaseModel):
    backend: Literal["docker", "local"]
    isolated: bool
    image: str | None = None
    image_id: str | None = None
    base_image: str | None = None
    environment_hash: str | None = None
    environment_reused: bool = False
    limits: Limits
    services: dict[str, str] = Field(
        default_factory=dict, description="Services started beside the app: kind -> where it came from."
    )
    warnings: list[str] = Field(default_factory=list)


class WorkerRun(BaseModel):
    """What happened to the submission's worker process, run beside the app and stopped with it."""

    command: str
    exit_code: int | None = Field(
        default=None, description="Set when the worker ended by itself while the app ran; null when it was stopped."
    )
    oom_killed: bool = False
    log_tail: str = ""
    problem: str | None = Field(default=None, description="Why the worker ended early, when it did.")


class AppRun(BaseModel):
    """What happened to the candidate's app process."""

    started: bool
    start_seconds: float | None = None
    exit_code: int | None = None
    oom_killed: bool = False
    log_tail: str = ""
    log_truncated: bool = False
    log_cap_bytes: int | None = Field(
        default=None, description="Most bytes of the app's output the sandbox keeps; older output is dropped past it."
    )
    limits_hit: list[Literal["memory", "processes", "startup_timeout", "test_timeout", "output", "disk"]] = Field(
        default_factory=list, description="Limits the app ran into, as the sandbox observed them."
    )
    problem: str | None = None
    worker: WorkerRun | None = Field(default=None, description="The declared worker process, when there is one.")
    replicas: int | None = Field(
        default=None, exclude_if=lambda value: value is None,
        description="How many app processes ran behind the runner's proxy; absent with one (`[app] replicas`).",
    )


class CategoryScore(BaseModel):
    id: str
    weight: float
    score: float | None = Field(
        None, ge=0, le=100, description="0-100, or null when nothing measured it; 0 when it counts as 0."
    )
    evaluated: bool
    counts_as_zero: bool = Field(
        default=False,
        description="Not measured because the app never became ready, and counted as 0 in `overall`: the "
        "challenge's suite has tests in this category and none could run.",
    )
    checks: list[str] = Field(default_factory=list)
    note: str = ""


class Timings(BaseModel):
    """Seconds per step. `environment_s` is the whole environment step; `resolve_s`, `download_s` and `build_s`
    are its parts (0.0 when a wheel set or environment was reused; waiting for another grading's lock on the
    same set counts in `environment_s` only)."""

    intake_s: float = 0.0
    environment_s: float = 0.0
    resolve_s: float = Field(default=0.0, description="Resolving the dependencies' exact versions (0: reused).")
    download_s: float = Field(default=0.0, description="Fetching and linking their wheels (0: reused).")
    build_s: float = Field(default=0.0, description="Building or finding the runner and candidate environments.")
    static_s: float = 0.0
    app_start_s: float = 0.0
    tests_s: float = 0.0
    total_s: float = 0.0


class GradeResult(BaseModel):
    """The machine-readable result of grading one submission (`result.json`)."""

    schema_version: str = SCHEMA_VERSION
    grader_version: str
    tools: dict[str, str] = Field(
        default_factory=dict, description="Versions of the tools that produced the scores (mypy, ruff, ...)."
    )
    tools_lock: str | None = Field(default=None, description="sha256 of the grader's tool lock (pylock.tools.toml).")
    graded_at: str
    status: Literal["graded", "error"]
    error: str | None = None
    outcome: Literal["ran", "did_not_run"] | None = Field(
        default=None,
        description="For a graded submission: `ran` when the app answered its health path and the suite ran "
        "against it; `did_not_run` when it never did (no start command, a crash, a timeout): `app.problem` "
        "says why, and the categories the suite measures count as 0.",
    )
    challenge: dict[str, str]
    submission: SubmissionInfo | None
    sandbox: SandboxInfo | None
    app: AppRun | None = None
    checks: list[CheckResult] = Field(default_factory=list)
    categories: list[CategoryScore] = Field(default_factory=list)
    overall: float | None = Field(None, ge=0, le=100)
    evaluated_weight: float = Field(0, ge=0, le=100, description="Share of scorecard weight that was measured.")
    bands: Bands | None = Field(default=None, description="The challenge's hiring-band thresholds the report applies.")
    review: ReviewNotes | None = None
    timings: Timings = Field(default_factory=Timings)

    @property
    def did_not_run(self) -> bool:
        """Graded, but the app never became ready (results written before `outcome` existed: `app.started`)."""
        if self.status != "graded":
            return False
        if self.outcome is not None:
            return self.outcome == "did_not_run"
        return self.app is not None and not self.app.started

    def suite_tests(self, suite: SuiteId | None = None) -> list[TestCase]:
        """The verdicts of the challenge suite's tests, skipped ones included, in check order.

        `suite` picks the hidden or the public suite; None takes both (a result holds only one).
        """
        return [test for check in self.checks if check.suite is not None and suite in (None, check.suite)
                for test in check.tests]

    def test_totals(self, suite: SuiteId | None = None) -> tuple[int, int]:
        """(passed, run) over the suite's tests (`suite` as in `suite_tests`); skipped tests are not run."""
        return passed_and_run(self.suite_tests(suite))

    def hidden_totals(self) -> tuple[int, int]:
        """(passed, run) over the hidden tests."""
        return self.test_totals(HIDDEN_SUITE)

    def failed_tests(self, suite: SuiteId | None = None) -> list[TestCase]:
        """The suite's tests that failed or errored (`suite` as in `suite_tests`)."""
        return [test for test in self.suite_tests(suite) if test.failed]
