"""Docker images against the real engine: the offline bootstrap, the base image, env images from wheels.

Images these tests build get a key unique to the test (`test-<uuid>`), so removing them afterwards never
touches a real environment image. The base image `grader-base:py3.11` is shared with real use: the tests
build it (offline) only when it is missing. The bootstrap test (in CI, or with GRADER_TEST_REBOOTSTRAP=1)
bootstraps into images named for itself, so gradings beside it on the engine keep their base.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.engine import Engine, connect
from grader.sandbox import images
from grader.sandbox.base import SandboxError
from grader.sandbox.images import environment
from tests.conftest import IN_CI, REPO_ROOT, skip_or_fail

pytestmark = pytest.mark.docker

PYTHON = "3.11"
BASE_TAG = "grader-base:py3.11"
SIX = "six==1.16.0"
OLDER_SETUPTOOLS = "setuptools==65.6.0"  # older than the base venv's (66.1.1 from Debian 12, later ones elsewhere)
MODES_PROBE = REPO_ROOT / "tests" / "fixtures" / "wheels" / "modes_probe"


def _quiet(_: str) -> None:
    """A log sink for calls whose progress lines the test does not look at."""


def _can_debootstrap() -> bool:
    return shutil.which("debootstrap") is not None and os.geteuid() == 0


def _run(client: Any, image: str, code: str, **options: Any) -> str:
    """Run `python -c code` in a throw-away container as the sandbox user, with no network."""
    output = client.containers.run(
        image,
        ["python", "-c", code],
        user="10001:10001",
        network_disabled=True,
        remove=True,
        **options,
    )
    return bytes(output).decode().strip()


def _download(requirement: str, directory: Path) -> None:
    """Download one wheel on the host as the grader's own downloader would (skip without an index)."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(directory),
         requirement], capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        skip_or_fail(f"could not download {requirement}: {result.stderr[-500:]}")


