"""Formatting for the templates (each is also a Jinja filter): numbers, durations, dates, colours, and
untrusted text made inert for HTML, XML and Markdown.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta
from urllib.parse import quote

from grader.app_log import not_ready_sentence
from grader.models import (
    AppRun,
    Finding,
)

MAX_MESSAGE_CHARS = 2000
MAX_LOG_LINES = 80


def fmt_number(value: float | None, digits: int = 1) -> str:
    """`81.0` -> `81`, `81.25` -> `81.3`, None -> `n/a`."""
    if value is None:
        return "n/a"
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_seconds(value: float | None) -> str:
    """Seconds for people: `0.32 s`, `12.4 s`, `2 min 05 s`."""
    if value is None:
        return "n/a"
    if value < 10:
        return f"{value:.2f} s"
    if value < 120:
        return f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds:02d} s"


def fmt_when(value: str) -> str:
    """`2026-11-26T01:53:33+00:00` -> `2026-11-26 01:53 UTC`; anything else unchanged."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.utcoffset() == timedelta(0):
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return moment.strftime("%Y-%m-%d %H:%M %z")


HEAT_STOPS: tuple[tuple[float, tuple[int, int, int]], ...] = (
    (0.0, (244, 199, 195)),
    (50.0, (252, 232, 178)),
    (100.0, (183, 225, 205)),
)


def heat_color(score: float | None) -> str:
    """A light background colour for a 0-100 score: red, amber, green; grey when not scored."""
    if score is None:
        return "#eef0f3"
    value = min(100.0, max(0.0, score))
    for (low, low_rgb), (high, high_rgb) in itertools.pairwise(HEAT_STOPS):
        if value <= high:
            share = (value - low) / (high - low)
            rgb = (round(a + (b - a) * share) for a, b in zip(low_rgb, high_rgb, strict=True))
            return "#" + "".join(f"{channel:02x}" for channel in rgb)
    return "#b7e1cd"


def clip(text: str | None, limit: int = MAX_MESSAGE_CHARS) -> str:
    """At most `limit` characters, with a marker when cut."""
    if not text:
        return ""
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit} more characters)"


def one_line(text: str | None, limit: int = 160) -> str:
    """The first line of `text`, at most `limit` characters (ellipsis when cut)."""
    first = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"


def log_excerpt(log: str, lines: int = MAX_LOG_LINES) -> str:
    """The last `lines` lines of a log."""
    kept = log.rstrip("\n").splitlines()[-lines:]
    return "\n".join(kept)


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(value: object) -> str:
    """Text with the characters XML 1.0 forbids (ANSI escapes, NUL, ...) removed; escaping is Jinja's."""
    return _XML_INVALID.sub("", "" if value is None else str(value))


def md_text(value: object, limit: int = 200) -> str:
    """Untrusted text made inert for Markdown: one line, no HTML, no table breaks, no links or emphasis."""
    text = " ".join(("" if value is None else str(value)).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|~])", r"\\\1", text)


def md_code(value: object, limit: int = 80) -> str:
    """Untrusted text for inside a Markdown code span: one line, no backticks or table pipes."""
    text = " ".join(("" if value is None else str(value)).split()).replace("`", "'").replace("|", "/")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def app_problem(app: AppRun) -> str:
    """`The app did not start: exited with code 3 ...`, whatever the recorded wording."""
    return not_ready_sentence(app.problem) + "."


def location(finding: Finding) -> str:
    """`file:line`, `file` or an empty string."""
    if not finding.file:
        return ""
    return f"{finding.file}:{finding.line}" if finding.line is not None else finding.file


def metric_label(name: str) -> str:
    """`coverage_percent` -> `coverage percent`."""
    return name.replace("_", " ")


def href_path(path: str) -> str:
    """A relative path as a link target: each part percent-encoded, the slashes kept."""
    return "/".join(quote(part) for part in path.split("/"))
