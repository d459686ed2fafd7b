"""The running grader as a wheel file, for candidate kits: the grader the hiring team grades with.

An installed grader (from a wheel) is packed again from its own installed files, listed in its RECORD, so
no network and no build tool are needed. A grader installed in editable mode (a checkout, `pip install -e`)
has no such files: its source tree is built into a wheel with uv's build frontend.

A kit's wheel (`candidate_wheel`) is that wheel without the bundled challenges' `hidden/` and `solutions/`
folders: the same code and the same pinned tools, and nothing a candidate must not see.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
import zipfile
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path, PurePosixPath

from grader import DISTRIBUTION
from grader.paths import PACKAGE_DIR
from grader.processes import TimedOut
from grader.processes import run as run_process
from grader.uv import uv_binary

# Files an installer adds to dist-info; a wheel does not carry them.
INSTALLER_FILES = frozenset({"INSTALLER", "REQUESTED", "direct_url.json", "RECORD"})
BUILD_TIMEOUT_S = 600
PRIVATE_FOLDERS = frozenset({"hidden", "solutions"})


class DistributionError(Exception):
    """The running grader cannot be made into a wheel (say why, in one sentence)."""


def own_wheel(dest: Path) -> Path:
    """Write the running grader's wheel into `dest` and return its path."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        installed = distribution(DISTRIBUTION)
    except PackageNotFoundError:
        installed = None
    if installed is None or _editable(installed):
        return _build_from_source(PACKAGE_DIR.parent, dest)
    return _repack(installed, dest)


def candidate_wheel(dest: Path) -> Path:
    """The running grader's wheel without any bundled challenge's hidden tests or solutions."""
    with tempfile.TemporaryDirectory(prefix="grader-wheel-") as scratch:
        full = own_wheel(Path(scratch))
        target = dest / full.name
        dest.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(full) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as wheel:
            kept = [name for name in source.namelist() if not _private(name)]
            record = next(name for name in kept if name.endswith(".dist-info/RECORD"))
            for name in kept:
                data = source.read(name)
                if name == record:
                    lines = data.decode("utf-8").splitlines()
                    data = ("\n".join(line for line in lines if not _private(line.split(",", 1)[0])) + "\n").encode()
                wheel.writestr(_entry(name), data)
    return target


def _private(name: str) -> bool:
    """A bundled challenge's hidden tests or solutions (`grader/_data/challenges/<id>/hidden/...`)."""
    parts = PurePosixPath(name).parts
    return parts[:3] == ("grader", "_data", "challenges") and len(parts) > 4 and parts[4] in PRIVATE_FOLDERS


def _editable(installed: Distribution) -> bool:
    text = installed.read_text("direct_url.json")
    if not text:
        return False
    try:
        return bool(json.loads(text).get("dir_info", {}).get("editable"))
    except ValueError:
        return False


def _build_from_source(root: Path, dest: Path) -> Path:
    if not (root / "pyproject.toml").is_file():
        raise DistributionError(f"the grader at {root} is neither installed from a wheel nor a source checkout")
    with tempfile.TemporaryDirectory(prefix="grader-wheel-") as scratch:
        try:
            done = run_process([uv_binary(), "build", "--wheel", "--out-dir", scratch, "--quiet", str(root)],
                               timeout_s=BUILD_TIMEOUT_S)
        except TimedOut as exc:
            raise DistributionError(f"building the grader's wheel from {root} took longer than {exc.timeout_s:g} s"
                                    "; build it yourself with `uv build --wheel`") from exc
        built = sorted(Path(scratch).glob("*.whl"))
        if done.returncode != 0 or not built:
            reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise DistributionError(f"the grader's wheel could not be built from {root}: {reason}")
        target = dest / built[0].name
        target.write_bytes(built[0].read_bytes())
    return target


def _repack(installed: Distribution, dest: Path) -> Path:
    """A wheel of the installed files (the ones RECORD lists inside site-packages) with a fresh RECORD."""
    info = next((PurePosixPath(str(f)).parts[0] for f in installed.files or ()
                 if str(f).endswith(".dist-info/METADATA")), None)
    if info is None:
        raise DistributionError("the installed grader has no METADATA in its RECORD; reinstall it")
    name = f"{info.removesuffix('.dist-info')}-py3-none-any.whl"
    target = dest / name
    records: list[str] = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as wheel:
        for entry in sorted(installed.files or (), key=str):
            relative = PurePosixPath(str(entry))
            if relative.parts[0] == ".." or "__pycache__" in relative.parts:
                continue  # console scripts live outside site-packages; bytecode is the installer's
            if relative.parts[0] == info and relative.name in INSTALLER_FILES:
                continue
            data = Path(str(entry.locate())).read_bytes()
            wheel.writestr(_entry(str(relative)), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            records.append(f"{relative},sha256={digest},{len(data)}")
        records.append(f"{info}/RECORD,,")
        wheel.writestr(_entry(f"{info}/RECORD"), "\n".join(records) + "\n")
    return target


def _entry(name: str) -> zipfile.ZipInfo:
    """A zip entry with a fixed date and mode, so the same grader always packs to the same bytes."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info
