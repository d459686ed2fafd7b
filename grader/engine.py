"""The grader's one gateway to the Docker engine: the only module that imports the Docker SDK.

Everything else asks an `Engine` (from `connect()`) for what it needs and gets the grader's own small types
back: `Container`, `Volume`, `Network`, `Image`. The engine

- starts every container hardened, whatever the caller asks for (`ContainerSpec`): the unprivileged user
  10001, a read-only root, no capabilities, no privilege escalation, a capped log; and tries a start again
  when the engine fails to start a container it has just created (a rare hiccup under load);
- lists and removes containers, volumes and networks by label, and images by label or reference;
- builds and imports images, streaming the build's output;
- answers every failure of the engine with `EngineError`, a `SandboxError` that carries the engine's own
  explanation and whether the object named was missing.

What the labels mean (runs, sessions, owners, image roles) is the sandbox's business, not this module's.
The SDK is imported where used, so `grader doctor` can say that it is missing instead of failing on import.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from grader.errors import SandboxError

SANDBOX_USER = "10001:10001"
START_ATTEMPTS = 3
TRANSIENT_START_SIGNS = ("OCI runtime start failed", "container process is already dead",
                         "cannot start a stopped process")
DEFAULT_SOCKET = "unix:///var/run/docker.sock"

Log = Callable[[str], None]
detail = logging.getLogger(__name__)  # `grader -v` shows these lines


def _quiet(_: str) -> None:
    pass


class EngineError(SandboxError):
    """The engine refused or failed a request: its own explanation, and whether the object named was missing."""

    def __init__(self, explanation: str, missing: bool = False) -> None:
        super().__init__(explanation)
        self.explanation = explanation
        self.missing = missing


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """Engine errors as EngineError (transport errors such as a dropped connection pass unchanged)."""
    from docker.errors import DockerException, NotFound

    try:
        yield
    except NotFound as exc:
        raise EngineError(_explanation(exc), missing=True) from exc
    except DockerException as exc:
        raise EngineError(_explanation(exc)) from exc


def _explanation(exc: Exception) -> str:
    return str(getattr(exc, "explanation", None) or exc)


# --- connecting ---------------------------------------------------------------------------------------------


def engine_address() -> str:
    """Where the SDK looks for the engine: `$DOCKER_HOST`, else the default local socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


def sdk_version() -> str | None:
    """The Docker SDK's version, or None when it is not installed."""
    try:
        import docker
    except ImportError:
        return None
    return str(docker.__version__)


def connect(timeout: int = 60) -> Engine:
    """An engine that answers, or a SandboxError that says how to get one."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError as exc:
        raise SandboxError("the Docker SDK is not installed: pip install 'docker>=7'") from exc
    problem = f"no Docker engine answers at {engine_address()}: start dockerd or use --sandbox local"
    try:
        client = docker.from_env(timeout=timeout)
    except DockerException as exc:  # docker 7 asks the engine for its API version right here
        raise SandboxError(problem) from exc
    try:
        client.ping()
    except Exception as exc:  # requests' connection errors are not DockerExceptions
        client.close()
        raise SandboxError(problem) from exc
    return Engine(client)


# --- the grader's types -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mount:
    """A host directory, or a named volume, mounted into a container."""

    source: str
    target: str
    writable: bool = False


@dataclass(frozen=True)
class ContainerSpec:
    """One container to start. The hardening (user, read-only root, capabilities) is not the caller's choice."""

    image: str
    command: Sequence[str]
    name: str = ""  # "": the engine picks one
    labels: Mapping[str, str] = field(default_factory=dict)
    network: str = "none"  # "none", or "container:<id>" to join another container's namespace
    environment: Mapping[str, str] = field(default_factory=dict)
    working_dir: str | None = None  # None: the image's
    mounts: Sequence[Mount] = ()
    tmpfs: Mapping[str, str] = field(default_factory=dict)  # path -> mount options
    memory_mb: int = 512
    no_swap: bool = False  # whether memory+swap is capped at the memory limit too
    pids: int = 256
    cpus: float = 1.0
    init: bool = False  # tini as PID 1: reaps zombies and forwards signals
    log_max: str = "1m"  # json-file max-size; one file is kept

    def options(self) -> dict[str, Any]:
        """The SDK's `containers.run` options for this spec, hardening included."""
        options: dict[str, Any] = {
            "detach": True, "user": SANDBOX_USER, "read_only": True, "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"], "labels": dict(self.labels),
            "log_config": {"type": "json-file", "config": {"max-size": self.log_max, "max-file": "1"}},
            "network_mode": self.network, "mem_limit": f"{self.memory_mb}m", "pids_limit": self.pids,
            "nano_cpus": int(self.cpus * 1e9),
        }
        if self.name:
            options["name"] = self.name
        if self.environment:
            options["environment"] = dict(self.environment)
        if self.working_dir is not None:
            options["working_dir"] = self.working_dir
        if self.mounts:
            options["volumes"] = {m.source: {"bind": m.target, "mode": "rw" if m.writable else "ro"}
                                  for m in self.mounts}
        if self.tmpfs:
            options["tmpfs"] = dict(self.tmpfs)
        if self.no_swap:
            options["memswap_limit"] = f"{self.memory_mb}m"
        if self.init:
            options["init"] = True
        return options


