"""Pytest plugin loaded by the grader's runner for challenge test suites (public and hidden).

It gives suites the fixtures they use (`base_url`, `client`, `app_log`, `worker_log`, `restart_app`, `stop_app`,
`fake_upstream`, `replicas` (each app instance's URL when the challenge runs several behind the runner's
round-robin proxy), `metrics` and `traces` for the app's Prometheus metrics and OpenTelemetry spans, and
`database` / `grader_redis_url` for the services a challenge declares), the `category`
marker that states which scorecard category a test speaks to and its weight
(`@pytest.mark.category("databases", weight=3)`, default 1), and writes a JSON report of every verdict to
`--grader-report`. The app under test is reached only over HTTP at `GRADER_APP_URL`; suites never import
candidate code. Restarting the app (and its worker) and reading their output go through the grader
(`checks.app_control`); outside the grader those fixtures skip.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from checks.app_control import ControlError, ask, control_dir, health_path, startup_timeout_s
from checks.formats import (
    APP_URL_ENV,
    CATEGORY_IDS,
    MAX_STOP_GRACE_S,
    OTLP_PORT_ENV,
    POD_UPSTREAM_PORT,
    REPLICA_URLS_ENV,
    STOP_SIGNALS,
    UNCATEGORIZED,
    UPSTREAM_PORT_ENV,
    StopOutcome,
    SuiteReport,
    SuiteTestRecord,
)
from checks.metrics import MetricsError, MetricsSnapshot, scrape
from checks.otlp import OtlpReceiver, ReceivedSpan, SpanPredicate
from checks.replicas import RoundRobinProxy, parse_replica_urls
from checks.services_access import GraderDatabase, connect_database, database_url, redis_url
from checks.upstream import FakeUpstream
from checks.wait_for_app import wait_for_health

MESSAGE_LIMIT = 2000
UNFINISHED = "did not finish: the hidden suite was stopped at its time limit (the app did not answer in time)"
REPORT_KEY = pytest.StashKey["GraderReport"]()
RECEIVER_KEY = pytest.StashKey["OtlpReceiver | str | None"]()
PROXY_KEY = pytest.StashKey["RoundRobinProxy | None"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("grader")
    group.addoption("--grader-report", default=None, help="Write the grader's JSON report of verdicts here.")
    group.addoption(
        "--app-url",
        default=os.environ.get(APP_URL_ENV, "http://127.0.0.1:8000"),
        help="Base URL of the app under test (default: $GRADER_APP_URL).",
    )
    group.addoption(
        "--grader-fail-all",
        default=None,
        metavar="REASON",
        help="Fail every collected test with REASON without running it (the app never came up).",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "category(name, weight=1): scorecard category this test gives evidence for, and its weight"
    )
    report = GraderReport()
    config.stash[REPORT_KEY] = report


class GraderReport:
    """Collects one record per test; a test's verdict is the worst of its setup/call/teardown phases.

    From collection on, every test not finished yet is recorded as failed with `UNFINISHED`, and the
    report is rewritten after each test: when the runner is killed at the suite's time limit (an app
    that stops answering), the report on disk still holds every verdict, pessimistic for the rest.
    """

    def __init__(self) -> None:
        self.tests: dict[str, SuiteTestRecord] = {}
        self.started = time.monotonic()
        self.finished = False
        self._begun: set[str] = set()

    def pending(self, item_nodeid: str, name: str, category: str, weight: float) -> None:
        """A collected test that has not finished: failed until its own reports arrive."""
        self.tests[item_nodeid] = {"nodeid": item_nodeid, "name": name, "category": category, "weight": weight,
                                   "outcome": "failed", "duration_s": 0.0, "message": UNFINISHED}

    def record(self, item_nodeid: str, name: str, category: str, weight: float, report: pytest.TestReport) -> None:
        if item_nodeid not in self._begun:  # its first phase: forget the pessimistic placeholder
            self._begun.add(item_nodeid)
            self.tests.pop(item_nodeid, None)
        entry = self.tests.setdefault(
            item_nodeid,
            {"nodeid": item_nodeid, "name": name, "category": category, "weight": weight,
             "outcome": "passed", "duration_s": 0.0, "message": None},
        )
        entry["duration_s"] = round(entry["duration_s"] + report.duration, 4)
        outcome = _phase_outcome(report)
        if outcome == "passed" or entry["outcome"] in ("failed", "error"):
            return
        entry["outcome"] = outcome
        entry["message"] = _short_message(report)

    def payload(self, exitstatus: int | None, collected: int) -> SuiteReport:
        """The report as written to `--grader-report`; `finished` is false until the session ends."""
        return {
            "exit_status": exitstatus,
            "finished": self.finished,
            "duration_s": round(time.monotonic() - self.started, 3),
            "collected": collected,
            "tests": list(self.tests.values()),
        }


def _phase_outcome(report: pytest.TestReport) -> str:
    if report.passed:
        return "passed"
    if report.skipped:
        return "skipped"
    return "failed" if report.when == "call" else "error"


def _short_message(report: pytest.TestReport) -> str | None:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else (str(report.longrepr) if report.longrepr else "")
    if report.skipped and isinstance(report.longrepr, tuple):
        text = str(report.longrepr[2])
    return text[:MESSAGE_LIMIT] or None


def test_category(item: pytest.Item) -> str:
    """The category named by the nearest `@pytest.mark.category(...)`, else 'uncategorized'."""
    marker = item.get_closest_marker("category")
    if marker is None or not marker.args:
        return UNCATEGORIZED
    name = str(marker.args[0])
    return name if name in CATEGORY_IDS else UNCATEGORIZED


def test_weight(item: pytest.Item) -> float:
    """The `weight=` of the nearest category marker (default 1); a weight that is not a positive number is 1."""
    marker = item.get_closest_marker("category")
    weight = marker.kwargs.get("weight", 1) if marker is not None else 1
    if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
        return 1.0
    return float(weight)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    item.config.stash[REPORT_KEY].record(item.nodeid, item.name, test_category(item), test_weight(item), report)
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """With --grader-fail-all, every test fails with the reason: exact counts without touching the app."""
    reason = item.config.getoption("--grader-fail-all")
    if reason:
        pytest.fail(str(reason), pytrace=False)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Record every collected test as unfinished and write the report a first time."""
    report = session.config.stash[REPORT_KEY]
    for item in session.items:
        report.pending(item.nodeid, item.name, test_category(item), test_weight(item))
    _write_report(session.config, None, len(session.items))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    """Rewrite the report after each test, so a killed runner leaves every verdict reached so far."""
    result = yield
    _write_report(item.config, None, len(item.config.stash[REPORT_KEY].tests))
    return result


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    report = session.config.stash[REPORT_KEY]
    report.finished = True
    _write_report(session.config, int(exitstatus), session.testscollected)


