"""Building an image: the build context, the build itself with its log, and what a failed build said.

Every image of the grader is built from a Dockerfile shipped in `grader/sandbox/` through the engine gateway
(`grader.engine`), never the docker CLI. Parallel gradings that need the same image wait for one build
(`key_lock`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import tarfile
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import IO

from grader import cache
from grader.engine import Engine, EngineError
from grader.errors import SandboxError

Log = Callable[[str], None]
detail = logging.getLogger(__name__)  # `grader -v` shows these lines (build output)

_PYTHON_PATTERN = re.compile(r"^3\.\d{1,2}$")
_FROM_STEP = re.compile(r"^Step \d+/\d+ : FROM\b", re.IGNORECASE)
TAIL_LINES = 25
_NON_ZERO = re.compile(r"returned a non-zero code: (\d+)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the classic builder colours a step's stderr red
# The classic builder's own lines between a step's output: image ids and container bookkeeping.
_BUILDER_CHATTER = re.compile(r"^\s*(---> |Running in |Removing intermediate container |Successfully )")


class BuildFailed(Exception):
    """A build ended in an error: the engine's message, the last output lines, and the step it died in."""

    def __init__(self, message: str, tail: Iterable[str], step: str) -> None:
        super().__init__(message)
        self.message = message.strip()
        self.tail = list(tail)
        self.step = step

    @property
    def at_from(self) -> bool:
        """Whether the build died getting its FROM image (a pull, or a missing local image)."""
        return bool(_FROM_STEP.match(self.step))

    def describe(self, sentence: str) -> str:
        """One sentence, then what the failing step printed last (where pip says what it could not find).

        The classic builder's error repeats the whole RUN command; its exit code is all the sentence needs.
        """
        exit_code = _NON_ZERO.search(self.message)
        reason = f"the step exited with code {exit_code.group(1)}" if exit_code else self.message
        lines = [f"{sentence} ({reason})."]
        if self.tail:
            where = self.step.split(" : ")[0].lower() if self.step else "the build"  # "step 8/14"
            lines.append(f"last output of {where}:")
            lines.extend(f"  {line}" for line in self.tail)
        return "\n".join(lines)


def check_python(python: str) -> None:
    """Refuse anything but a `3.N` Python version (it becomes part of image tags)."""
    if not _PYTHON_PATTERN.match(python):
        raise SandboxError(f"not a Python version: {python!r} (expected something like 3.11)")


def image_exists(engine: Engine, tag: str) -> bool:
    """Whether the engine holds an image under `tag` (no pull is attempted)."""
    return engine.image(tag) is not None


def short(image_id: str) -> str:
    """An image id as `docker images` shows it: 12 hex digits."""
    return image_id.removeprefix("sha256:")[:12]


def key_lock(key: str, log: Log) -> contextlib.AbstractContextManager[None]:
    """An exclusive lock per image key, shared by every grader process on this host."""
    return cache.entry_lock(
        "images", key, on_wait=lambda: log(f"waiting for another grading that is building the image for {key[:20]}")
    )


def build_logged(tag: str, base: str, build: Callable[[], str], log: Log) -> str:
    """Run `build` (of `tag` on `base`) between two log lines; a failed build is one SandboxError."""
    log(f"building {tag} from {base}")
    try:
        image_id = build()
    except BuildFailed as failure:
        raise SandboxError(failure.describe(f"could not build {tag} from {base}")) from None
    log(f"built {tag} ({short(image_id)})")
    return image_id


def image_ids(engine: Engine, tags: Iterable[str]) -> list[str]:
    """The ids the engine holds under these tags now (a rebuild may move the tags elsewhere)."""
    return [image.id for tag in tags if (image := engine.image(tag)) is not None]


def drop_replaced(engine: Engine, old_ids: Iterable[str], log: Log) -> None:
    """Delete images a rebuild replaced, so a re-bootstrap does not leave 150 MB behind each time.

    An image that kept a tag (the rebuild came out identical) stays. So does an old base that env images
    were built on: the engine refuses to delete it, and those images still work until they are pruned.
    """
    for old_id in old_ids:
        image = engine.image(old_id)
        if image is None or image.tags:
            continue
        with contextlib.suppress(EngineError):
            engine.remove_image(old_id)
            log(f"removed the replaced image {short(old_id)}")


def dockerfile(name: str) -> bytes:
    """A Dockerfile template shipped inside the grader package."""
    return (resources.files("grader.sandbox") / name).read_bytes()


@contextlib.contextmanager
def build_context(
    dockerfile: bytes, files: Mapping[str, bytes | Path] | None = None, dirs: Sequence[str] = ()
) -> Iterator[IO[bytes]]:
    """A build context as a tar in a temporary file (wheels can be large), removed after the build."""
    with tempfile.TemporaryFile(prefix="grader-context-") as handle:
        with tarfile.open(fileobj=handle, mode="w") as archive:
            _add_bytes(archive, "Dockerfile", dockerfile)
            for directory in dirs:  # present even when empty, so COPY always finds it
                info = tarfile.TarInfo(directory)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                archive.addfile(info)
            for name, content in (files or {}).items():
                if isinstance(content, Path):
                    archive.add(content, arcname=name, recursive=False)
                else:
                    _add_bytes(archive, name, content)
        handle.seek(0)
        yield handle


def _add_bytes(archive: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(content), 0o644
    archive.addfile(info, io.BytesIO(content))


def run_build(
    engine: Engine,
    context: IO[bytes],
    *,
    tag: str,
    buildargs: Mapping[str, str],
    pull: bool,
    network_mode: str | None,
    log: Log,
) -> str:
    """Run one build, logging its steps; return the new image's id or raise BuildFailed."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    step = ""
    try:
        for chunk in engine.build(context, tag=tag, buildargs=buildargs, pull=pull, network_mode=network_mode):
            for raw in str(chunk.get("stream", "")).splitlines():
                line = _ANSI.sub("", raw).rstrip()
                if line.startswith("Step "):
                    step = line
                    tail.clear()  # keep only what the current step printed
                    log(line)
                elif line and not _BUILDER_CHATTER.match(line):
                    tail.append(line)
                    detail.debug("%s", line)
            if chunk.get("error"):
                raise BuildFailed(str(chunk["error"]), tail, step)
    except EngineError as exc:  # the engine refused the build outright (bad context, unknown option, ...)
        raise BuildFailed(exc.explanation, tail, step) from exc
    image = engine.image(tag)
    if image is None:
        raise BuildFailed(f"the build ended but no image is tagged {tag}", tail, step)
    return image.id
