"""The adversarial corpus: loading cases, building their submissions, and watching the machine around them.

A case is a directory under `cases/` with the hostile files and an `EXPECT.toml` (see README.md); a case
with `base = "<solution>"` is that bundled hello-api solution with the hostile files laid over it, so its
hidden-test verdicts can be compared with the honest solution's. Archive attacks are built at test time
by the functions at the end (nothing big or dangerous is committed).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import socket
import stat
import tarfile
import time
import tomllib
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.models import GradeResult, Limits
from grader.paths import cache_root
from grader.sandbox.base import AppRunRequest, RunOutcome
from grader.sandbox.docker import DockerSandbox
from grader.sandbox.docker_pod import MANAGED_LABEL, RUN_LABEL

from ..conftest import REPO_ROOT

HERE = Path(__file__).resolve().parent
CASES_DIR = HERE / "cases"
SHARED_SERVER = CASES_DIR / "_shared" / "probe_server.py"
HELLO = REPO_ROOT / "challenges" / "hello-api"
SOLUTIONS = HELLO / "solutions"
REFERENCES = ("fastapi-ref", "flask-ref", "django-ref")
HONEST_BASE = "fastapi-flawed"  # the tampering cases' base: it fails hidden tests a forgery would "pass"

# The test-only challenge: hello-api with short limits so the hostile cases end quickly.
ADVERSARIAL_LIMITS = Limits(memory_mb=128, pids=64, startup_timeout_s=8, test_timeout_s=30, data_mb=16,
                            log_bytes=256 * 1024)
# A grading may take the challenge's own limits (startup + hidden suite) plus this: intake, the static
# checks (grader tools and the candidate's tests) and the pod's start and teardown. It excludes building
# an environment image, which happens once per set of requirements.
FIXED_MARGIN_S = 120.0
# The app's run (pod start to teardown) may overrun startup + suite only by the supervisor's own slack.
RUN_MARGIN_S = 25.0


@dataclass(frozen=True)
class Case:
    """One directory case of the corpus and what it must produce."""

    name: str
    directory: Path
    expect: dict[str, Any]

    @property
    def base(self) -> str | None:
        value = self.expect.get("base")
        return str(value) if value else None

    @property
    def runs_locally(self) -> bool:
        return self.expect.get("local") == "run"


def load_cases() -> list[Case]:
    """Every case directory with an EXPECT.toml, sorted by name."""
    cases = []
    for directory in sorted(CASES_DIR.iterdir()):
        manifest = directory / "EXPECT.toml"
        if manifest.is_file():
            cases.append(Case(directory.name, directory, tomllib.loads(manifest.read_text())))
    return cases


@dataclass
class Substitutions:
    """Values a case's files may name, filled in when its submission is built (`@@NAME@@`)."""

    host_canary: Path
    grader_cache: Path
    run_mark: str = field(default_factory=lambda: str(86_000 + uuid.uuid4().int % 9_000) + ".5")

    def apply(self, text: str) -> str:
        return (text.replace("@@HOST_CANARY@@", str(self.host_canary))
                .replace("@@GRADER_CACHE@@", str(self.grader_cache))
                .replace("@@RUN_MARK@@", self.run_mark))


def build_submission(case: Case, dest_root: Path, subs: Substitutions) -> Path:
    """The case as a submission directory under `dest_root/<case name>`."""
    dest = dest_root / case.name
    if case.base:
        shutil.copytree(SOLUTIONS / case.base, dest, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(case.directory, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("EXPECT.toml",
                                                                                            "__pycache__"))
    if case.expect.get("with_server"):
        shutil.copy(SHARED_SERVER, dest / "probe_server.py")
    for path in dest.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".toml", ".txt", ".cfg"):
            path.write_text(subs.apply(path.read_text()))
    return dest