def _write_report(config: pytest.Config, exitstatus: int | None, collected: int) -> None:
    """Write the JSON report atomically (a reader never sees half a file), if one was asked for."""
    path = config.getoption("--grader-report")
    if not path:
        return
    target = Path(path)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(config.stash[REPORT_KEY].payload(exitstatus, collected), indent=2))
    tmp.replace(target)


@pytest.fixture(scope="session")
def base_url(pytestconfig: pytest.Config) -> str:
    """Base URL of the candidate's app, without a trailing slash."""
    return str(pytestconfig.getoption("--app-url")).rstrip("/")


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    """An HTTP client bound to the app; no redirects followed, 10 s timeout per request."""
    with httpx.Client(base_url=base_url, timeout=10.0, follow_redirects=False) as http:
        yield http


# --- the grader's hooks: the app's output and restarts (see checks.app_control) -------------------------

LOG_REQUEST_TIMEOUT_S = 30.0
LOG_WAIT_S = 10.0  # how long `json_lines(until=...)` waits for a line the app writes after its response
LOG_POLL_S = 0.2
RESTART_REQUEST_TIMEOUT_S = 60.0
STOP_SLACK_S = 60.0  # beyond a stop's grace: the SIGKILL, the start again, a loaded machine


def _control_or_skip(what: str) -> Path:
    directory = control_dir()
    if directory is None:
        pytest.skip(f"{what} needs the grader (run under `grader grade` or `grader check`)")
    return directory