class Container:
    """A container of the engine. Reading its state, logs or stats never raises: a container that is gone
    reads as exited, with no output."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    @property
    def id(self) -> str:
        """The engine's id of the container."""
        return str(self._handle.id)

    @property
    def name(self) -> str:
        """The container's name."""
        return str(self._handle.name)

    @property
    def labels(self) -> dict[str, str]:
        """The container's labels."""
        return dict(self._handle.labels or {})

    def state(self) -> dict[str, Any]:
        """The engine's State of the container (`Status`, `ExitCode`, `OOMKilled`, ...), read afresh."""
        try:
            self._handle.reload()
        except Exception:  # gone already: treat as exited
            return {"Status": "exited", "ExitCode": None}
        state: dict[str, Any] = self._handle.attrs.get("State", {})
        return state

    def wait(self, timeout_s: float) -> int | None:
        """Wait for the container to end; its exit code, or None when it did not end in time (or vanished)."""
        try:
            status = self._handle.wait(timeout=timeout_s)
        except Exception:  # the read timed out, or the container is gone
            return None
        code = status.get("StatusCode")
        return int(code) if code is not None else None

    def logs(self) -> str:
        """Everything the container printed (stdout and stderr), or "" when it cannot be read."""
        try:
            raw: bytes = self._handle.logs(stdout=True, stderr=True)
        except Exception:
            return ""
        return raw.decode("utf-8", errors="replace")

    def process_count(self) -> int | None:
        """How many processes it runs now, from the engine's one-shot stats (None: gone, or no stats)."""
        try:
            stats = self._handle.stats(stream=False, one_shot=True)
        except Exception:  # gone, or an engine without one-shot stats
            return None
        current = (stats.get("pids_stats") or {}).get("current")
        return current if isinstance(current, int) else None

    def restart(self, grace_s: float) -> None:
        """Stop it (SIGTERM, then SIGKILL after `grace_s`) and start it again, its volumes kept."""
        with _translated():
            self._handle.restart(timeout=grace_s)

    def send(self, signal_name: str) -> None:
        """Send `signal_name` (e.g. "SIGTERM") to its main process; already stopped or gone is fine."""
        with contextlib.suppress(Exception):
            self._handle.kill(signal=signal_name)

    def commit(self, reference: str, changes: Sequence[str]) -> str:
        """Save this (stopped) container's filesystem as the image `reference` (`repo:tag`), with Dockerfile-like
        `changes` applied to its configuration; the new image's id."""
        repository, _, tag = reference.rpartition(":")
        with _translated():
            image = self._handle.commit(repository=repository, tag=tag, changes=list(changes), pause=False)
        return str(image.id)

    def start(self) -> None:
        """Start it again after it stopped, its volumes kept; EngineError when the engine refuses."""
        with _translated():
            self._handle.start()

    def kill(self) -> None:
        """SIGKILL it; already stopped or gone is fine."""
        with contextlib.suppress(Exception):
            self._handle.kill()

    def remove(self) -> None:
        """Remove it, running or not, with its anonymous volumes; EngineError (`missing` when gone already)."""
        with _translated():
            self._handle.remove(force=True, v=True)

    def discard(self) -> None:
        """`remove`, where gone already or refused does not matter (teardown)."""
        with contextlib.suppress(Exception):
            self._handle.remove(force=True, v=True)