def _owner_only_wheel(source: Path, package: str, directory: Path) -> Path:
    """Pack `source/package` as a 1.0 wheel whose entries carry owner-only modes (files 0600, directories 0700)."""
    dist = package.replace("_", "-")
    info = f"{package}-1.0.dist-info"
    entries: dict[str, bytes] = {
        path.relative_to(source).as_posix(): path.read_bytes()
        for path in sorted((source / package).rglob("*")) if path.is_file() and "__pycache__" not in path.parts
    }
    entries[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n".encode()
    entries[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = "".join(f"{name},sha256={_digest(data)},{len(data)}\n" for name, data in entries.items())
    entries[f"{info}/RECORD"] = f"{record}{info}/RECORD,,\n".encode()
    wheel = directory / f"{package}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for folder in sorted({name.rsplit("/", 1)[0] + "/" for name in entries if "/" in name}):
            entry = zipfile.ZipInfo(folder)
            entry.external_attr = (0o040700 << 16) | 0x10
            archive.writestr(entry, b"")
        for name, data in entries.items():
            entry = zipfile.ZipInfo(name)
            entry.external_attr = 0o100600 << 16
            archive.writestr(entry, data)
    return wheel


def _digest(data: bytes) -> str:
    """A RECORD line's hash: urlsafe base64 of the sha256, unpadded."""
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


# --- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def base_image(docker_client: Any) -> str:
    """The base image, bootstrapped offline once if this engine does not have it yet."""
    if images.image_exists(Engine(docker_client), BASE_TAG):
        return BASE_TAG
    if not _can_debootstrap():
        skip_or_fail(f"{BASE_TAG} is missing and this host cannot bootstrap it (needs root and debootstrap)")
    return images.bootstrap_base_image(Engine(docker_client), PYTHON, log=_quiet)


@pytest.fixture
def new_key(docker_client: Any) -> Iterator[Callable[[], str]]:
    """Make image keys unique to this test, and remove every image built for them afterwards."""
    keys: list[str] = []

    def make() -> str:
        key = f"test-{uuid.uuid4().hex}"  # unique within the 20 characters a tag keeps
        keys.append(key)
        return key

    yield make
    if keys:
        images.remove_images(Engine(docker_client), ("env", "runner"), keys=set(keys))


@pytest.fixture(scope="session")
def six_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheels directory holding six, downloaded on the host as the grader's own downloader would."""
    directory = tmp_path_factory.mktemp("wheels")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "-d", str(directory), SIX],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        skip_or_fail(f"could not download {SIX}: {result.stderr[-500:]}")
    return directory


# --- no engine needed ---------------------------------------------------------------------------------


def test_base_image_tag_names_the_python() -> None:
    assert images.base_image_tag("3.11") == "grader-base:py3.11"
    with pytest.raises(SandboxError, match="not a Python version"):
        images.base_image_tag("latest")


def test_offline_bootstrap_names_the_supported_versions() -> None:
    with pytest.raises(SandboxError) as caught:
        images.bootstrap_base_image(None, "3.12", log=_quiet)  # fails before it would use the client
    assert "3.11" in str(caught.value)
    assert "3.13" in str(caught.value)


def test_connect_says_where_no_engine_answers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    address = f"unix://{tmp_path / 'no-engine.sock'}"
    monkeypatch.setenv("DOCKER_HOST", address)
    with pytest.raises(SandboxError, match="no Docker engine answers at") as caught:
        connect(timeout=5)
    assert address in str(caught.value)
    assert "--sandbox local" in str(caught.value)


@pytest.mark.parametrize(
    ("key", "requirements", "message"),
    [
        ("../escape", [], "invalid image key"),
        ("test-key", ["--index-url=http://example.invalid/simple"], "pip options are not allowed"),
        ("test-key", ["six\n-e ."], "one non-empty line"),
    ],
)
def test_ensure_python_image_rejects_bad_input(key: str, requirements: list[str], message: str) -> None:
    with pytest.raises(SandboxError, match=message):
        images.ensure_python_image(
            None, base=BASE_TAG, role="env", key=key, wheels_dir=None, requirements=requirements, log=_quiet
        )


# --- the base image ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_offline_bootstrap_builds_the_base_image(docker_client: Any) -> None:
    """debootstrap -> import -> base Dockerfile, for real (about a minute), into images of this test's own:
    the shared `grader-base:py3.11` that other gradings on the engine build on is never replaced."""
    if not IN_CI and os.environ.get("GRADER_TEST_REBOOTSTRAP") != "1":  # CI must prove the offline path
        pytest.skip("the offline bootstrap takes a minute; set GRADER_TEST_REBOOTSTRAP=1 to run it")
    if not _can_debootstrap():
        skip_or_fail("the offline bootstrap needs root and debootstrap")
    run = uuid.uuid4().hex[:8]
    base_tag, rootfs_tag = f"grader-test-base-{run}:py{PYTHON}", f"grader-test-rootfs-{run}:bookworm"
    engine = Engine(docker_client)
    # An older image under the tag, used by nothing else: a re-bootstrap must not leave it behind.
    old = _labelled_scratch_image(docker_client, base_tag, run)
    before = set(Path(tempfile.gettempdir()).glob("grader-bootstrap-*"))
    lines: list[str] = []
    try:
        tag = images.bootstrap_base_image(engine, PYTHON, log=lines.append, tag=base_tag, rootfs_tag=rootfs_tag)

        assert tag == base_tag
        assert images.image_exists(engine, rootfs_tag)
        labels = docker_client.images.get(tag).labels
        assert labels["grader.role"] == "base"
        assert labels["grader.python"] == PYTHON
        assert any("Base system installed successfully" in line for line in lines)
        assert any(line.startswith("imported the root filesystem") for line in lines)
        assert not [line for line in lines if line.startswith("I: Unpacking lib")], "per-package noise logged"
        assert set(Path(tempfile.gettempdir()).glob("grader-bootstrap-*")) == before, "temp rootfs left behind"
        assert not images.image_exists(engine, old), "the replaced base image was left behind"
        assert _run(docker_client, tag, "import sys; print('%d.%d' % sys.version_info[:2])").strip() == PYTHON
    finally:
        for reference in (base_tag, rootfs_tag, old):
            with contextlib.suppress(Exception):
                docker_client.images.remove(reference, force=True)


def _labelled_scratch_image(docker_client: Any, tag: str, run: str) -> str:
    """An empty image unique to this test (its label), tagged `tag`; return its id."""
    import io

    dockerfile = f"FROM scratch\nLABEL grader.test-image={run}\n".encode()
    image, _ = docker_client.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, rm=True)
    return str(image.id)