class AppLog:
    """What the app (or, with action `worker_log`, its worker) wrote to stdout and stderr since it first started
    (restarts included), read on demand."""

    def __init__(self, directory: Path, action: str = "log") -> None:
        self.directory = directory
        self.action = action

    def text(self) -> str:
        """The whole output so far (capped by the challenge's log limit)."""
        try:
            return str(ask(self.directory, self.action, LOG_REQUEST_TIMEOUT_S).get("log", ""))
        except ControlError as exc:
            pytest.fail(str(exc), pytrace=False)

    def json_lines(self, until: Callable[[list[dict[str, Any]]], bool] | None = None,
                   timeout_s: float = LOG_WAIT_S) -> list[dict[str, Any]]:
        """Every output line that is a JSON object, parsed; other lines are left out.

        With `until`, the log is read again until `until(lines)` holds or `timeout_s` passed, and the last
        lines are returned either way (the test's own assertion then says what is missing): an app may write
        a request's line just after its response (a middleware's `finally`, a queued log handler), and the
        engine's log copier may deliver it a moment later still, so a line read at once can be missing from a
        correct app on a loaded machine.
        """
        deadline = time.monotonic() + timeout_s
        records = self._json_lines()
        while until is not None and not until(records) and time.monotonic() < deadline:
            time.sleep(LOG_POLL_S)
            records = self._json_lines()
        return records

    def _json_lines(self) -> list[dict[str, Any]]:
        records = []
        for line in self.text().splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                records.append(value)
        return records


@pytest.fixture
def app_log() -> AppLog:
    """The app's captured output; skips outside the grader."""
    return AppLog(_control_or_skip("reading the app's log"))


@pytest.fixture
def worker_log() -> AppLog:
    """The captured output of the submission's worker process (a Procfile `worker:` line or `[tool.grader]
    worker`); a test using it fails when the submission declares no worker, and skips outside the grader."""
    return AppLog(_control_or_skip("reading the worker's log"), action="worker_log")


class AppRestarter:
    """Restarts the app through the grader and waits until its health path answers again."""

    def __init__(self, directory: Path, health_urls: list[str], timeout_s: float) -> None:
        self.directory = directory
        self.health_urls = health_urls  # one per replica: every instance must be back, not just one
        self.timeout_s = timeout_s

    def __call__(self) -> None:
        try:
            ask(self.directory, "restart", RESTART_REQUEST_TIMEOUT_S)
        except ControlError as exc:
            pytest.fail(str(exc), pytrace=False)
        for url in self.health_urls:
            ready, detail = wait_for_health(url, self.timeout_s)
            if not ready:
                pytest.fail(f"the app did not answer its health path within {self.timeout_s:g} s of a restart "
                            f"(last: {detail})", pytrace=False)


@pytest.fixture
def restart_app(replicas: list[str]) -> AppRestarter:
    """Call it to stop and start the app (every replica) and its worker (the data directory is kept); skips
    outside the grader."""
    directory = _control_or_skip("restarting the app")
    return AppRestarter(directory, [url + health_path() for url in replicas], startup_timeout_s())


# --- replicas (see checks.replicas) ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def replicas(base_url: str) -> list[str]:
    """Each app instance's base URL, in order: with `[app] replicas = N` the N processes the grader started
    (reached directly, not through the round-robin proxy `base_url` and `client` use); `[base_url]` with one."""
    urls = parse_replica_urls(os.environ.get(REPLICA_URLS_ENV, ""))
    return urls or [base_url]


