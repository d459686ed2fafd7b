"""What the sandbox side writes and the host reads: file names, JSON shapes, environment variables.

This is the only module of `checks/` the host (`grader/`) imports, and it holds data only: constants and
the shapes of the shared JSON files as TypedDicts. Both sides spell every shared name from here, so what
the sandbox writes is what the host reads. Standard library only, and importable by an older interpreter
too (`checks.candidate_tests` runs with the candidate's own Python): annotations stay strings, never
evaluated.

Static checks (`python -m checks.<id> --submission DIR --out DIR`, see `grader.checks.static`):
- `checks.run_plan` runs every `PlanEntry` of the plan file and writes `<id>.run.json` (`RunRecord`);
- each check writes `<id>.json` (`StaticReport`); its findings are `FindingDict`s in one of CATEGORY_IDS.

The challenge suite (`pytest -p checks.pytest_plugin --grader-report PATH`, see `grader.checks.suite`)
writes a `SuiteReport` with one `SuiteTestRecord` per test; a test without a valid category marker is in
UNCATEGORIZED.

The control channel (`checks.app_control` in the runner, `grader.sandbox.control` on the host): the runner
drops `<seq>-<action>.req` into `$GRADER_CONTROL_DIR` and waits for `<seq>-<action>.json` (`ControlAnswer`).
"""

from __future__ import annotations

from typing import TypedDict

# The six scorecard categories, in the scorecard's order.
CATEGORY_IDS = (
    "python_fundamentals",
    "api_design",
    "databases",
    "testing",
    "infrastructure",
    "observability",
)
UNCATEGORIZED = "uncategorized"  # a suite test without a valid `@pytest.mark.category`
MAX_FINDINGS = 200  # per check: enough to explain a score, bounded against hostile input

# --- static checks ---------------------------------------------------------------------------------------


def report_file(check_id: str) -> str:
    """The name of a static check's report in its output directory."""
    return f"{check_id}.json"


def run_record_file(check_id: str) -> str:
    """The name of the record `checks.run_plan` writes for one check (exit code, timeout, duration)."""
    return f"{check_id}.run.json"


class PlanEntry(TypedDict):
    """One command of the plan `checks.run_plan` executes."""

    id: str
    argv: list[str]
    timeout_s: float


class RunRecord(TypedDict):
    """How one command of the plan ended: `<id>.run.json`."""

    id: str
    exit_code: int | None
    timed_out: bool
    duration_s: float
    stderr_tail: str


class FindingDict(TypedDict, total=False):
    """A finding as a check writes it (the host validates it into `grader.models.Finding`)."""

    message: str
    file: str | None
    line: int | None
    rule: str | None
    category: str | None
    severity: str


class StaticReport(TypedDict):
    """A static check's report: `<id>.json`."""

    id: str
    metrics: dict[str, float]
    findings: list[FindingDict]
    findings_total: int
    tools: dict[str, str]  # {tool: version}


# Finding rules the host's scoring recognises: one committed secret found by both checks costs once.
PRACTICES_SECRET_RULE = "secret"  # practices (detect-secrets): a likely real secret
LINT_SECRET_RULES = ("S105", "S106", "S107")  # lint (ruff): hard-coded password string, argument, default

# --- the challenge suite ---------------------------------------------------------------------------------


class SuiteTestRecord(TypedDict):
    """One test's verdict in the suite's report (the host validates it into `grader.models.TestCase`)."""

    nodeid: str
    name: str
    category: str
    weight: float
    outcome: str  # passed, failed, error or skipped
    duration_s: float
    message: str | None


class SuiteReport(TypedDict):
    """The report `checks.pytest_plugin` writes to `--grader-report`."""

    exit_status: int | None
    finished: bool
    duration_s: float
    collected: int
    tests: list[SuiteTestRecord]


# --- the runner's environment and the control channel ----------------------------------------------------

