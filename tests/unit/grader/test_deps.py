"""Tests for grader.deps: real requirement files, read without the package index (resolving them against the
index: tests/network/grader/test_deps.py)."""

from __future__ import annotations

from pathlib import Path

from grader.deps import read_dependencies, read_test_dependencies
from grader.models import Finding, Severity


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def ignored(findings: tuple[Finding, ...]) -> dict[int | None, str]:
    """Line number -> message of the "was ignored" findings."""
    return {f.line: f.message for f in findings if f.rule == "deps.ignored"}


# --- requirements.txt -------------------------------------------------------------------------------


def test_requirements_txt_keeps_index_requirements_and_markers(tmp_path: Path) -> None:
    write(
        tmp_path,
        "requirements.txt",
        "# the app\n"
        "\n"
        "Flask>=2.0  # web framework\n"
        "SQLAlchemy[asyncio]==2.0.25 \\\n"
        "    ; python_version >= '3.8'\n"
        "requests==2.31.0 \\\n"
        "    --hash=sha256:58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f\n"
        "tomli; python_version < '3.11'\n",
    )
    deps = read_dependencies(tmp_path)
    assert deps.source == "requirements.txt"
    assert deps.requirements == (
        "flask>=2.0",
        "requests==2.31.0",
        'sqlalchemy[asyncio]==2.0.25; python_version >= "3.8"',
        'tomli; python_version < "3.11"',
    )
    assert deps.findings == ()


def test_requirements_txt_excludes_everything_not_from_the_index(tmp_path: Path) -> None:
    lines = [
        "six==1.16.0",
        "pkg @ https://example.com/pkg-1.0-py3-none-any.whl",
        "https://example.com/other-1.0.tar.gz",
        "./libs/local",
        "/abs/path/thing",
        "file:///abs/thing",
        "vendor/lib-1.0.tar.gz",
        "-e .",
        "--editable ./plugin",
        "git+https://example.com/repo.git#egg=repo",
        "-i https://example.com/simple",
        "--index-url=https://example.com/simple",
        "--extra-index-url https://example.com/extra",
        "-f ./wheels",
        "--find-links https://example.com/links",
        "--trusted-host example.com",
        "-c constraints.txt",
        "--pre",
        "this is (not a requirement",
    ]
    write(tmp_path, "requirements.txt", "\n".join(lines) + "\n")
    deps = read_dependencies(tmp_path)
    assert deps.requirements == ("six==1.16.0",)
    messages = ignored(deps.findings)
    assert set(messages) == set(range(2, 19)), "every non-index line is reported with its line number"
    assert all("the grader installs only packages from the package index" in m for m in messages.values())
    assert "it is a URL" in messages[2] and "it is a URL" in messages[3]
    assert all("it is a local path" in messages[n] for n in (4, 5, 6, 7))
    assert "editable" in messages[8] and "editable" in messages[9]
    assert "version-control" in messages[10]
    assert all("index" in messages[n] for n in (11, 12, 13))
    assert "constraints" in messages[17]
    invalid = [f for f in deps.findings if f.rule == "deps.invalid"]
    assert [(f.line, f.file) for f in invalid] == [(19, "requirements.txt")]
    assert all(f.severity == Severity.WARNING and f.file == "requirements.txt" for f in deps.findings)