def _start_replica_proxy(config: pytest.Config) -> None:
    """With several replicas, serve the round-robin proxy at the app's URL for the whole suite."""
    config.stash[PROXY_KEY] = None
    urls = parse_replica_urls(os.environ.get(REPLICA_URLS_ENV, ""))
    if not urls:
        return
    port = httpx.URL(str(config.getoption("--app-url"))).port or 80
    try:
        config.stash[PROXY_KEY] = RoundRobinProxy(port, urls).start()
    except OSError as exc:  # the suite's requests then fail, each saying the app's URL refused them
        print(f"grader: could not serve the replicas' proxy on port {port}: {exc}", flush=True)


@dataclass(frozen=True)
class StopRecord:
    """What happened when the app was sent a signal (see `AppStopper`)."""

    signal: str
    grace_s: float
    requests: list[str]  # how each request sent with `during` ended: "200", or a transport error ("ReadError")
    exited: bool  # the app exited by itself within the grace (False: the grader SIGKILLed it)
    exit_code: int | None  # 128+N when signal N ended it (143 for SIGTERM, 137 for the grace's SIGKILL)
    log: str  # what the app printed from the signal on
    worker: StopOutcome | None  # the same for the worker ({"exited", "exit_code", "log"}); None: none declared


class AppStopper:
    """Sends a signal to the app (and its worker) through the grader, SIGKILLs it when it has not exited after
    `grace_s`, starts it again and waits for its health path: `stop_app()` with nothing in flight, or
    `stop_app.during(send, n=3, received=...)` with `n` requests in flight (each `send(client)` in a thread
    of its own, signalled once `received()` is true)."""

    def __init__(self, directory: Path, base_url: str, health_urls: list[str], timeout_s: float) -> None:
        self.directory, self.base_url, self.timeout_s = directory, base_url, timeout_s
        self.health_urls = health_urls  # one per replica: every instance must be back, not just one

    def __call__(self, signal: str = "SIGTERM", grace_s: float = 5.0) -> StopRecord:
        """Signal the app with nothing in flight; how it ended."""
        return self._stop(signal, grace_s, [])

    def during(self, send: Callable[[httpx.Client], httpx.Response], *, n: int = 1, received: Callable[[], bool],
               signal: str = "SIGTERM", grace_s: float = 5.0, wait_s: float = 30.0) -> StopRecord:
        """Start `n` threads each calling `send(client)`, wait until `received()` says the app holds them all
        (it is polled, for up to `wait_s`: count them in the app's log or the fake upstream's calls), signal the
        app, and report how each request ended."""
        outcomes: list[str] = []
        threads = [threading.Thread(target=self._send, args=(send, grace_s, outcomes), daemon=True)
                   for _ in range(n)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + wait_s
        while not received():
            if time.monotonic() > deadline:
                pytest.fail(f"the app did not receive the {n} request(s) within {wait_s:g} s, so no signal was "
                            f"sent (requests ended as {outcomes or 'nothing yet'})", pytrace=False)
            time.sleep(0.02)
        return self._stop(signal, grace_s, threads, outcomes)

    def _send(self, send: Callable[[httpx.Client], httpx.Response], grace_s: float, outcomes: list[str]) -> None:
        with httpx.Client(base_url=self.base_url, timeout=grace_s + STOP_SLACK_S) as http:
            try:
                outcomes.append(str(send(http).status_code))
            except httpx.TransportError as exc:
                outcomes.append(type(exc).__name__)

    def _stop(self, signal: str, grace_s: float, threads: list[threading.Thread],
              outcomes: list[str] | None = None) -> StopRecord:
        if signal not in STOP_SIGNALS or not 0 < grace_s <= MAX_STOP_GRACE_S:
            raise ValueError(f"stop_app takes a signal of {STOP_SIGNALS} and 0 < grace_s <= {MAX_STOP_GRACE_S:g}")
        try:
            answer = ask(self.directory, "stop", grace_s + STOP_SLACK_S, {"signal": signal, "grace_s": grace_s})
        except ControlError as exc:
            pytest.fail(str(exc), pytrace=False)
        for thread in threads:  # the process that held them is gone: each has ended or ends now
            thread.join(grace_s + STOP_SLACK_S)
        for url in self.health_urls:
            ready, detail = wait_for_health(url, self.timeout_s)
            if not ready:
                pytest.fail(f"the app did not answer its health path within {self.timeout_s:g} s of being started "
                            f"again after {signal} (last: {detail})", pytrace=False)
        app = answer["app"]
        return StopRecord(signal=signal, grace_s=grace_s, requests=list(outcomes or []), exited=app["exited"],
                          exit_code=app["exit_code"], log=app["log"], worker=answer.get("worker"))


@pytest.fixture
def stop_app(base_url: str, replicas: list[str]) -> AppStopper:
    """Send the app (and its worker) a signal, with requests in flight or not, and see how it ended; the app is
    started again afterwards (every replica answers its health path before the test goes on). Skips outside
    the grader."""
    return AppStopper(_control_or_skip("stopping the app"), base_url, [url + health_path() for url in replicas],
                      startup_timeout_s())


# --- the grading's services, from the grader's side (see checks.services_access) -----------------------


@pytest.fixture
def database() -> Iterator[GraderDatabase]:
    """Read-only access to the app's PostgreSQL database as the grader's superuser (catalog, statement
    counts); skips when the challenge declares no PostgreSQL service or outside the grader."""
    url = database_url()
    if url is None:
        pytest.skip("no PostgreSQL service: the challenge declares none, or the suite runs outside the grader")
    with connect_database(url) as connection:
        yield connection


@pytest.fixture
def grader_redis_url() -> str:
    """The URL of the grading's Redis (the app's own database 0); skips when there is none."""
    url = redis_url()
    if url is None:
        pytest.skip("no Redis service: the challenge declares none, or the suite runs outside the grader")
    return url


# --- a fake external service the app calls (see checks.upstream) ------------------------------------------


@pytest.fixture
def fake_upstream() -> Iterator[Callable[..., FakeUpstream]]:
    """A factory: `fake_upstream()` serves a `FakeUpstream` for this test on the grading's upstream port, the
    one `{upstream_port}` in the challenge's `[app] env` names to the app (`fake_upstream(port)`: a fixed
    port instead); every server stops at teardown."""
    started: list[FakeUpstream] = []

    def serve(port: int | None = None) -> FakeUpstream:
        upstream = FakeUpstream(port if port is not None else upstream_port()).start()
        started.append(upstream)
        return upstream

    yield serve
    for upstream in started:
        upstream.stop()


def upstream_port() -> int:
    """The port `{upstream_port}` stands for in this grading (the Docker pod's fixed one when the grader
    does not say: a suite run by hand)."""
    return int(os.environ.get(UPSTREAM_PORT_ENV) or POD_UPSTREAM_PORT)


# --- the app's metrics (see checks.metrics) --------------------------------------------------------------


class MetricsScraper:
    """Call it (or `scrape`) for a fresh `MetricsSnapshot` of the app's Prometheus metrics."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def scrape(self, path: str = "/metrics") -> MetricsSnapshot:
        """GET `path` and parse it; the test fails with the reason when the app serves no valid metrics."""
        try:
            return scrape(self.client, path)
        except MetricsError as exc:
            pytest.fail(f"could not read the app's metrics: {exc}", pytrace=False)

    def __call__(self, path: str = "/metrics") -> MetricsSnapshot:
        return self.scrape(path)


@pytest.fixture
def metrics(client: httpx.Client) -> MetricsScraper:
    """Scrapes the app's `/metrics` on each call: `metrics().value("http_requests_total", {"route": "/x"})`."""
    return MetricsScraper(client)


# --- the app's traces (see checks.otlp) --------------------------------------------------------------------

TRACE_WAIT_S = 15.0  # batch exporters send every few hundred ms; a loaded machine may take seconds


def pytest_sessionstart(session: pytest.Session) -> None:
    """Serve the OTLP receiver for the whole suite when the grader named its port: the app exports from the
    moment it starts, not only while a test that reads traces runs. Also serve the replicas' proxy."""
    _start_replica_proxy(session.config)
    port = os.environ.get(OTLP_PORT_ENV)
    if not port:
        session.config.stash[RECEIVER_KEY] = None
        return
    try:
        session.config.stash[RECEIVER_KEY] = OtlpReceiver(int(port)).start()
    except (OSError, ValueError) as exc:
        session.config.stash[RECEIVER_KEY] = f"could not serve the OTLP receiver on port {port}: {exc}"


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    receiver = config.stash.get(RECEIVER_KEY, None)
    if isinstance(receiver, OtlpReceiver):
        receiver.stop()
    proxy = config.stash.get(PROXY_KEY, None)
    if proxy is not None:
        proxy.stop()


class Traces:
    """The spans the app exported since the test began, read from the runner's OTLP receiver."""

    def __init__(self, receiver: OtlpReceiver) -> None:
        self.receiver = receiver
        self.since = receiver.count()

    def spans(self) -> list[ReceivedSpan]:
        """The spans received so far during this test (none waited for)."""
        return self.receiver.spans(self.since)

    def wait_for(self, predicate: SpanPredicate, what: str = "the expected spans",
                 timeout_s: float = TRACE_WAIT_S) -> list[ReceivedSpan]:
        """This test's spans once `predicate` holds for them; the test fails, listing what arrived, when it
        does not within `timeout_s`."""
        spans = self.receiver.wait_for(predicate, timeout_s, self.since)
        if spans is None:
            pytest.fail(f"the app did not export {what} within {timeout_s:g} s; received: {self.describe()}",
                        pytrace=False)
        return spans

    def wait_for_span(self, name: str | None = None, kind: str | None = None, trace_id: str | None = None,
                      timeout_s: float = TRACE_WAIT_S) -> ReceivedSpan:
        """The first span of this test matching every criterion given (name, kind such as SERVER, trace id)."""
        def matches(span: ReceivedSpan) -> bool:
            return ((name is None or span.name == name) and (kind is None or span.kind == kind)
                    and (trace_id is None or span.trace_id == trace_id))

        wanted = ", ".join(f"{key} {value!r}" for key, value in
                           (("name", name), ("kind", kind), ("trace id", trace_id)) if value is not None)
        spans = self.wait_for(lambda spans: any(matches(span) for span in spans),
                              f"a span with {wanted or 'any name'}", timeout_s)
        return next(span for span in spans if matches(span))

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        """This test's spans of one trace, in arrival order."""
        return [span for span in self.spans() if span.trace_id == trace_id]

    def children(self, parent: ReceivedSpan) -> list[ReceivedSpan]:
        """The spans received so far whose parent is `parent`."""
        return [span for span in self.spans()
                if span.trace_id == parent.trace_id and span.parent_span_id == parent.span_id]

    @staticmethod
    def new_traceparent() -> tuple[str, str, str]:
        """A fresh W3C `traceparent` header for a request, with its trace id and parent span id (hex)."""
        trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
        return f"00-{trace_id}-{span_id}-01", trace_id, span_id

    def describe(self) -> str:
        """A short account of the spans received during this test, for failure messages."""
        spans = self.spans()
        listed = "; ".join(f"{span.name} ({span.kind}, trace {span.trace_id[:8]}, service {span.service_name})"
                           for span in spans[:10])
        more = f" and {len(spans) - 10} more" if len(spans) > 10 else ""
        errors = self.receiver.errors()
        refused = f"; {len(errors)} export(s) refused, first: {errors[0]}" if errors else ""
        return (f"{len(spans)} span(s): {listed}{more}" if spans else "no span") + refused


@pytest.fixture
def traces(pytestconfig: pytest.Config) -> Traces:
    """The app's exported spans (OTLP/HTTP to the runner's receiver); skips outside the grader."""
    receiver = pytestconfig.stash.get(RECEIVER_KEY, None)
    if receiver is None:
        pytest.skip(f"traces need the grader's OTLP receiver (${OTLP_PORT_ENV} is not set)")
    if isinstance(receiver, str):
        pytest.fail(receiver, pytrace=False)
    return Traces(receiver)
