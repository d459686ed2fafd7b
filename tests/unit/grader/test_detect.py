"""Tests for grader.detect: real project layouts on disk, parsed (never imported)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.detect import DJANGO_COMMAND, NO_START_COMMAND, NO_START_PROBLEM, detect_app
from grader.models import Severity
from tests.conftest import REPO_ROOT

FASTAPI_APP = "from fastapi import FastAPI\n\napp = FastAPI()\n"
FLASK_APP = "from flask import Flask\n\napp = Flask(__name__)\n"
UVICORN = "--host 127.0.0.1 --port $PORT"
FLASK_RUN = "run --host 127.0.0.1 --port $PORT"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def uvicorn(target: str, app_dir: str = "") -> str:
    return f"python -m uvicorn {target}{f' --app-dir {app_dir}' if app_dir else ''} {UVICORN}"


# --- explicit commands ------------------------------------------------------------------------------


def test_pyproject_start_wins_over_procfile_and_auto(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": '[tool.grader]\nstart = "  gunicorn -k uvicorn.workers.UvicornWorker main:app  "\n',
            "Procfile": "web: python main.py\n",
            "main.py": FASTAPI_APP,
        },
    )
    spec = detect_app(tmp_path, ["fastapi"])
    assert spec.start_command == "gunicorn -k uvicorn.workers.UvicornWorker main:app"
    assert spec.source == "pyproject"
    assert spec.framework == "fastapi"  # detected from the code even though the command was given
    assert spec.findings == ()


def test_procfile_web_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"Procfile": "release: python migrate.py\nweb:   gunicorn wsgi:application --bind 127.0.0.1:$PORT\n"},
    )
    spec = detect_app(tmp_path, ["Django==5.0", "gunicorn"])
    assert spec.start_command == "gunicorn wsgi:application --bind 127.0.0.1:$PORT"
    assert spec.source == "procfile"
    assert spec.framework == "django"  # nothing detectable in the code: taken from the requirements


def test_procfile_without_web_line_falls_back_to_auto(tmp_path: Path) -> None:
    write(tmp_path, {"Procfile": "worker: python worker.py\n", "app.py": FLASK_APP})
    spec = detect_app(tmp_path, ["flask"])
    assert spec.source == "auto"
    assert spec.start_command == f"python -m flask --app app:app {FLASK_RUN}"


@pytest.mark.parametrize(
    "start",
    ["start = 42", 'start = ""', 'start = "python main.py\\nrm -rf /"', f'start = "{"x" * 3000}"'],
)
def test_unusable_pyproject_start_is_reported_and_skipped(tmp_path: Path, start: str) -> None:
    write(tmp_path, {"pyproject.toml": f"[tool.grader]\n{start}\n", "main.py": FASTAPI_APP})
    spec = detect_app(tmp_path, ["fastapi", "uvicorn"])
    assert spec.source == "auto"
    assert [f.rule for f in spec.findings] == ["detect.bad-command"]
    assert spec.findings[0].file == "pyproject.toml"


def test_invalid_pyproject_is_reported_and_skipped(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": "[tool.grader\nstart = 1", "Procfile": "web: python run.py\n"})
    spec = detect_app(tmp_path, [])
    assert (spec.source, spec.start_command) == ("procfile", "python run.py")
    assert [f.rule for f in spec.findings] == ["detect.invalid-toml"]


def test_procfile_worker_line_is_the_worker(tmp_path: Path) -> None:
    write(tmp_path, {"Procfile": "web: python app.py\nworker:  python -m jobs.worker \n"})
    spec = detect_app(tmp_path, [])
    assert (spec.start_command, spec.source) == ("python app.py", "procfile")
    assert (spec.worker_command, spec.worker_source) == ("python -m jobs.worker", "procfile")


def test_pyproject_worker_wins_over_the_procfiles_and_goes_with_any_start_command(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": '[tool.grader]\nworker = "celery -A tasks worker"\n',
                     "Procfile": "worker: python worker.py\n", "main.py": FASTAPI_APP})
    spec = detect_app(tmp_path, ["fastapi", "uvicorn"])
    assert spec.source == "auto"  # the app's command is found as ever
    assert (spec.worker_command, spec.worker_source) == ("celery -A tasks worker", "pyproject")


def test_no_worker_unless_declared(tmp_path: Path) -> None:
    write(tmp_path, {"Procfile": "web: python app.py\nrelease: python migrate.py\n"})
    spec = detect_app(tmp_path, [])
    assert (spec.worker_command, spec.worker_source) == (None, None)


def test_unusable_worker_command_is_reported_and_skipped(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": '[tool.grader]\nstart = "python app.py"\nworker = 7\n'})
    spec = detect_app(tmp_path, [])
    assert spec.start_command == "python app.py" and spec.worker_command is None
    assert [(f.rule, f.message) for f in spec.findings] == [(
        "detect.bad-command", "The worker command in pyproject.toml is not a non-empty string, so it was ignored; "
        "fix it.")]


def test_pyproject_without_tool_grader_is_ignored(tmp_path: Path) -> None:
    write(
        tmp_path, {"pyproject.toml": '[project]\nname = "x"\n[tool.ruff]\nline-length = 100\n', "main.py": FASTAPI_APP}
    )
    assert detect_app(tmp_path, ["fastapi", "uvicorn"]).source == "auto"


# --- Django -----------------------------------------------------------------------------------------


def test_django_is_detected_from_manage_py(tmp_path: Path) -> None:
    write(tmp_path, {"manage.py": "import django\n", "config/settings.py": "DEBUG = False\n"})
    spec = detect_app(tmp_path, ["django==5.0"])
    assert (spec.framework, spec.source) == ("django", "auto")
    assert spec.start_command == DJANGO_COMMAND
    assert spec.start_command == (
        "python manage.py migrate --noinput && python manage.py runserver 127.0.0.1:$PORT --noreload"
    )
    assert spec.findings == ()


def test_django_without_django_requirement_is_flagged(tmp_path: Path) -> None:
    write(tmp_path, {"manage.py": ""})
    spec = detect_app(tmp_path, [])
    assert [f.message for f in spec.findings] == [
        "django is not a dependency, so the app cannot start; add it to the requirements."
    ]


# --- FastAPI ----------------------------------------------------------------------------------------


def test_fastapi_in_main_module(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": FASTAPI_APP})
    spec = detect_app(tmp_path, ["fastapi>=0.110", "uvicorn[standard]"])
    assert (spec.framework, spec.source) == ("fastapi", "auto")
    assert spec.start_command == uvicorn("main:app")
    assert spec.findings == ()


def test_fastapi_without_uvicorn_is_flagged(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": FASTAPI_APP})
    spec = detect_app(tmp_path, ["fastapi"])
    assert spec.start_command == uvicorn("main:app")
    (finding,) = spec.findings
    assert finding.message.startswith("uvicorn is not a dependency, so the app cannot be served")
    assert finding.severity == Severity.WARNING


def test_fastapi_standard_extra_brings_uvicorn(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": FASTAPI_APP})
    assert detect_app(tmp_path, ["fastapi[standard]>=0.112"]).findings == ()


@pytest.mark.parametrize(
    ("code", "target"),
    [
        ("import fastapi\n\napi = fastapi.FastAPI(title='x')\n", "api"),
        ("from fastapi import FastAPI as F\n\napplication = F()\n", "application"),
        ("import fastapi as fa\n\nserver = fa.FastAPI()\n", "server"),
        ("from fastapi import FastAPI\n\napp: FastAPI = FastAPI(debug=True)\n", "app"),
        ("from fastapi import FastAPI\nfrom x import build\n\napp: FastAPI = build()\n", "app"),
    ],
)
def test_fastapi_spellings_in_a_package(tmp_path: Path, code: str, target: str) -> None:
    write(tmp_path, {"app/__init__.py": "", "app/main.py": code})
    assert detect_app(tmp_path, ["fastapi", "uvicorn"]).start_command == uvicorn(f"app.main:{target}")


def test_non_app_assignments_are_ignored(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "main.py": (
                "import other\nfrom fastapi import FastAPI\n\n"
                "app = other.FastAPI()\n"  # not the fastapi module
                "def factory():\n    inner = FastAPI()\n    return inner\n"  # not module level
                "if __name__ == '__main__':\n    served = FastAPI()\n"
            )
        },
    )
    spec = detect_app(tmp_path, ["fastapi"])
    assert spec.start_command is None
    assert [f.message for f in spec.findings] == [NO_START_COMMAND]


def test_src_layout_uses_app_dir(tmp_path: Path) -> None:
    write(tmp_path, {"src/shop/__init__.py": "", "src/shop/api.py": FASTAPI_APP})
    assert detect_app(tmp_path, ["fastapi", "uvicorn"]).start_command == uvicorn("shop.api:app", "src")


def test_src_that_is_a_package_is_imported_from_the_root(tmp_path: Path) -> None:
    write(tmp_path, {"src/__init__.py": "", "src/main.py": FASTAPI_APP})
    assert detect_app(tmp_path, ["fastapi", "uvicorn"]).start_command == uvicorn("src.main:app")


def test_directory_that_is_not_an_identifier_becomes_the_app_dir(tmp_path: Path) -> None:
    write(tmp_path, {"my-service/app/__init__.py": "", "my-service/app/main.py": FASTAPI_APP})
    spec = detect_app(tmp_path, ["fastapi", "uvicorn"])
    assert spec.start_command == uvicorn("app.main:app", "my-service")


def test_tests_and_junk_directories_are_not_searched(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "tests/conftest.py": FASTAPI_APP,
            "tests/helpers.py": FASTAPI_APP,
            "test_api.py": FASTAPI_APP,
            "api_test.py": FASTAPI_APP,
            ".venv/lib/site.py": FASTAPI_APP,
            "env/pyvenv.cfg": "home = /usr\n",
            "env/lib/site.py": FASTAPI_APP,
            "node_modules/x.py": FASTAPI_APP,
            "service/server.py": FASTAPI_APP,
        },
    )
    assert detect_app(tmp_path, ["fastapi", "uvicorn"]).start_command == uvicorn("service.server:app")


def test_shallow_paths_and_main_or_app_modules_are_preferred(tmp_path: Path) -> None:
    write(tmp_path, {"deep/er/api.py": FASTAPI_APP, "zzz.py": FASTAPI_APP, "app.py": FASTAPI_APP})
    assert detect_app(tmp_path, ["fastapi", "uvicorn"]).start_command == uvicorn("app:app")
    write(tmp_path, {"main.py": FASTAPI_APP})
    assert detect_app(tmp_path, ["fastapi", "uvicorn"]).start_command == uvicorn("main:app")


def test_unparseable_and_hostile_files_are_skipped(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "broken.py": "from fastapi import FastAPI\napp = FastAPI(\n",
            "deep.py": "FastAPI = 1\nx = " + "(" * 5000 + ")" * 5000 + "\n",
            "main.py": FASTAPI_APP,
        },
    )
    (tmp_path / "nulls.py").write_bytes(b"from fastapi import FastAPI\x00\napp = FastAPI()\n")
    (tmp_path / "latin.py").write_bytes(b"# \xff\xfe\nfrom fastapi import FastAPI\napp = FastAPI()\n")
    assert detect_app(tmp_path, ["fastapi", "uvicorn"]).start_command == uvicorn("main:app")


def test_symlinked_module_outside_the_project_is_not_read(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside", {"secret.py": FASTAPI_APP})
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.py").symlink_to(outside / "secret.py")
    (project / "pkg").symlink_to(outside, target_is_directory=True)
    assert detect_app(project, ["fastapi"]).start_command is None


def test_code_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    write(tmp_path, {"main.py": f"open({str(marker)!r}, 'w').close()\n" + FASTAPI_APP})
    detect_app(tmp_path, ["fastapi", "uvicorn"])
    assert not marker.exists()


# --- Flask ------------------------------------------------------------------------------------------


def test_flask_app_object(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": FLASK_APP})
    spec = detect_app(tmp_path, ["Flask>=3"])
    assert (spec.framework, spec.source) == ("flask", "auto")
    assert spec.start_command == f"python -m flask --app app:app {FLASK_RUN}"
    assert spec.findings == ()


def test_flask_factory(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "shop/__init__.py": (
                "from flask import Flask\n\ndef create_app(config=None):\n    app = Flask(__name__)\n    return app\n"
            )
        },
    )
    spec = detect_app(tmp_path, ["flask"])
    assert spec.start_command == f"python -m flask --app 'shop:create_app()' {FLASK_RUN}"


def test_flask_object_preferred_over_factory_in_the_same_module(tmp_path: Path) -> None:
    code = "from flask import Flask\n\ndef create_app():\n    return Flask('y')\n\nweb = Flask('x')\n"
    write(tmp_path, {"app.py": code})
    assert detect_app(tmp_path, ["flask"]).start_command == f"python -m flask --app app:web {FLASK_RUN}"


def test_create_app_that_builds_no_flask_app_is_not_a_flask_factory(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": "from fastapi import FastAPI\n\ndef create_app():\n    return FastAPI()\n"})
    spec = detect_app(tmp_path, ["fastapi"])
    assert (spec.framework, spec.start_command) == ("fastapi", None)


def test_flask_src_layout_uses_pythonpath(tmp_path: Path) -> None:
    write(tmp_path, {"src/blog/__init__.py": "", "src/blog/web.py": FLASK_APP})
    spec = detect_app(tmp_path, ["flask"])
    assert spec.start_command == f"PYTHONPATH=src python -m flask --app blog.web:app {FLASK_RUN}"


def test_flask_without_flask_requirement_is_flagged(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": FLASK_APP})
    assert [f.rule for f in detect_app(tmp_path, []).findings] == ["detect.missing-dependency"]


def test_requirements_decide_between_frameworks(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": FLASK_APP, "main.py": FASTAPI_APP})
    assert detect_app(tmp_path, ["flask"]).framework == "flask"
    assert detect_app(tmp_path, ["fastapi", "uvicorn"]).framework == "fastapi"


# --- nothing found ----------------------------------------------------------------------------------


def test_nothing_found(tmp_path: Path) -> None:
    write(tmp_path, {"script.py": "print('hello')\n"})
    spec = detect_app(tmp_path, [])
    assert (spec.framework, spec.start_command, spec.source) == (None, None, None)
    (finding,) = spec.findings
    assert finding.message == NO_START_COMMAND
    assert NO_START_COMMAND == "no start command: add [tool.grader] start to pyproject.toml or a Procfile web: line"


BROKEN = REPO_ROOT / "tests" / "fixtures" / "broken-code"


def test_an_app_module_that_does_not_parse_is_named_with_its_line() -> None:
    spec = detect_app(BROKEN / "unparsable-app", ["fastapi==0.115.12", "uvicorn==0.34.2"])
    assert spec.start_command is None
    assert spec.problem == "main.py:12 does not parse ('(' was never closed), so no app could be found in it"
    (finding,) = spec.findings
    assert (finding.file, finding.line, finding.rule, finding.severity) == (
        "main.py", 12, "detect.unparsable", Severity.ERROR)
    assert finding.message == f"{spec.problem}; fix the syntax error."


def test_python_2_code_is_named_as_not_parsing() -> None:
    spec = detect_app(BROKEN / "python2", ["Flask==3.1.1"])
    assert (spec.framework, spec.start_command) == ("flask", None)
    assert spec.problem == ("app.py:13 does not parse (Missing parentheses in call to 'print'. Did you mean "
                            "print(...)?), so no app could be found in it")


def test_the_likeliest_app_module_is_named_first(tmp_path: Path) -> None:
    write(tmp_path, {"pkg/api.py": "from fastapi import FastAPI\napp = FastAPI(\n",
                     "main.py": "from fastapi import FastAPI\n\napp = FastAPI()\nif True\n"})
    spec = detect_app(tmp_path, ["fastapi"])
    assert spec.problem is not None and spec.problem.startswith("main.py:4 does not parse (")
    assert "(nor do 1 other file(s) naming FastAPI or Flask)" in spec.problem


def test_a_module_that_does_not_parse_does_not_hide_a_good_one(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": "from fastapi import FastAPI\napp = FastAPI(\n", "service.py": FASTAPI_APP})
    spec = detect_app(tmp_path, ["fastapi", "uvicorn"])
    assert spec.start_command == uvicorn("service:app") and spec.problem is None


def test_nothing_found_says_so_in_the_problem(tmp_path: Path) -> None:
    write(tmp_path, {"script.py": "print('hello')\n"})
    assert detect_app(tmp_path, []).problem == NO_START_PROBLEM


def test_nothing_found_still_names_the_framework_from_requirements(tmp_path: Path) -> None:
    write(tmp_path, {"script.py": "print('hello')\n"})
    spec = detect_app(tmp_path, ["flask==3.0", "not a requirement!"])
    assert (spec.framework, spec.start_command) == ("flask", None)


def test_a_flask_manage_py_is_not_started_as_django() -> None:
    """a-r-g-v/realworld-flask and others: `manage.py` is a Flask CLI group there; starting it with
    `manage.py migrate` can only fail (docs/validity.md)."""
    spec = detect_app(REPO_ROOT / "tests" / "fixtures" / "submissions" / "flask-manage-py", ["flask==3.0.3"])
    assert spec.framework == "flask"
    assert spec.start_command is not None and "manage.py" not in spec.start_command
    assert "create_app" in spec.start_command
