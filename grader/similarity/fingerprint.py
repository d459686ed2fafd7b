"""Fingerprints of a submission's Python code: normalized tokens, winnowed k-grams (the MOSS method).

Read as text only (the standard library's `tokenize`, never `import` or `ast` on the candidate's behalf):
identifiers become `V`, strings `S`, numbers `N`; comments, blank lines and indentation widths are dropped,
the block structure (INDENT/DEDENT, end of statement) is kept. Every run of `k` tokens is hashed, and in each
window of `window` consecutive hashes the smallest is kept (Schleimer, Wilkerson and Aiken, 2003): any
match of at least `k + window - 1` tokens is found, with a few fingerprints per line instead of one per token.
"""

from __future__ import annotations

import io
import keyword
import os
import tokenize
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Folders that are never the candidate's own code (virtualenvs, caches, vendored packages).
SKIPPED_DIRS = frozenset({
    ".git", ".venv", "venv", "env", ".env", "site-packages", "node_modules", "__pycache__", ".tox", ".nox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", "build", "dist",
})
MAX_FILE_BYTES = 256_000  # larger .py files are generated or vendored, not written by hand
_DROPPED = frozenset({tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER})
_KEYWORDS = frozenset(keyword.kwlist)


@dataclass(frozen=True)
class Token:
    """One normalized token and the source lines it spans."""

    text: str
    start_line: int
    end_line: int


@dataclass(frozen=True)
class Fingerprint:
    """A kept k-gram hash and the lines of its file that the k tokens span."""

    hash: int
    start_line: int
    end_line: int


def normalized_tokens(source: str) -> list[Token]:
    """The tokens of Python `source` with identifiers and literals normalized; an unreadable tail is cut off.

    A file with a syntax error keeps the tokens before it: a half-broken file is still evidence.
    """
    tokens: list[Token] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            text = _normal_form(tok)
            if text is not None:
                tokens.append(Token(text, tok.start[0], tok.end[0]))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return tokens


def _normal_form(tok: tokenize.TokenInfo) -> str | None:
    """What a token counts as when comparing code: None drops it."""
    kind = tok.type
    if kind in _DROPPED:
        return None
    if kind == tokenize.NAME:
        return tok.string if tok.string in _KEYWORDS else "V"
    if kind == tokenize.STRING or kind in _FSTRING_PARTS:
        return "S"
    if kind == tokenize.NUMBER:
        return "N"
    if kind == tokenize.NEWLINE:
        return ";"
    if kind == tokenize.INDENT:
        return "{"
    if kind == tokenize.DEDENT:
        return "}"
    return tok.string


# Python 3.12 splits f-strings into parts; each part is a string for comparison purposes.
_FSTRING_PARTS = frozenset(
    getattr(tokenize, name) for name in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END") if hasattr(tokenize, name)
)


_MODULUS = (1 << 61) - 1  # a Mersenne prime: k-gram hashes are polynomials in the tokens' codes modulo it
_BASE = 1_000_003


def kgram_hashes(tokens: list[Token], k: int) -> list[Fingerprint]:
    """A stable hash of every run of `k` tokens (a rolling Rabin-Karp hash), with the lines the run spans.

    Each token's code is its text's CRC-32, so the hashes are the same in every process and every run.
    """
    if len(tokens) < k:
        return []
    codes = [zlib.crc32(token.text.encode()) + 1 for token in tokens]
    top = pow(_BASE, k - 1, _MODULUS)
    value = 0
    for code in codes[:k]:
        value = (value * _BASE + code) % _MODULUS
    grams = [Fingerprint(value, tokens[0].start_line, tokens[k - 1].end_line)]
    for start in range(1, len(tokens) - k + 1):
        value = ((value - codes[start - 1] * top) * _BASE + codes[start + k - 1]) % _MODULUS
        grams.append(Fingerprint(value, tokens[start].start_line, tokens[start + k - 1].end_line))
    return grams


def winnow(grams: list[Fingerprint], window: int) -> list[Fingerprint]:
    """The k-grams robust winnowing keeps: the smallest hash of each window (the rightmost on a tie), once."""
    if len(grams) <= window:
        return [min(reversed(grams), key=lambda gram: gram.hash)] if grams else []
    kept: list[Fingerprint] = []
    chosen = -1
    for end in range(window - 1, len(grams)):
        start = end - window + 1
        if chosen < start:  # the minimum left the window: look again
            chosen = min(range(start, end + 1), key=lambda index: (grams[index].hash, -index))
            kept.append(grams[chosen])
        elif grams[end].hash <= grams[chosen].hash:
            chosen = end
            kept.append(grams[chosen])
    return kept


def fingerprint_source(source: str, k: int, window: int) -> list[Fingerprint]:
    """The winnowed fingerprints of one file's Python source."""
    return winnow(kgram_hashes(normalized_tokens(source), k), window)


def python_files(root: Path) -> Iterator[tuple[str, Path]]:
    """Every .py file under `root` worth comparing, as (path relative to root with '/', absolute path), sorted.

    Symbolic links are not followed: a snapshot holds none, and a reference corpus must not lead elsewhere.
    """
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(name for name in dirs if name not in SKIPPED_DIRS and not name.endswith(".egg-info"))
        for name in sorted(files):
            path = Path(folder) / name
            if name.endswith(".py") and not path.is_symlink() and path.stat().st_size <= MAX_FILE_BYTES:
                yield path.relative_to(root).as_posix(), path


def fingerprint_tree(root: Path, k: int, window: int) -> dict[str, list[Fingerprint]]:
    """Fingerprints of every Python file under `root`, by relative path (files with none left out)."""
    found: dict[str, list[Fingerprint]] = {}
    for rel, path in python_files(root):
        prints = fingerprint_source(path.read_text(encoding="utf-8", errors="replace"), k, window)
        if prints:
            found[rel] = prints
    return found