PROBE_SUITE = '''"""Test-only hidden tests: what a hostile app serves at /__adversarial__ must show the boundary held.

Skipped for apps without that path (the references): skipped tests count for nothing.
"""

import json
import socket

import httpx
import pytest

CANARY = "@@CANARY@@"


@pytest.fixture(scope="module")
def probe(base_url, pytestconfig):
    if pytestconfig.getoption("--grader-fail-all"):
        pytest.skip("the app never answered: there is no probe to read")
    try:
        response = httpx.get(base_url + "/__adversarial__", timeout=28)
    except httpx.HTTPError as exc:
        pytest.fail(f"the probe did not answer: {exc}")
    if response.status_code != 200 or "kind" not in response.text:
        pytest.skip("this app has no adversarial probe")
    return response.json()


def only(probe, kind):
    if probe.get("kind") != kind:
        pytest.skip(f"not a {kind} probe")


@pytest.mark.category("infrastructure")
def test_probe_found_no_hidden_test(probe):
    only(probe, "secrets")
    assert probe["done"], "the walk did not finish"
    assert probe["hidden_files"] == []
    assert CANARY not in json.dumps(probe)
    assert not [n for n in probe["names"] if n.startswith("/grader") or "test_hidden" in n or "challenges" in n]
    assert not [v for v in probe["env"].values() if "/grader" in v or CANARY in v]


@pytest.mark.category("infrastructure")
def test_probe_has_no_way_out(probe):
    only(probe, "network")
    assert probe["interfaces"] == ["lo"] and probe["routes"] == [] and probe["isolated"]
    assert probe["tcp_testnet"] == "ENETUNREACH"
    assert all(v in ("ENETUNREACH", "loopback") for v in probe["resolvers"].values()), probe["resolvers"]
    assert probe["dns"] == "failed"


@pytest.mark.category("infrastructure")
def test_probe_extra_port_is_only_inside_the_pod(probe):
    only(probe, "network")
    with socket.create_connection(("127.0.0.1", probe["extra_port"]), timeout=5):
        pass  # the runner shares the pod's namespace; nothing outside it has a route in


@pytest.mark.category("infrastructure")
def test_probe_flood_was_written(probe):
    only(probe, "flood")
    assert probe["done"] and probe["error"] is None and probe["written"] >= 2 * 1024 ** 3, probe


@pytest.mark.category("infrastructure")
def test_probe_disk_is_capped(probe):
    only(probe, "disk")
    assert probe["data"]["error"] == "ENOSPC" and probe["data"]["written"] <= 16 * 1024 ** 2, probe
    assert probe["tmp"]["error"] == "ENOSPC", probe
    assert probe["app"] == "EROFS" and probe["root"] in ("EROFS", "EACCES"), probe
'''


def adversarial_challenge(root: Path, canary: str) -> Path:
    """hello-api with ADVERSARIAL_LIMITS and the probe suite added to its hidden tests."""
    bundle = root / "adversarial-hello"
    shutil.copytree(HELLO, bundle, ignore=shutil.ignore_patterns("solutions", "starter", "__pycache__"))
    manifest = bundle / "challenge.toml"
    text = manifest.read_text().split("[solutions.", 1)[0]
    limits = "\n".join(f"{key} = {value}" for key, value in ADVERSARIAL_LIMITS.model_dump().items())
    head, _, tail = text.partition("[limits]")
    tail = tail.split("\n[", 1)
    rest = ("\n[" + tail[1]) if len(tail) > 1 else ""
    manifest.write_text(head.replace('id = "hello-api"', 'id = "adversarial-hello"') + "[limits]\n" + limits + "\n"
                        + rest)
    (bundle / "hidden" / "test_zz_adversarial_probe.py").write_text(PROBE_SUITE.replace("@@CANARY@@", canary))
    return bundle


# --- watching the machine -----------------------------------------------------------------------------


def stat_map(root: Path, skip: tuple[str, ...] = ("runs", "locks", "usage", "uv")) -> dict[str, tuple[int, int, str]]:
    """path -> (size, mode, content digest) of every file under `root` (the grader's cache).

    `uv/` is the resolver's own HTTP cache, which it revalidates and rewrites as pages age; it is written on
    the host before any sandbox starts, by the grader alone.

    Content, not mtime: the grader touches entries it reuses (its own last-use bookkeeping, as `usage/`
    is). Large files are digested by their first and last 64 KiB, which any rewrite of a wheel changes.
    """
    found: dict[str, tuple[int, int, str]] = {}
    if not root.exists():
        return found
    for directory, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(directory, root)
        if rel.split(os.sep)[0] in skip:
            dirnames[:] = []
            continue
        for name in filenames:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            found[os.path.relpath(path, root)] = (info.st_size, stat.S_IMODE(info.st_mode), _digest(path, info))
    return found


def _digest(path: str, info: os.stat_result) -> str:
    if not stat.S_ISREG(info.st_mode):
        return os.readlink(path) if stat.S_ISLNK(info.st_mode) else ""
    with open(path, "rb") as handle:
        if info.st_size <= 256 * 1024:
            return hashlib.sha256(handle.read()).hexdigest()
        head = handle.read(65536)
        handle.seek(-65536, os.SEEK_END)
        return hashlib.sha256(head + handle.read()).hexdigest()


def changed_entries(before: dict[str, tuple[int, int, str]], after: dict[str, tuple[int, int, str]]) -> list[str]:
    """Entries that existed before and were modified or removed (new entries are the grader's own work)."""
    return sorted(path for path, info in before.items() if after.get(path) != info)