def test_base_image_has_the_venv_the_user_and_the_path(docker_client: Any, base_image: str) -> None:
    code = (
        "import os, pwd, sys; "
        "print(sys.executable, '%d.%d' % sys.version_info[:2]); "
        "print(pwd.getpwuid(os.getuid()).pw_name, pwd.getpwuid(os.getuid()).pw_dir); "
        "print(os.environ['PATH'].split(':')[0], os.getcwd()); "
        "print(os.stat('/data').st_uid, os.access('/data', os.W_OK), os.access('/app', os.W_OK))"
    )
    lines = _run(docker_client, base_image, code).splitlines()
    assert lines == [
        f"/opt/venv/bin/python {PYTHON}",
        "sandbox /home/sandbox",
        "/opt/venv/bin /app",
        "10001 True False",
    ]
    pip = _run(docker_client, base_image, "import pip; print(pip.__file__)")
    assert pip.startswith("/opt/venv/")


# --- environment images --------------------------------------------------------------------------------


@pytest.fixture(params=["chosen", "pip"])
def installer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The installer the grader picks for this engine (uv, on a Linux host), then pip, which a host whose uv
    cannot run in the engine's containers (macOS, another architecture) gets."""
    if request.param == "chosen":
        return environment.choose_installer(connect()).name
    pip = environment.Installer("pip", environment.PIP_INSTALL_SCRIPT, None)
    monkeypatch.setattr(environment, "choose_installer", lambda engine: pip)
    return "pip"


def test_on_a_linux_host_the_graders_own_uv_installs(docker_client: Any) -> None:
    if sys.platform != "linux":
        pytest.skip("the host's uv runs in the engine's containers only on a Linux host")
    chosen = environment.choose_installer(Engine(docker_client))
    assert chosen.name == "uv" and chosen.binary is not None and os.access(chosen.binary, os.X_OK)


def test_env_image_installs_wheels_offline_and_is_reused(
    docker_client: Any, base_image: str, six_wheels: Path, new_key: Callable[[], str], installer: str
) -> None:
    key = new_key()
    lines: list[str] = []

    built = images.ensure_python_image(
        Engine(docker_client),
        base=base_image,
        role="env",
        key=key,
        wheels_dir=six_wheels,
        requirements=[SIX],
        log=lines.append,
    )

    assert built.tag == f"grader-env:{key[:20]}"
    assert not built.reused
    assert "installed 1 package(s)" in lines  # the installer's summary, counted
    output = _run(
        docker_client, built.tag, "import glob, os, six; print(six.__version__, os.getuid(), "
        "glob.glob('/tmp/**/*.whl', recursive=True), glob.glob('/tmp/grader-install/*'), "
        "len(glob.glob(os.path.dirname(six.__file__) + '/__pycache__/six.*.pyc')), os.path.exists('/opt/venv/.lock'))"
    )
    # No wheel, no installer left in the image; the bytecode compiled (the sandbox's root is read-only).
    assert output == "1.16.0 10001 [] [] 1 False", installer
    image = docker_client.images.get(built.tag)
    assert image.labels["grader.role"] == "env"
    assert image.labels["grader.key"] == key
    assert image.labels.get("grader.managed", "") == "", "the image carries the install container's labels"
    assert image.attrs["Config"]["Cmd"] == docker_client.images.get(base_image).attrs["Config"]["Cmd"]
    assert not image.attrs["Config"].get("Volumes"), "the install's mounts became the image's volumes"
    assert docker_client.containers.list(all=True, filters={"label": f"grader.build-key={key}"}) == [], (
        "the install container was left behind")

    again = images.ensure_python_image(
        Engine(docker_client),
        base=base_image,
        role="env",
        key=key,
        wheels_dir=six_wheels,
        requirements=[SIX],
        log=_quiet,
    )

    assert again.reused
    assert again.id == built.id