APP_URL_ENV = "GRADER_APP_URL"  # the app under test (the plugin's default `--app-url`)
CONTROL_ENV = "GRADER_CONTROL_DIR"  # the control directory, seen only by the runner and the host
HEALTH_PATH_ENV = "GRADER_HEALTH_PATH"
STARTUP_TIMEOUT_ENV = "GRADER_STARTUP_TIMEOUT_S"
OTLP_PORT_ENV = "GRADER_OTLP_PORT"  # where the runner serves its OTLP/HTTP receiver (checks.otlp) for the app
POD_OTLP_PORT = 4318  # the OTLP/HTTP port in a Docker pod (the pod's own loopback); the local backend picks a free one
UPSTREAM_PORT_ENV = "GRADER_UPSTREAM_PORT"  # where `fake_upstream()` serves, for the runner
UPSTREAM_PORT_PLACEHOLDER = "{upstream_port}"  # in a challenge's `[app] env` values: that port, per grading
POD_UPSTREAM_PORT = 18080  # the fake upstream's port in a Docker pod (the pod's own loopback)
# For the candidate's own tests: the names of the `[app] env` variables that hold the upstream's address,
# comma-separated; their `{upstream_port}` is a port nothing serves (checks.candidate_tests names the tests whose
# failure shows they called it for real).
UPSTREAMS_ENV = "GRADER_UPSTREAMS"
# With `[app] replicas` > 1: the replicas' base URLs, comma-separated; the runner serves a round-robin proxy over
# them (checks.replicas) at the app's URL. Unset with one replica: the suite talks to the app directly.
REPLICA_URLS_ENV = "GRADER_REPLICA_URLS"
CONTROL_ACTIONS = ("restart", "log", "worker_log", "stop")
REQUEST_SUFFIX = ".req"  # `<seq>-<action>.req`, written atomically by the runner: empty, or a StopRequest for `stop`
ANSWER_SUFFIX = ".json"  # `<seq>-<action>.json`, a ControlAnswer written atomically by the host


class ControlAnswer(TypedDict, total=False):
    """The host's answer to one control request."""

    ok: bool
    error: str | None
    log: str  # the app's output, for `log`; the worker's, for `worker_log`
    app: StopOutcome  # for `stop`: how the app ended
    worker: StopOutcome | None  # for `stop`: how the worker ended (None: the submission declares none)


STOP_SIGNALS = ("SIGTERM", "SIGINT", "SIGQUIT")  # what a suite may send with `stop`
MAX_STOP_GRACE_S = 30.0  # the longest a suite may let the app take to exit before SIGKILL


class StopRequest(TypedDict):
    """The body of a `stop` request: signal the app (and its worker), SIGKILL after `grace_s`, start it again."""

    signal: str  # one of STOP_SIGNALS
    grace_s: float  # 0 < grace_s <= MAX_STOP_GRACE_S


class StopOutcome(TypedDict):
    """How one process (the app or its worker) ended after a `stop` signal."""

    exited: bool  # it exited by itself within the grace (False: SIGKILLed when the grace ran out)
    exit_code: int | None  # 128+N when a signal N ended it (the shell's convention, on both backends)
    log: str  # what it printed from the signal on (capped)


def otlp_app_environment(port: int) -> dict[str, str]:
    """The OpenTelemetry variables the grader gives the app: its OTLP/HTTP exporter sends to the runner's
    receiver on `port`, and batches are flushed every half second so a suite waits little for them."""
    base = f"http://127.0.0.1:{port}"
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": base,
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{base}/v1/traces",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_BSP_SCHEDULE_DELAY": "500",
    }


def with_upstream_port(app_env: dict[str, str], port: int) -> dict[str, str]:
    """The challenge's `[app] env` with `{upstream_port}` filled in: the port the suite's `fake_upstream()`
    serves in this grading (one of its own with the local backend, so concurrent gradings never collide)."""
    return {name: value.replace(UPSTREAM_PORT_PLACEHOLDER, str(port)) for name, value in app_env.items()}


def own_tests_environment(app_env: dict[str, str], port: int) -> dict[str, str]:
    """The challenge's `[app] env` for the candidate's own tests, `{upstream_port}` filled with `port` (where
    nothing serves), plus UPSTREAMS_ENV naming the variables that hold the upstream's address, when any do."""
    filled = with_upstream_port(app_env, port)
    upstreams = sorted(name for name, value in app_env.items() if UPSTREAM_PORT_PLACEHOLDER in value)
    return {**filled, UPSTREAMS_ENV: ",".join(upstreams)} if upstreams else filled
