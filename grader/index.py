"""The package index, read through its JSON API (PEP 691), and a content-addressed store of its files.

The resolver (uv) says *that* a requirement set cannot be resolved; the index says *why*, in structured
data: a project that does not exist (404), releases whose `requires-python` exclude the sandbox's Python,
releases with no wheel for the sandbox's platform (only a source archive, to be built in a container).
Only the index uv itself uses is asked (`grader.uv.index_url`), never a URL a candidate wrote.

Files (wheels, source archives) are downloaded once, checked against the sha256 the index published, and
kept in the store (`grader.cache.stored_file`: `files/<sha256>/<filename>`); wheel sets are hard links into it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

from packaging.specifiers import SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags, sys_tags
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from grader import cache
from grader.locks import python_allowed

HTTP_TIMEOUT_S = 120.0
DOWNLOAD_THREADS = 4
MAX_FILE_BYTES = 512 * 1024 * 1024
SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tgz")
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"


class IndexUnavailable(Exception):
    """The index could not be reached or answered nonsense: not the candidate's fault."""


@dataclass(frozen=True)
class IndexFile:
    """One file of a project on the index."""

    filename: str
    url: str
    sha256: str | None
    requires_python: str | None
    uploaded: datetime | None
    yanked: bool

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")

    @property
    def is_sdist(self) -> bool:
        return self.filename.endswith(SDIST_SUFFIXES)


@dataclass(frozen=True)
class Release:
    """The files of one version of a project."""

    version: Version
    files: tuple[IndexFile, ...]


def platform_tags(machine: str) -> list[str]:
    """Linux platform tags a container on this architecture accepts (Debian 12: glibc 2.36), newest first."""
    arch = {"arm64": "aarch64", "amd64": "x86_64"}.get(machine.lower(), machine.lower())
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(36, 16, -1)]
    return [*tags, f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}", f"linux_{arch}"]


def supported_tags(python: str, machine: str | None) -> frozenset[Tag]:
    """Wheel tags the sandbox installs: CPython `python` on Linux (`machine`), or this machine (None)."""
    if machine is None:
        return frozenset(sys_tags())
    version = tuple(int(part) for part in python.split("."))
    platforms = platform_tags(machine)
    interpreter = f"cp{version[0]}{version[1]}"
    return frozenset([*cpython_tags(version, platforms=platforms),
                      *compatible_tags(version, interpreter=interpreter, platforms=platforms)])


def wheel_fits(filename: str, tags: frozenset[Tag]) -> bool:
    """Whether a wheel's file name carries a tag the sandbox accepts."""
    try:
        return bool(parse_wheel_filename(filename)[3] & tags)
    except (InvalidWheelFilename, InvalidVersion):
        return False


class IndexClient:
    """PEP 691 JSON pages of the indexes uv uses, cached for the life of the client. As uv does by default
    ("first index"), a project comes from the first index, in priority order, that has it."""

    def __init__(self, base_urls: Sequence[str]) -> None:
        self.base_urls = [url if url.endswith("/") else url + "/" for url in base_urls]
        self._pages: dict[str, list[Release] | None] = {}

    def releases(self, name: str) -> list[Release] | None:
        """The project's releases, newest first; None when no index has such a project."""
        key = canonicalize_name(name)
        if key not in self._pages:
            self._pages[key] = next((found for url in self.base_urls if (found := self._fetch(url, key)) is not None),
                                    None)
        return self._pages[key]

    def _fetch(self, base_url: str, name: str) -> list[Release] | None:
        import httpx

        try:
            response = httpx.get(f"{base_url}{name}/", headers={"Accept": JSON_ACCEPT},
                                 timeout=HTTP_TIMEOUT_S, follow_redirects=True)
        except httpx.HTTPError as exc:
            raise IndexUnavailable(f"the package index could not be reached ({exc})") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200 or "json" not in response.headers.get("content-type", ""):
            raise IndexUnavailable(f"the package index answered {response.status_code} for {name}")
        return _releases(name, response.json().get("files", []), response.url)


def _releases(name: str, files: Iterable[object], page_url: object) -> list[Release]:
    by_version: dict[Version, list[IndexFile]] = {}
    for item in files:
        if not isinstance(item, dict) or not isinstance(item.get("filename"), str):
            continue
        version = _version_of(name, item["filename"])
        if version is None:
            continue
        by_version.setdefault(version, []).append(_index_file(item, str(page_url)))
    return [Release(version, tuple(by_version[version])) for version in sorted(by_version, reverse=True)]


