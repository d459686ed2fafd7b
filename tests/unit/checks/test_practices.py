"""checks.practices, run for real (hadolint, detect-secrets, ast) as the sandbox runs it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from checks.formats import CATEGORY_IDS
from checks.practices import builtin_dockerfile_rules, requirement_pinned
from grader.checks.registry import PRACTICES
from grader.checks.spec import CheckContext

from .test_common import (
    BAD,
    FASTAPI_REF,
    GOOD,
    REPO_ROOT,
    assert_crash,
    bare_python,
    readonly,
    run_check,
    snapshot,
)

__all__ = ["readonly"]  # the fixture, imported for pytest

FLAGS = ("has_pinned_dependencies", "has_dockerfile", "has_ci_config", "has_migrations", "has_env_example",
         "has_readme_run_instructions", "logging_configured", "uses_context_managers", "uses_generators",
         "defines_decorators")


def test_interface() -> None:
    assert (PRACTICES.id, PRACTICES.runs_in) == ("practices", "tools")
    assert PRACTICES.command(CheckContext("/s", "/o"))[:3] == ["python", "-m", "checks.practices"]


def test_good_sample_shows_every_practice(tmp_path: Path) -> None:
    run = run_check("practices", GOOD, tmp_path)
    assert run.returncode == 0, run.stderr
    assert {name: run.metrics[name] for name in FLAGS} == dict.fromkeys(FLAGS, 1.0)
    assert run.metrics["pinned_share"] == 100
    assert run.metrics["dockerfile_issues"] == run.metrics["secrets_found"] == run.metrics["committed_env_file"] == 0
    assert (run.metrics["async_handlers_share"], run.metrics["blocking_calls_in_async"]) == (100, 0)
    assert run.metrics["idiom_share"] == 100
    assert run.findings == []
    assert run.report is not None and set(run.report["tools"]) == {"hadolint", "detect-secrets"}


def test_bad_sample_findings(tmp_path: Path) -> None:
    run = run_check("practices", BAD, tmp_path)
    assert run.returncode == 0, run.stderr
    metrics = run.metrics
    for name in ("has_ci_config", "has_migrations", "has_env_example", "has_readme_run_instructions",
                 "has_pinned_dependencies", "logging_configured", "uses_generators", "defines_decorators"):
        assert metrics[name] == 0, name
    assert (metrics["has_dockerfile"], metrics["committed_env_file"]) == (1, 1)
    assert metrics["pinned_share"] == 33.33
    assert metrics["async_handlers_share"] == round(100 * 2 / 3, 2)
    assert metrics["blocking_calls_in_async"] == 3
    assert metrics["secrets_found"] == 3
    assert metrics["dockerfile_issues"] == 8
    assert metrics["idiom_share"] == 40  # context managers and async handlers of five idioms
    located = run.located()
    assert {
        ("Dockerfile", 1, "DL3007"), ("Dockerfile", 2, "DL3020"), ("Dockerfile", 4, "DL3015"),
        ("Dockerfile", 6, "DL3042"),  # the `# hadolint ignore=` pragma is not honoured
        ("Dockerfile", None, "GDF002"),  # no USER: built-in rule, hadolint has none
        (".env", None, "committed-env-file"), (".env", 1, "secret"),
        ("app.py", 7, "secret"), ("app.py", 8, "secret"),  # `# pragma: allowlist secret` is not honoured
        ("app.py", 59, "blocking-in-async"), ("app.py", 60, "blocking-in-async"), ("app.py", 67, "blocking-in-async"),
        ("requirements.txt", 1, "unpinned-dependency"), ("requirements.txt", 2, "unpinned-dependency"),
        ("broken.py", 1, "syntax-error"),
        (None, None, "no-ci"), (None, None, "no-migrations"), (None, None, "no-env-example"),
        (None, None, "no-readme-run"), (None, None, "no-logging-configured"), (None, None, "unpinned-dependencies"),
    } <= located
    categories = {item["rule"]: item["category"] for item in run.findings}
    assert categories["no-ci"] == "testing"
    assert categories["no-migrations"] == "databases"
    assert categories["no-logging-configured"] == "observability"
    assert categories["secret"] == categories["DL3020"] == "infrastructure"
    assert categories["blocking-in-async"] == "python_fundamentals"
    assert all(item["category"] in CATEGORY_IDS for item in run.findings)
    blocking = next(item for item in run.findings if item["rule"] == "blocking-in-async")
    assert blocking["message"] == "blocking call `time.sleep` inside `async def get_order` stalls the event loop"


def test_builtin_dockerfile_rules_when_hadolint_is_unavailable(tmp_path: Path) -> None:
    run = run_check("practices", BAD, tmp_path, env={"GRADER_HADOLINT": "none"})
    assert run.returncode == 0, run.stderr
    assert run.report is not None and run.report["tools"]["dockerfile-rules"] == "builtin"
    assert "hadolint" not in run.report["tools"]
    docker = {(f["line"], f["rule"]) for f in run.findings if f["file"] == "Dockerfile"}
    assert docker == {(1, "GDF001"), (2, "GDF003"), (4, "GDF004"), (6, "GDF005"), (7, "GDF006"), (None, "GDF002")}
    assert run.metrics["dockerfile_issues"] == 7  # apt-get: two GDF004 on line 4


def test_builtin_rules_on_a_tidy_multistage_dockerfile() -> None:
    text = ("FROM python:3.11-slim AS build\nRUN pip install --no-cache-dir build\n"
            "FROM build\nRUN apt-get update && apt-get install -y --no-install-recommends curl \\\n"
            "    && rm -rf /var/lib/apt/lists/*\nUSER 10001\n")
    assert builtin_dockerfile_rules(text, "Dockerfile", only_user=False) == []


@pytest.mark.parametrize(("spec", "pinned"), [
    ("fastapi==0.115.12", True), ("uvicorn[standard]==0.34.2 ; python_version >= '3.8'", True),
    ("pkg===1.0", True), ("lib @ https://example.invalid/lib-1.0.whl", True),
    ("fastapi", False), ("fastapi>=0.110", False), ("django==4.*", False), ("x>=1,<2", False),
    ("--index-url https://example.invalid", None),
])
def test_requirement_pinned(spec: str, pinned: bool | None) -> None:
    assert requirement_pinned(spec) is pinned


def test_lockfiles_pyproject_and_poetry(tmp_path: Path) -> None:
    poetry = tmp_path / "poetry"
    poetry.mkdir()
    (poetry / "pyproject.toml").write_text(
        '[tool.poetry.dependencies]\npython = "^3.11"\nfastapi = "0.115.12"\nuvicorn = "^0.34"\n'
        '[tool.poetry.group.dev.dependencies]\npytest = {version = "8.3.5"}\n')
    run = run_check("practices", poetry, tmp_path / "out1")
    assert (run.metrics["pinned_share"], run.metrics["has_pinned_dependencies"]) == (round(200 / 3, 2), 0)
    assert ("pyproject.toml", 4, "unpinned-dependency") in run.located()
    (poetry / "poetry.lock").write_text("# lock\n")
    run = run_check("practices", poetry, tmp_path / "out2")
    assert (run.metrics["pinned_share"], run.metrics["has_pinned_dependencies"]) == (100, 1)
    assert "unpinned-dependency" not in run.rules()


def test_empty_repository(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    run = run_check("practices", tmp_path / "sub", tmp_path / "out")
    assert run.returncode == 0, run.stderr
    assert run.metrics["async_handlers_share"] == -1 and run.metrics["idiom_share"] == 0
    assert {"no-dockerfile", "no-dependency-manifest", "no-ci", "no-migrations"} <= run.rules()


def test_django_reference_has_no_fastapi_handlers(tmp_path: Path) -> None:
    run = run_check("practices", REPO_ROOT / "challenges/hello-api/solutions/django-ref", tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.metrics["async_handlers_share"] == -1
    assert run.metrics["has_migrations"] == 1 and run.metrics["logging_configured"] == 1


def test_fastapi_reference_on_a_read_only_copy(tmp_path: Path, readonly: Callable[[Path], Path]) -> None:
    submission = readonly(FASTAPI_REF)
    before = snapshot(submission)
    run = run_check("practices", submission, tmp_path / "out")
    assert run.returncode == 0, run.stderr
    assert snapshot(submission) == before
    metrics = run.metrics
    assert (metrics["has_pinned_dependencies"], metrics["pinned_share"]) == (1, 100)
    assert (metrics["uses_context_managers"], metrics["uses_generators"], metrics["defines_decorators"]) == (1, 1, 0)
    assert (metrics["async_handlers_share"], metrics["blocking_calls_in_async"]) == (0, 0)
    assert (metrics["has_dockerfile"], metrics["secrets_found"], metrics["logging_configured"]) == (0, 0, 0)
    assert metrics["idiom_share"] == 40
    print(f"practices on fastapi-ref: {run.seconds:.2f}s")


def test_deterministic(tmp_path: Path) -> None:
    assert run_check("practices", BAD, tmp_path / "1").raw == run_check("practices", BAD, tmp_path / "2").raw


def test_missing_tools_are_a_crash(tmp_path: Path) -> None:
    assert_crash(run_check("practices", GOOD, tmp_path, python=bare_python(), env={"GRADER_HADOLINT": "none"}),
                 "practices", "detect-secrets")


def test_missing_submission_is_a_crash(tmp_path: Path) -> None:
    assert_crash(run_check("practices", tmp_path / "missing", tmp_path), "practices", "not found")


def test_candidate_modules_never_shadow_the_tools(tmp_path: Path) -> None:
    submission = tmp_path / "sub"
    submission.mkdir()
    for module in ("yaml", "requests", "detect_secrets"):
        (submission / f"{module}.py").write_text("raise SystemExit('HOSTILE: imported by the tool')\n")
    run = run_check("practices", submission, tmp_path / "out")
    assert run.returncode == 0, run.stderr


# --- secrets with judgement (tests/fixtures/practices/) --------------------------------------------------------

PRACTICE_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "practices"


def test_development_credentials_are_information_not_secrets(tmp_path: Path) -> None:
    run = run_check("practices", PRACTICE_FIXTURES / "dev-credentials", tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.metrics["secrets_found"] == 0
    assert run.metrics["dev_credentials_found"] == 8
    assert "secret" not in run.rules()
    credentials = [item for item in run.findings if item["rule"] == "dev-credential"]
    assert {(item["file"], item["line"]) for item in credentials} == {
        (".env.testing", 1), (".github/workflows/tests.yml", 10), (".github/workflows/tests.yml", 12),
        (".github/workflows/tests.yml", 13), ("compose.yaml", 5), ("compose.yaml", 9), ("compose.yaml", 10),
        ("README.md", 5)}
    assert {item["severity"] for item in credentials} == {"info"}
    messages = {item["file"]: item["message"] for item in credentials}
    assert "in a CI configuration" in messages[".github/workflows/tests.yml"]
    assert "in a Docker Compose file" in messages["compose.yaml"]
    assert "in an example or test environment file" in messages[".env.testing"]
    assert "in a connection URL to a local server" in messages["README.md"]  # `...@localhost:5432/notes`
    assert "costs nothing" in messages["compose.yaml"]


def test_a_string_literal_comparison_is_not_a_secret(tmp_path: Path) -> None:
    run = run_check("practices", PRACTICE_FIXTURES / "literal-comparison", tmp_path)
    assert run.returncode == 0, run.stderr
    # `if OVERRIDE_TOKEN_EXPIRATION == "TRUE":` and `PASSWORD_POLICY != "relaxed-..."` read settings
    assert (run.metrics["secrets_found"], run.metrics["dev_credentials_found"]) == (0, 0)
    assert not {"secret", "dev-credential"} & run.rules()


def test_a_hard_coded_key_in_app_code_is_a_secret(tmp_path: Path) -> None:
    run = run_check("practices", PRACTICE_FIXTURES / "hardcoded-key", tmp_path)
    assert run.returncode == 0, run.stderr
    assert (run.metrics["secrets_found"], run.metrics["dev_credentials_found"]) == (2, 0)
    key, url = sorted((item for item in run.findings if item["rule"] == "secret"), key=lambda item: item["file"])
    assert (key["file"], key["line"], key["severity"]) == ("app.py", 6, "warning")
    assert "Hex High Entropy String" in key["message"] and "environment" in key["message"]
    # a password in a URL to a remote host is no development credential
    assert (url["file"], url["line"], url["severity"]) == ("db.py", 3, "warning")