def test_env_image_layout_serves_the_sandbox_user_and_the_candidates_pins_win(
    docker_client: Any, base_image: str, tmp_path: Path, new_key: Callable[[], str], installer: str
) -> None:
    """Without a `chmod -R` over the venv, files a wheel packs owner-only are still readable by the sandbox user;
    a candidate's pin of a package the base venv has (setuptools) replaces it, and pip still works."""
    wheels = tmp_path / "wheels"
    _download(OLDER_SETUPTOOLS, wheels)
    _owner_only_wheel(MODES_PROBE, "grader_modes_probe", wheels)
    ref = images.ensure_python_image(
        Engine(docker_client), base=base_image, role="env", key=new_key(), wheels_dir=wheels,
        requirements=["grader-modes-probe==1.0", OLDER_SETUPTOOLS], log=_quiet,
    )
    output = _run(docker_client, ref.tag, "import glob, importlib.metadata as m, grader_modes_probe, setuptools; "
                                          "print(grader_modes_probe.VALUE); print(setuptools.__version__, "
                                          "m.version('setuptools'), len(glob.glob('/opt/venv/lib/python3.11/"
                                          "site-packages/setuptools-*.dist-info')))")
    assert output.splitlines() == ["readable by the sandbox user", "65.6.0 65.6.0 1"]
    pip = docker_client.containers.run(ref.tag, ["python", "-m", "pip", "--version"], user="10001:10001",
                                       network_disabled=True, remove=True)
    assert bytes(pip).decode().startswith("pip ")


def test_missing_wheel_fails_with_the_installers_error(
    docker_client: Any, base_image: str, six_wheels: Path, new_key: Callable[[], str], installer: str
) -> None:
    key = new_key()
    with pytest.raises(SandboxError) as caught:
        images.ensure_python_image(
            Engine(docker_client),
            base=base_image,
            role="env",
            key=key,
            wheels_dir=six_wheels,
            requirements=[SIX, "grader-no-such-package==1.0"],
            log=_quiet,
        )
    message = str(caught.value)
    assert message.splitlines()[0].startswith(f"could not build grader-env:{key[:20]}: {installer} could not install")
    assert "grader-no-such-package" in message
    assert not images.image_exists(Engine(docker_client), f"grader-env:{key[:20]}")
    assert docker_client.containers.list(all=True, filters={"label": f"grader.build-key={key}"}) == [], (
        "the failed install's container was left behind")


def test_empty_requirements_give_the_base_venv(docker_client: Any, base_image: str, new_key: Callable[[], str]) -> None:
    ref = images.ensure_python_image(
        Engine(docker_client),
        base=base_image,
        role="runner",
        key=new_key(),
        wheels_dir=None,
        requirements=[],
        log=_quiet,
    )
    assert ref.tag.startswith("grader-runner:")
    assert _run(docker_client, ref.tag, "import sys; print(sys.prefix)") == "/opt/venv"


