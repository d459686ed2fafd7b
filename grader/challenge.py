"""Load and validate challenge bundles (`challenges/<id>/challenge.toml` and the folders beside it)."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

from pydantic import ValidationError

from grader.models import Challenge
from grader.paths import resource_dir
from grader.rules import effective_rules

MANIFEST = "challenge.toml"


class ChallengeError(Exception):
    """A bundle is missing or malformed; the message names the file and the field."""


def find_challenge_dir(id_or_path: str) -> Path:
    """A bundle directory from a path, or from the id of a bundle shipped with the grader."""
    given = Path(id_or_path).expanduser()
    if (given / MANIFEST).is_file():
        return given.resolve()
    if given.name == MANIFEST and given.is_file():
        return given.parent.resolve()
    try:
        shipped = resource_dir("challenges") / id_or_path
    except FileNotFoundError:
        shipped = None
    if shipped is not None and "/" not in id_or_path and (shipped / MANIFEST).is_file():
        return shipped.resolve()
    raise ChallengeError(
        f"no challenge {id_or_path!r}: give a bundle directory holding {MANIFEST} "
        f"or one of the shipped ids ({', '.join(list_shipped_challenges()) or 'none'})"
    )


def list_shipped_challenges() -> list[str]:
    """Ids of the bundles shipped with the grader."""
    try:
        root = resource_dir("challenges")
    except FileNotFoundError:
        return []
    return sorted(p.name for p in root.iterdir() if (p / MANIFEST).is_file())


def load_challenge(id_or_path: str, *, require_hidden: bool = True) -> Challenge:
    """Load, validate and return a challenge bundle; raise ChallengeError with one clear sentence.

    `require_hidden=False` accepts a candidate kit (public tests, no hidden suite): `grader check` only.
    """
    root = find_challenge_dir(id_or_path)
    manifest = root / MANIFEST
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ChallengeError(f"{manifest}: cannot be read as TOML ({exc})") from None
    try:
        challenge = Challenge.model_validate(data)
    except ValidationError as exc:
        raise ChallengeError(f"{manifest}: {_first_problem(exc)}") from None
    try:
        effective_rules(challenge.scoring, challenge.practices)
    except ValueError as exc:
        raise ChallengeError(f"{manifest}: field 'scoring.rules': {exc}") from None
    _check_layout(root, require_hidden)
    return challenge.model_copy(update={"root": str(root)})


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or "(top level)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"field '{field}': {error['msg']}{more}"


def _check_layout(root: Path, require_hidden: bool = True) -> None:
    if not (root / "README.md").is_file():
        raise ChallengeError(f"{root}: README.md (the assignment candidates read) is missing")
    hidden = root / "hidden"
    if has_tests(hidden):
        return
    if not require_hidden and has_tests(root / "public"):
        return
    if has_tests(root / "public"):
        raise ChallengeError(
            f"{root}: a candidate kit (public tests only, no hidden/): run `grader check` against it, "
            "or give the full bundle to `grader grade`"
        )
    raise ChallengeError(f"{hidden}: the hidden test suite (test_*.py files) is missing")


def has_tests(directory: Path) -> bool:
    """Whether `directory` holds at least one `test_*.py` file."""
    return directory.is_dir() and any(directory.rglob("test_*.py"))


def hidden_tests_dir(challenge: Challenge) -> Path:
    """The hidden suite: read only by the grader's runner, never by the candidate's app."""
    return Path(challenge.root) / "hidden"


def public_tests_dir(challenge: Challenge) -> Path:
    """The public suite: candidates get it in their kit, `grader check` runs it."""
    return Path(challenge.root) / "public"


def solutions_dir(challenge: Challenge) -> Path:
    return Path(challenge.root) / "solutions"


def starter_dir(challenge: Challenge) -> Path:
    """The candidate's starting point, shipped in the kit; it must fail the hidden suite."""
    return Path(challenge.root) / "starter"


def challenge_content_hash(challenge: Challenge) -> str:
    """sha256 over the bundle's manifest and hidden tests: a changed suite invalidates cached results."""
    root = Path(challenge.root)
    digest = hashlib.sha256()
    files = [root / MANIFEST, *sorted(p for p in (root / "hidden").rglob("*") if p.is_file())]
    for path in files:
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return "sha256:" + digest.hexdigest()