def processes_with(text: str) -> list[int]:
    """Live processes on this host whose command line contains `text`."""
    pids = []
    needle = text.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "cmdline").read_bytes().replace(b"\0", b" ") and not _zombie(entry):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def processes_in_containers(container_ids: list[str]) -> list[int]:
    """Host processes that still belong to one of these containers (by their cgroup path)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cgroups = (entry / "cgroup").read_text()
        except OSError:
            continue
        if any(container_id in cgroups for container_id in container_ids):
            pids.append(int(entry.name))
    return pids


def _zombie(entry: Path) -> bool:
    text = (entry / "stat").read_text()
    return text[text.rfind(")") + 2:].split()[0] in ("Z", "X")


def port_open(port: int) -> bool:
    """Whether something on this host answers on 127.0.0.1:`port` (loopback only)."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class ContainerRecord:
    """What the test saw of one container the grader created."""

    id: str
    name: str
    run_id: str
    role: str
    network_mode: str
    port_bindings: Any
    mount_types: list[str]
    volumes: list[tuple[str, str]]  # (name, where it is mounted) of each named volume
    log_path: str
    max_log_bytes: int = 0


class _WatchedContainer:
    """A container proxy that measures its log file on the host before it is killed or removed."""

    def __init__(self, inner: Any, record: ContainerRecord) -> None:
        self._inner = inner
        self._record = record

    def _measure(self) -> None:
        try:
            size = os.path.getsize(self._record.log_path)
        except OSError:
            return
        self._record.max_log_bytes = max(self._record.max_log_bytes, size)

    def kill(self, *args: Any, **kwargs: Any) -> Any:
        self._measure()
        return self._inner.kill(*args, **kwargs)

    def remove(self, *args: Any, **kwargs: Any) -> Any:
        self._measure()
        return self._inner.remove(*args, **kwargs)

    def reload(self) -> Any:
        self._measure()
        return self._inner.reload()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _RecordingContainers:
    def __init__(self, inner: Any, records: list[ContainerRecord]) -> None:
        self._inner = inner
        self._records = records

    def run(self, *args: Any, **kwargs: Any) -> Any:
        container = self._inner.run(*args, **kwargs)
        container.reload()
        attrs = container.attrs
        labels = attrs["Config"].get("Labels") or {}
        record = ContainerRecord(
            id=container.id, name=container.name, run_id=labels.get(RUN_LABEL, ""),
            role=labels.get("grader.role", ""), network_mode=attrs["HostConfig"].get("NetworkMode", ""),
            port_bindings=attrs["HostConfig"].get("PortBindings"),
            mount_types=[m.get("Type", "") for m in attrs.get("Mounts", [])],
            volumes=[(m.get("Name", ""), m.get("Destination", "")) for m in attrs.get("Mounts", [])
                     if m.get("Type") == "volume"],
            log_path=attrs.get("LogPath", ""),
        )
        self._records.append(record)
        return _WatchedContainer(container, record)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class RecordingClient:
    """A Docker client proxy that records every container the grader creates through it."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.records: list[ContainerRecord] = []
        self.containers = _RecordingContainers(inner.containers, self.records)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def leftovers(self, client: Any) -> list[str]:
        """Names of recorded containers (or any container of their runs) that still exist."""
        from docker.errors import NotFound

        left = []
        for record in self.records:
            try:
                client.containers.get(record.id)
                left.append(record.name)
            except NotFound:
                pass
        for run_id in {r.run_id for r in self.records}:
            for container in client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"}):
                left.append(container.name)
        return sorted(set(left))


class TimedDockerSandbox(DockerSandbox):
    """The Docker backend, timing each app run (pod start to teardown) by submission name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.run_seconds: dict[str, float] = {}

    def run(self, request: AppRunRequest) -> RunOutcome:
        started = time.monotonic()
        try:
            return super().run(request)
        finally:
            self.run_seconds[request.output_dir.name] = time.monotonic() - started


def managed_containers(client: Any) -> set[str]:
    return {c.id for c in client.containers.list(all=True, filters={"label": MANAGED_LABEL})}


# --- reading results ----------------------------------------------------------------------------------


def hidden_verdicts(result: GradeResult, include_probe: bool = False) -> dict[str, str]:
    """Hidden test name -> outcome (the probe suite's tests left out unless asked for)."""
    return {t.name: t.outcome for c in result.checks if c.id.startswith("hidden-tests/") for t in c.tests
            if include_probe or "adversarial_probe" not in t.nodeid}


def probe_verdicts(result: GradeResult) -> dict[str, str]:
    return {t.name: t.outcome for c in result.checks if c.id.startswith("hidden-tests/") for t in c.tests
            if "adversarial_probe" in t.nodeid}


def hidden_scores(result: GradeResult) -> dict[str, tuple[float, float]]:
    """Hidden-test points per category, as (score, max_score)."""
    return {c.id: (c.score, c.max_score) for c in result.checks if c.id.startswith("hidden-tests/")}