def test_parallel_requests_for_one_key_build_once(
    docker_client: Any, base_image: str, six_wheels: Path, new_key: Callable[[], str]
) -> None:
    key = new_key()
    results: list[images.ImageRef] = []
    errors: list[BaseException] = []

    def grade() -> None:
        try:
            results.append(
                images.ensure_python_image(
                    Engine(docker_client),
                    base=base_image,
                    role="env",
                    key=key,
                    wheels_dir=six_wheels,
                    requirements=[SIX],
                    log=_quiet,
                )
            )
        except BaseException as exc:  # surfaced below, in the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=grade) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=900)  # three preparations of one small image; only a hang reaches this

    assert errors == []
    assert sorted(ref.reused for ref in results) == [False, True, True]
    assert len({ref.id for ref in results}) == 1


def test_missing_base_image_says_to_bootstrap(docker_client: Any, new_key: Callable[[], str]) -> None:
    with pytest.raises(SandboxError, match="grader sandbox bootstrap"):
        images.ensure_python_image(
            Engine(docker_client),
            base="grader-base:py3.99",
            role="env",
            key=new_key(),
            wheels_dir=None,
            requirements=[],
            log=_quiet,
        )


def test_registry_build_that_cannot_pull_points_to_the_offline_bootstrap(docker_client: Any) -> None:
    """python:3.99-slim exists on no registry, so this fails the same way with or without one."""
    with pytest.raises(SandboxError) as caught:
        images.build_base_image(Engine(docker_client), "3.99", log=_quiet)
    first = str(caught.value).splitlines()[0]
    assert first == ("could not pull python:3.99-slim (no registry access?): run `grader sandbox bootstrap --offline`")
    assert not images.image_exists(Engine(docker_client), "grader-base:py3.99")


def test_remove_images_removes_only_the_given_keys(
    docker_client: Any, base_image: str, new_key: Callable[[], str]
) -> None:
    kept, dropped = new_key(), new_key()
    for key in (kept, dropped):
        images.ensure_python_image(
            Engine(docker_client), base=base_image, role="env", key=key, wheels_dir=None, requirements=[], log=_quiet
        )
    assert images.remove_images(Engine(docker_client), ["env"], keys={dropped}) == 1
    assert not images.image_exists(Engine(docker_client), f"grader-env:{dropped[:20]}")
    assert images.image_exists(Engine(docker_client), f"grader-env:{kept[:20]}")


def test_the_store_sees_and_prunes_the_engines_images_through_the_adapter(
    docker_client: Any, base_image: str, new_key: Callable[[], str]
) -> None:
    """`grader cache info/prune` read the engine's images through `EngineImages` (the store never talks to it)."""
    key = new_key()
    ref = images.ensure_python_image(
        Engine(docker_client), base=base_image, role="env", key=key, wheels_dir=None, requirements=[], log=_quiet
    )
    adapter = images.EngineImages(Engine(docker_client))
    ours = [record for record in adapter.records() if record.key == key]
    assert [(r.name, r.role, r.base) for r in ours] == [(ref.tag, "env", False)]
    assert any(record.base and record.name == base_image for record in adapter.records())
    assert adapter.remove("runner", {key}) == 0 and adapter.remove("env", {key}) == 1
    assert not images.image_exists(Engine(docker_client), ref.tag)


# --- doctor --------------------------------------------------------------------------------------------


def test_doctor_reports_the_engine_and_the_base_image(docker_client: Any, base_image: str) -> None:
    items = {item.name: item for item in images.doctor(Engine(docker_client))}
    assert items["docker sdk"].ok
    assert items["docker engine"].ok
    assert items["docker engine"].detail.startswith("Docker ")
    assert items["base image"].ok
    assert items["base image"].detail.startswith(f"{BASE_TAG} ")
    assert items["base image"].detail.endswith(" MB")
    assert "grader-env" in items["cached images"].detail
    assert {"debootstrap", "root", "cache"} <= set(items)
    assert all(item.fix for item in items.values() if not item.ok)


def test_doctor_without_an_engine_says_how_to_start_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")
    items = {item.name: item for item in images.doctor(None)}
    assert not items["docker engine"].ok
    assert items["docker engine"].fix is not None
    assert "base image" not in items
