"""Hints about a snapshot's files for the report: a docker-compose file that names a database or cache,
which the grader starts only when the challenge declares it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from grader.intake.files import _CONTROL_CHARS, IntakeError, read_candidate_bytes
from grader.models import Finding, Severity

# The names `docker compose` looks for, in its order of preference.
COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
_MAX_COMPOSE_BYTES = 256 * 1024
# Words in an image or service name for the backing services candidates most often run beside the app.
_BACKING_WORD = re.compile("postgres|postgis|redis|valkey")
# A block-style mapping key, optionally quoted, and what follows its colon.
_YAML_KEY = re.compile(r"""^(?P<quote>["']?)(?P<key>[A-Za-z0-9._-]+)(?P=quote)\s*:(?:\s+(?P<value>.*))?$""")
_YAML_COMMENT = re.compile(r"(^|\s)#.*$")


@dataclass
class _ComposeService:
    """One entry under a compose file's `services:` key."""

    name: str
    line: int
    image: str | None = None


def compose_hints(project_dir: Path) -> tuple[Finding, ...]:
    """INFO findings for compose services at the project's top level that name postgres/postgis/redis/valkey.

    The grader never runs docker compose: it starts the app and only the services the challenge declares
    (intake does not know the challenge, so the hint says so rather than judging). A compose file that
    cannot be read or parsed gives no finding: it is only ever a hint, and never stops intake.
    """
    findings: list[Finding] = []
    for name in COMPOSE_FILES:
        try:
            data = read_candidate_bytes(project_dir / name, _MAX_COMPOSE_BYTES)
        except (IntakeError, OSError):
            continue
        if data is not None:
            findings.extend(_compose_finding(name, service, word) for service, word in _backing_services(data))
    return tuple(findings)


def _backing_services(data: bytes) -> Iterator[tuple[_ComposeService, str]]:
    """Each service whose image (or, without a match there, its name) names a backing service, with the word."""
    for service in _compose_services(data.decode("utf-8-sig", "replace")):
        image = (service.image or "").lower().split("@")[0]  # a digest is hex: it could spell nothing useful
        match = _BACKING_WORD.search(image) or _BACKING_WORD.search(service.name.lower())
        if match is not None:
            yield service, match.group(0)


def _compose_finding(file: str, service: _ComposeService, word: str) -> Finding:
    """The hint for one service: what the compose file names, and that the challenge decides what runs."""
    image = f", image {_clip(service.image)}" if service.image else ""
    return Finding(
        message=(
            f"{file} names {word} (service {_clip(service.name)}{image}), but the grader never runs compose files: "
            "the challenge decides which services it starts, so this one is not started unless the challenge "
            "declares it."
        ),
        file=file,
        line=service.line,
        severity=Severity.INFO,
        rule="intake.compose-service",
    )


def _compose_services(text: str) -> list[_ComposeService]:
    """The services under the top-level `services:` key, read line by line from block-style YAML.

    Not a YAML parser (the grader has none at run time): it reads the shape every compose file is written
    in, `services:` at column 0, one key per service, `image:` inside it. Anything else yields nothing.
    """
    services: list[_ComposeService] = []
    inside, child_indent = False, 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _YAML_COMMENT.sub("", raw).rstrip()
        content = line.lstrip(" ")
        indent = len(line) - len(content)
        if not content or content.startswith(("---", "...")):
            continue
        if indent == 0:
            inside, child_indent = re.fullmatch(r"services\s*:", content) is not None, 0
            continue
        key = _YAML_KEY.match(content) if inside else None
        if key is None:
            continue
        if child_indent == 0 or indent <= child_indent:
            child_indent = indent
            services.append(_ComposeService(key.group("key"), number))
        elif key.group("key") == "image" and key.group("value") and services[-1].image is None:
            services[-1].image = key.group("value").strip().strip("\"'")
    return services


def _clip(text: str) -> str:
    """A candidate's name or image, printable and short enough for one sentence."""
    text = _CONTROL_CHARS.sub("?", text)
    return text if len(text) <= 60 else text[:57] + "..."