def category_scores(result: GradeResult) -> dict[str, float | None]:
    return {c.id: c.score for c in result.categories}


# --- intake attacks: hostile archives and trees, built at test time ------------------------------------

APP = b"from http.server import HTTPServer\nprint('hello')\n"


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w") as archive:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = APP) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def zip_slip(tmp: Path) -> Path:
    path = tmp / "zip-slip.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("app.py", APP)
        archive.writestr("../../evil.py", b"print('escaped')\n")
    return path


def tar_traversal(tmp: Path) -> Path:
    return _tar(tmp / "tar-traversal.tar", [_file("app.py"), _file("notes/../../../evil.py")])


def absolute_path(tmp: Path) -> Path:
    return _tar(tmp / "absolute-path.tar", [_file("app.py"), _file("/tmp/grader-adversarial-evil.py")])


def symlink_out_of_tree(tmp: Path) -> Path:
    return _tar(tmp / "symlink-out-of-tree.tar", [_file("app.py"), _link("passwd.py", "/etc/passwd", tarfile.SYMTYPE)])


def relative_symlink_out_of_tree(tmp: Path) -> Path:
    return _tar(tmp / "relative-symlink-out-of-tree.tar", [_file("app.py"), _link("up", "../../..", tarfile.SYMTYPE)])


def hardlink_out_of_tree(tmp: Path) -> Path:
    return _tar(tmp / "hardlink-out-of-tree.tar", [_file("app.py"), _link("shadow.py", "/etc/shadow", tarfile.LNKTYPE)])


def zip_bomb(tmp: Path) -> Path:
    """A few hundred KiB that would unpack to 64 MiB (over the 50 MiB per-file cap): generated, not committed."""
    path = tmp / "zip-bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("app.py", APP)
        with archive.open("data.bin", "w", force_zip64=True) as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(64):
                member.write(block)
    return path


def huge_file_count(tmp: Path) -> Path:
    path = tmp / "huge-file-count.tar"
    with tarfile.open(path, "w") as archive:
        archive.addfile(*_with_data("app.py", APP))
        for index in range(10_050):
            archive.addfile(*_with_data(f"pkg/m{index}.py", b"x = 1\n"))
    return path


def _with_data(name: str, data: bytes) -> tuple[tarfile.TarInfo, io.BytesIO]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, io.BytesIO(data)


def control_characters(tmp: Path) -> Path:
    return _tar(tmp / "control-characters.tar", [_file("app.py"), _file("evil\x1b[2J\x07.py")])


def newline_in_name(tmp: Path) -> Path:
    path = tmp / "newline-in-name.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("app.py", APP)
        archive.writestr("fake\nresult.json", b"{}")
    return path


def directory_symlink_to_host_file(tmp: Path, target: Path) -> Path:
    """A directory submission whose `secrets.py` is a symlink to a file of this host (the canary)."""
    root = tmp / "directory-symlink-out-of-tree"
    root.mkdir()
    (root / "app.py").write_bytes(APP)
    (root / "secrets.py").symlink_to(target)
    return root


# name -> (builder, words the refusal must contain)
ArchiveBuilder = Callable[[Path], Path]
INTAKE_ATTACKS: dict[str, tuple[ArchiveBuilder, str]] = {
    "zip-slip": (zip_slip, "contains '..'"),
    "tar-traversal": (tar_traversal, "contains '..'"),
    "absolute-path": (absolute_path, "absolute path"),
    "symlink-out-of-tree": (symlink_out_of_tree, "points outside the submission"),
    "relative-symlink-out-of-tree": (relative_symlink_out_of_tree, "points outside the submission"),
    "hardlink-out-of-tree": (hardlink_out_of_tree, "points outside the submission"),
    "zip-bomb": (zip_bomb, "larger than the 50 MiB limit"),
    "huge-file-count": (huge_file_count, "more than 10000 files"),
    "control-characters": (control_characters, "control characters"),
    "newline-in-name": (newline_in_name, "control characters"),
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextmanager
def session_cache(tmp_path_factory: Any) -> Iterator[Path]:
    """The session's grader cache (the one tests/conftest.py's session-wide `isolated_cache` names)."""
    import pytest

    with pytest.MonkeyPatch.context() as patch:
        if "GRADER_CACHE_DIR" not in os.environ:
            patch.setenv("GRADER_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "grader-cache"))
        yield cache_root()


@contextmanager
def canary_file(root: Path) -> Iterator[tuple[Path, str]]:
    """A file on the host that no grading may change; yields (path, its digest)."""
    path = root / "host-canary.txt"
    path.write_text(f"canary {uuid.uuid4()}\n")
    digest = sha256(path)
    yield path, digest
    assert path.is_file() and sha256(path) == digest, "the host canary file was changed"