def _index_file(item: dict[str, object], page_url: str) -> IndexFile:
    hashes = item.get("hashes")
    uploaded = item.get("upload-time")
    url = urljoin(page_url, str(item.get("url", "")))  # links may be relative to the page
    return IndexFile(
        filename=str(item["filename"]),
        url=url,
        sha256=str(hashes["sha256"]) if isinstance(hashes, dict) and "sha256" in hashes else None,
        requires_python=str(item["requires-python"]) if isinstance(item.get("requires-python"), str) else None,
        uploaded=_timestamp(uploaded) if isinstance(uploaded, str) else None,
        yanked=bool(item.get("yanked")),
    )


def _timestamp(text: str) -> datetime | None:
    with contextlib.suppress(ValueError):
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    return None


def _version_of(name: str, filename: str) -> Version | None:
    """The version in a wheel or sdist file name of project `name`."""
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        stem = next((filename[: -len(s)] for s in SDIST_SUFFIXES if filename.endswith(s)), None)
        if stem is None or "-" not in stem:
            return None
        project, _, version = stem.rpartition("-")
        return Version(version) if canonicalize_name(project) == canonicalize_name(name) else None
    except (InvalidWheelFilename, InvalidVersion):
        return None


def usable_releases(releases: Sequence[Release], specifier: SpecifierSet, python: str,
                    before: datetime | None) -> list[Release]:
    """Releases matching `specifier` with a file for `python`, uploaded before `before`, not yanked."""
    usable = []
    for release in releases:
        if not specifier.contains(release.version, prereleases=bool(specifier) and release.version.is_prerelease):
            continue
        files = tuple(f for f in release.files if not f.yanked
                      and (before is None or f.uploaded is None or f.uploaded <= before)
                      and (f.requires_python is None or python_allowed(f.requires_python, python)))
        if files:
            usable.append(Release(release.version, files))
    return usable


# --- downloads into the store (grader.cache) ------------------------------------------------------------


def fetch(url: str, sha256: str | None, filename: str) -> Path:
    """The file at `url`, from the store or downloaded and hash-checked into it."""
    if url.startswith("file://"):
        return Path(unquote(urlparse(url).path))
    if sha256 is None:
        raise IndexUnavailable(f"the index gave no sha256 for {filename}, so it was not downloaded")
    target = cache.stored_file(sha256, filename)
    if target.is_file():
        return target
    _download(url, sha256, target)
    return target


def fetch_all(files: Sequence[tuple[str, str | None, str]]) -> list[Path]:
    """`fetch` for many files at once (a few downloads in parallel), in the order given."""
    with ThreadPoolExecutor(max_workers=DOWNLOAD_THREADS) as pool:
        return list(pool.map(lambda item: fetch(*item), files))


def _download(url: str, sha256: str, target: Path) -> None:
    import httpx

    target.parent.mkdir(parents=True, exist_ok=True)
    # One partial file per download, not per process: the threads of one grading (and gradings at -j2)
    # may fetch the same file at once, and must not write into, or rename away, each other's.
    handle, partial_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    os.close(handle)
    partial = Path(partial_name)
    digest = hashlib.sha256()
    size = 0
    try:
        with httpx.stream("GET", url, timeout=HTTP_TIMEOUT_S, follow_redirects=True) as response:
            if response.status_code != 200:
                raise IndexUnavailable(f"downloading {target.name} failed with HTTP {response.status_code}")
            with partial.open("wb") as out:
                for chunk in response.iter_bytes(1024 * 1024):
                    size += len(chunk)
                    if size > MAX_FILE_BYTES:
                        raise IndexUnavailable(f"{target.name} is larger than {MAX_FILE_BYTES >> 20} MiB")
                    digest.update(chunk)
                    out.write(chunk)
        if digest.hexdigest() != sha256:
            raise IndexUnavailable(f"{target.name} did not match the sha256 the index published")
        partial.replace(target)
    except httpx.HTTPError as exc:
        raise IndexUnavailable(f"downloading {target.name} failed ({exc})") from exc
    finally:
        partial.unlink(missing_ok=True)