class Volume:
    """A named volume of the engine."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    @property
    def name(self) -> str:
        """The volume's name."""
        return str(self._handle.name)

    @property
    def labels(self) -> dict[str, str]:
        """The volume's labels."""
        return dict((self._handle.attrs or {}).get("Labels") or {})

    def remove(self) -> None:
        """Remove it; EngineError (`missing` when gone already, refused while a container uses it)."""
        with _translated():
            self._handle.remove(force=True)

    def discard(self) -> None:
        """`remove`, where gone already or refused does not matter (teardown)."""
        with contextlib.suppress(Exception):
            self._handle.remove(force=True)


class Network:
    """A network of the engine (the grader makes none today; older graders did, and cleanup removes them)."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    @property
    def name(self) -> str:
        """The network's name."""
        return str(self._handle.name)

    @property
    def labels(self) -> dict[str, str]:
        """The network's labels."""
        return dict((self._handle.attrs or {}).get("Labels") or {})

    def remove(self) -> None:
        """Remove it; EngineError (`missing` when gone already)."""
        with _translated():
            self._handle.remove()


@dataclass(frozen=True)
class Image:
    """An image of the engine."""

    id: str
    tags: tuple[str, ...]
    labels: Mapping[str, str]
    size: int  # bytes, shared layers included
    cmd: tuple[str, ...] = ()  # its CMD

    @classmethod
    def of(cls, handle: Any) -> Image:
        """The grader's view of an SDK image."""
        attrs = handle.attrs or {}
        return cls(str(handle.id), tuple(handle.tags or ()), dict(handle.labels or {}), int(attrs.get("Size", 0) or 0),
                   tuple((attrs.get("Config") or {}).get("Cmd") or ()))


# --- the engine ---------------------------------------------------------------------------------------------