def test_requirements_includes_are_followed_inside_the_project_only(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write(project, "requirements.txt", "-r requirements/base.txt\n-r ../outside.txt\nflask\n")
    write(project, "requirements/base.txt", "--requirement=common.txt\nidna>=3\n-r ../requirements.txt\n")
    write(project, "requirements/common.txt", "six\n-rmissing.txt\n")
    write(tmp_path, "outside.txt", "evil-package\n")
    deps = read_dependencies(project)
    assert deps.requirements == ("flask", "idna>=3", "six")
    outside = [f for f in deps.findings if "outside the project" in f.message]
    assert [(f.file, f.line) for f in outside] == [("requirements.txt", 2)]
    missing = [f for f in deps.findings if f.rule == "deps.missing"]
    assert [f.file for f in missing] == ["requirements/missing.txt"]


def test_requirements_include_depth_is_limited(tmp_path: Path) -> None:
    for level in range(8):
        write(tmp_path, f"r{level}.txt", f"pkg{level}\n-r r{level + 1}.txt\n")
    write(tmp_path, "requirements.txt", "-r r0.txt\n")
    deps = read_dependencies(tmp_path)
    assert deps.requirements == ("pkg0", "pkg1", "pkg2", "pkg3", "pkg4")
    assert any("nested too deeply" in f.message for f in deps.findings)


def test_requirements_symlink_is_not_followed(tmp_path: Path) -> None:
    write(tmp_path, "secret.txt", "top-secret\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "requirements.txt").symlink_to(tmp_path / "secret.txt")
    deps = read_dependencies(project)
    assert deps.requirements == ()
    assert any("symlink" in f.message for f in deps.findings)


def test_duplicates_merge_and_names_are_canonical(tmp_path: Path) -> None:
    write(
        tmp_path,
        "requirements.txt",
        "Django>=4.2\ndjango<5\nDJANGO[argon2]\nzope.interface\n"
        "typing_extensions; python_version < '3.8'\ntyping-extensions>=4; python_version >= '3.8'\n",
    )
    assert read_dependencies(tmp_path).requirements == (
        "django[argon2]<5,>=4.2",
        'typing-extensions; python_version < "3.8"',
        'typing-extensions>=4; python_version >= "3.8"',
        "zope-interface",
    )


# --- psycopg2 -> psycopg2-binary ---------------------------------------------------------------------


def substituted(original: str, installed: str) -> str:
    """The exact finding text for a psycopg2 requirement replaced by its wheel twin."""
    return (
        f"The grader installs {installed!r} instead of {original!r}: PyPI ships psycopg2 for Linux only as source "
        "(building it needs libpq and a C compiler), and psycopg2-binary is the same module under the same import "
        "name and versions, published as wheels by the same project; require psycopg2-binary, or psycopg[binary] "
        "for psycopg 3, yourself to make this explicit."
    )


def test_psycopg2_in_requirements_txt_becomes_psycopg2_binary(tmp_path: Path) -> None:
    write(
        tmp_path,
        "requirements.txt",
        "fastapi==0.110.0\n"
        "psycopg2==2.9.9\n"
        "Psycopg2[extra]>=2.8,<3 ; sys_platform == 'linux'  # the same package, another marker\n",
    )
    deps = read_dependencies(tmp_path)
    assert deps.requirements == (
        "fastapi==0.110.0",
        "psycopg2-binary==2.9.9",
        'psycopg2-binary[extra]<3,>=2.8; sys_platform == "linux"',
    )
    assert [(f.file, f.line, f.severity, f.rule) for f in deps.findings] == [
        ("requirements.txt", 2, Severity.INFO, "deps.substituted"),
        ("requirements.txt", 3, Severity.INFO, "deps.substituted"),
    ]
    assert deps.findings[0].message == substituted("psycopg2==2.9.9", "psycopg2-binary==2.9.9")
    assert deps.findings[1].message == substituted(
        "Psycopg2[extra]>=2.8,<3 ; sys_platform == 'linux'",
        'psycopg2-binary[extra]<3,>=2.8; sys_platform == "linux"',
    )


def test_psycopg2_in_pyproject_forms_becomes_psycopg2_binary(tmp_path: Path) -> None:
    pep621 = '[project]\nname = "x"\ndependencies = ["psycopg2>=2.9; python_version >= \'3.8\'", "flask"]\n'
    deps = read_dependencies(write(tmp_path / "pep621", "pyproject.toml", pep621).parent)
    assert deps.requirements == ("flask", 'psycopg2-binary>=2.9; python_version >= "3.8"')
    (finding,) = deps.findings
    assert finding.file == "pyproject.toml" and finding.rule == "deps.substituted"
    assert finding.message == substituted(
        "psycopg2>=2.9; python_version >= '3.8'", 'psycopg2-binary>=2.9; python_version >= "3.8"'
    )

    poetry = '[tool.poetry.dependencies]\npython = "^3.11"\npsycopg2 = "^2.9.9"\n'
    deps = read_dependencies(write(tmp_path / "poetry", "pyproject.toml", poetry).parent)
    assert deps.requirements == ("psycopg2-binary<3.0.0,>=2.9.9",)
    assert [f.rule for f in deps.findings] == ["deps.substituted"]

    pipfile = write(tmp_path / "pipfile", "Pipfile", '[packages]\npsycopg2 = "==2.9.9"\n').parent
    assert read_dependencies(pipfile).requirements == ("psycopg2-binary==2.9.9",)


def test_wheel_twins_and_psycopg3_are_left_alone(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "psycopg2-binary==2.9.9\npsycopg[binary]>=3.1\npsycopg-pool\n")
    deps = read_dependencies(tmp_path)
    assert deps.requirements == ("psycopg-pool", "psycopg2-binary==2.9.9", "psycopg[binary]>=3.1")
    assert deps.findings == ()


def test_psycopg2_in_test_requirements_is_substituted_too(tmp_path: Path) -> None:
    write(tmp_path, "requirements-dev.txt", "pytest\npsycopg2\n")
    deps = read_test_dependencies(tmp_path)
    assert deps.requirements == ("psycopg2-binary", "pytest")
    assert [(f.file, f.line, f.rule) for f in deps.findings] == [("requirements-dev.txt", 2, "deps.substituted")]


# --- other sources ----------------------------------------------------------------------------------


def test_first_source_wins_and_the_others_are_named(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "flask\n")
    write(tmp_path, "pyproject.toml", '[project]\nname = "x"\ndependencies = ["fastapi"]\n')
    write(tmp_path, "Pipfile", '[packages]\ndjango = "*"\n')
    deps = read_dependencies(tmp_path)
    assert deps.requirements == ("flask",)
    info = [f for f in deps.findings if f.severity == Severity.INFO]
    assert len(info) == 1
    assert "pyproject.toml [project]" in info[0].message and "Pipfile" in info[0].message


def test_pep621_dependencies(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        '[project]\nname = "x"\ndependencies = [\n'
        '  "fastapi>=0.110",\n  "uvicorn[standard]",\n  "lib @ git+https://example.com/lib.git",\n  42,\n]\n',
    )
    deps = read_dependencies(tmp_path)
    assert deps.source == "pyproject.toml [project]"
    assert deps.requirements == ("fastapi>=0.110", "uvicorn[standard]")
    assert any(f.rule == "deps.ignored" and "version-control" in f.message for f in deps.findings)
    assert any(f.rule == "deps.invalid" and "42" in f.message for f in deps.findings)


def test_poetry_constraints_are_translated(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        """
[tool.poetry]
name = "x"

[tool.poetry.dependencies]
python = "^3.11"
fastapi = "^0.110.1"
pydantic = "^2.6.3"
httpx = "^1.2"
zeroes = "^0.0.3"
sqlalchemy = "~1.4"
alembic = "~1"
anyio = "*"
click = "8.1.7"
rich = ">=13.0, <14"
jinja2 = "~=3.1"
uvicorn = { version = "^0.29", extras = ["standard"] }
tomli = { version = "^2.0", markers = "python_version < '3.11'" }
optional-thing = { version = "^1.0", optional = true }
""",
    )
    deps = read_dependencies(tmp_path)
    assert deps.source == "pyproject.toml [tool.poetry]"
    assert deps.requirements == (
        "alembic<2,>=1",
        "anyio",
        "click==8.1.7",
        "fastapi<0.111.0,>=0.110.1",
        "httpx<2.0,>=1.2",
        "jinja2~=3.1",
        "pydantic<3.0.0,>=2.6.3",
        "rich<14,>=13.0",
        "sqlalchemy<1.5,>=1.4",
        'tomli<3.0,>=2.0; python_version < "3.11"',
        "uvicorn[standard]<0.30,>=0.29",
        "zeroes<0.0.4,>=0.0.3",
    )
    assert deps.findings == ()


def test_poetry_non_index_forms_are_reported(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        """
[tool.poetry.dependencies]
python = "^3.11"
flask = "^3.0"
mylib = { git = "https://example.com/mylib.git", branch = "main" }
locallib = { path = "../locallib", develop = true }
remote = { url = "https://example.com/remote-1.0.tar.gz" }
split = [{ version = "^1.0", python = "<3.10" }, { version = "^2.0", python = ">=3.10" }]
weird = "^1.0 || ^2.0"
""",
    )
    deps = read_dependencies(tmp_path)
    assert deps.requirements == ("flask<4.0,>=3.0",)
    text = " | ".join(f.message for f in deps.findings)
    for name in ("mylib", "locallib", "remote", "split", "weird"):
        assert name in text
    assert "version-control" in text and "local path" in text and "URL" in text


def test_pipfile_packages(tmp_path: Path) -> None:
    write(
        tmp_path,
        "Pipfile",
        """
[[source]]
url = "https://example.com/simple"
name = "private"

[packages]
flask = "*"
requests = "==2.31.0"
sqlalchemy = { version = ">=2.0", extras = ["asyncio"] }
pywin32 = { version = "*", sys_platform = "== 'win32'" }
mylib = { git = "https://example.com/mylib.git" }
localpkg = { path = "./localpkg", editable = true }

[dev-packages]
pytest = "*"
""",
    )
    deps = read_dependencies(tmp_path)
    assert deps.source == "Pipfile"
    assert deps.requirements == (
        "flask",
        'pywin32; sys_platform == "win32"',
        "requests==2.31.0",
        "sqlalchemy[asyncio]>=2.0",
    )
    assert {f.rule for f in deps.findings} == {"deps.ignored"}
    assert len(deps.findings) == 2


def test_no_source_gives_empty_set_and_a_warning(tmp_path: Path) -> None:
    write(tmp_path, "main.py", "print('hi')\n")
    write(tmp_path, "pyproject.toml", '[project]\nname = "x"\n')  # exists, but lists no dependencies
    deps = read_dependencies(tmp_path)
    assert deps.requirements == () and deps.source is None
    assert [f.severity for f in deps.findings] == [Severity.WARNING]


def test_invalid_pyproject_is_reported_and_the_next_source_used(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", "[project\ndependencies = [")
    write(tmp_path, "Pipfile", '[packages]\nflask = "*"\n')
    deps = read_dependencies(tmp_path)
    assert deps.requirements == ("flask",)
    assert any(f.rule == "deps.invalid-toml" and f.file == "pyproject.toml" for f in deps.findings)


# --- what never reaches the resolver (resolving itself: tests/network/grader/test_deps.py) ---------------


def test_non_index_requirements_never_reach_the_resolver(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "--index-url=http://127.0.0.1:9\nx @ https://example.com/x.whl\n")
    deps = read_dependencies(tmp_path)
    assert deps.requirements == ()
    assert len(deps.findings) == 2