class Engine:
    """A connection to one Docker engine; safe to share between threads (the SDK's client is)."""

    def __init__(self, client: Any) -> None:
        """Wrap an SDK client (`docker.from_env()`), or anything that behaves like one (a test's recorder)."""
        self._client = client

    def close(self) -> None:
        """Close the connection."""
        with contextlib.suppress(Exception):
            self._client.close()

    def version(self) -> dict[str, Any]:
        """The engine's version report (`Version`, `ApiVersion`, ...)."""
        with _translated():
            report: dict[str, Any] = self._client.version()
        return report

    # --- containers -----------------------------------------------------------------------------------------

    def run(self, spec: ContainerSpec, log: Log = _quiet) -> Container:
        """Create and start a hardened container. A start the engine fails in a way a second try usually does not
        meet is tried again (START_ATTEMPTS in all), the half-made container removed first so its name is free;
        `log` says so."""
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                with _translated():
                    handle = self._client.containers.run(spec.image, list(spec.command), **spec.options())
                detail.debug("started container %s from %s: %s", spec.name, spec.image, shlex.join(spec.command))
                return Container(handle)
            except EngineError as exc:
                if attempt == START_ATTEMPTS or not _transient_start_failure(exc):
                    raise
                log(f"the engine failed to start {spec.name}; trying again ({exc.explanation})")
                with contextlib.suppress(Exception):  # without a name there is nothing half-made to find
                    self._client.containers.get(spec.name).remove(force=True, v=True)
                time.sleep(0.2 * attempt)
        raise AssertionError("unreachable")

    def run_install(self, spec: ContainerSpec) -> Container:
        """Start `spec` as root with a writable root filesystem: an environment's install step, which writes into
        the image's root-owned venv to be committed. What a `docker build` RUN step had, minus every capability;
        the rest of the hardening, the network and the limits are the spec's."""
        from docker.types import Mount as SdkMount

        options = {**spec.options(), "user": "root", "read_only": False}
        # As mounts, not `volumes`: the SDK turns `volumes` into the container's VOLUME declarations too, which
        # a commit writes into the image, and every container of it would get an anonymous volume there.
        options.pop("volumes", None)
        options["mounts"] = [SdkMount(m.target, m.source, type="bind", read_only=not m.writable) for m in spec.mounts]
        with _translated():
            handle = self._client.containers.run(spec.image, list(spec.command), **options)
        return Container(handle)

    def containers(self, label: str) -> list[Container]:
        """Every container (running or not) carrying `label` (`name` or `name=value`); one removed while they
        are listed is left out."""
        with _translated():
            found = self._client.containers.list(all=True, filters={"label": label}, ignore_removed=True)
        return [Container(handle) for handle in found]

    # --- volumes and networks -------------------------------------------------------------------------------

    def create_tmpfs_volume(self, name: str, options: str, labels: Mapping[str, str]) -> Volume:
        """A named volume kept in memory (`options`: tmpfs mount options such as `size=64m,uid=10001`)."""
        with _translated():
            handle = self._client.volumes.create(
                name=name, driver="local", driver_opts={"type": "tmpfs", "device": "tmpfs", "o": options},
                labels=dict(labels),
            )
        return Volume(handle)

    def volumes(self, label: str) -> list[Volume]:
        """Every volume carrying `label`."""
        with _translated():
            return [Volume(handle) for handle in self._client.volumes.list(filters={"label": label})]

    def networks(self, label: str) -> list[Network]:
        """Every network carrying `label`."""
        with _translated():
            return [Network(handle) for handle in self._client.networks.list(filters={"label": label})]

    # --- images ---------------------------------------------------------------------------------------------

    def image(self, reference: str) -> Image | None:
        """The image under a tag or id, or None when the engine has none (nothing is pulled)."""
        try:
            with _translated():
                return Image.of(self._client.images.get(reference))
        except EngineError as exc:
            if exc.missing:
                return None
            raise

    def images(self, labels: Sequence[str] = (), dangling: bool = False) -> list[Image]:
        """The images carrying every one of `labels` (only untagged ones with `dangling`)."""
        filters: dict[str, Any] = {"label": list(labels)} if labels else {}
        if dangling:
            filters["dangling"] = True
        with _translated():
            return [Image.of(handle) for handle in self._client.images.list(filters=filters)]

    def remove_image(self, reference: str) -> None:
        """Untag (and, with its last tag, delete) an image; EngineError when the engine refuses (in use)."""
        with _translated():
            self._client.images.remove(reference, noprune=False)

    def image_usage(self) -> list[dict[str, Any]]:
        """The engine's disk usage report of its images (`Id`, `RepoTags`, `Labels`, `Size`, `SharedSize`, ...)."""
        with _translated():
            report = self._client.df()
        return list(report.get("Images") or [])

    def build(self, context: IO[bytes], *, tag: str, buildargs: Mapping[str, str], pull: bool,
              network_mode: str | None, labels: Mapping[str, str] | None = None,
              memory_mb: int | None = None, silent_timeout_s: float | None = None
              ) -> Generator[dict[str, Any], None, None]:
        """Build the tar `context` (a Dockerfile at its root) as `tag`; yield the engine's progress messages
        (`stream` lines, an `error`). Intermediate containers are removed, also when a step fails. `labels` go on
        the image, `memory_mb` caps each step's container (swap included), and `silent_timeout_s` ends the build
        (the connection is dropped, so the engine cancels it) when it prints nothing for that long."""
        extra: dict[str, Any] = {}
        if labels:
            extra["labels"] = dict(labels)
        if memory_mb is not None:
            extra["container_limits"] = {"memory": memory_mb * 2**20, "memswap": memory_mb * 2**20}
        with _translated():
            yield from self._client.api.build(
                fileobj=context, custom_context=True, tag=tag, buildargs=dict(buildargs), pull=pull,
                network_mode=network_mode, rm=True, forcerm=True, decode=True,
                timeout=silent_timeout_s,  # None: a silent pip install of a big wheel may take minutes
                **extra,
            )

    def import_image(self, tarball: Path, *, repository: str, tag: str, changes: Sequence[str]) -> str:
        """Import a root filesystem tar as `repository:tag` with Dockerfile-like `changes`; the engine's answer."""
        with _translated():
            # A path (not a file object) makes the SDK upload without a read timeout: the import takes a while.
            output = self._client.api.import_image(src=str(tarball), repository=repository, tag=tag,
                                                   changes=list(changes))
        return str(output)


def _transient_start_failure(exc: EngineError) -> bool:
    """An engine error on starting a fresh container that a second try usually does not meet."""
    return any(sign in exc.explanation for sign in TRANSIENT_START_SIGNS)
