"""Tests for grader.intake: real directories, zip and tar archives, and git repositories."""

from __future__ import annotations

import gzip
import io
import os
import stat
import subprocess
import tarfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest

from grader.intake import (
    IntakeError,
    IntakeLimits,
    Snapshot,
    archive_kind,
    compose_hints,
    read_candidate_bytes,
    submission_name,
    take_snapshot,
    unreadable_format,
)
from grader.models import Severity

PROJECT = {
    "app/__init__.py": b"",
    "app/main.py": b"from fastapi import FastAPI\n\napp = FastAPI()\n",
    "requirements.txt": b"fastapi\nuvicorn\n",
    "README.md": b"# hello\n",
}
EXECUTABLE = "run.sh"
GIT_IDENTITY = ["-c", "user.name=Grader Test", "-c", "user.email=grader@example.com"]


# --- helpers ----------------------------------------------------------------------------------------


def write_project(root: Path, files: dict[str, bytes] = PROJECT, executable: bool = True) -> Path:
    """A small FastAPI project on disk, with one executable script."""
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    if executable:
        script = root / EXECUTABLE
        script.write_bytes(b"#!/bin/sh\necho hi\n")
        script.chmod(0o755)
    return root


def make_zip(path: Path, entries: list[tuple[str, bytes, int]]) -> Path:
    """Write a zip whose entries are (name, data, unix mode); a mode of S_IFLNK makes a symlink."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return path


def zip_from_dir(path: Path, root: Path, prefix: str = "") -> Path:
    """Zip a real directory, in reverse order to show that order does not matter."""
    entries = []
    for file in sorted(root.rglob("*"), reverse=True):
        if file.is_file():
            entries.append((prefix + file.relative_to(root).as_posix(), file.read_bytes(), file.stat().st_mode))
    return make_zip(path, entries)


def make_tar(path: Path, members: list[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]]) -> Path:
    """Write a tar (gzipped for .tgz/.tar.gz names) from TarInfo objects, with data for regular files."""
    mode = "w:gz" if path.name.endswith((".tgz", ".tar.gz")) else "w"
    with tarfile.open(path, mode) as archive:
        for member in members:
            if isinstance(member, tuple):
                info, data = member
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            else:
                archive.addfile(member)
    return path


def tar_file(name: str, data: bytes, mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = mode
    info.mtime = time.time()
    return info, data


def tar_link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *GIT_IDENTITY, "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def make_repo(root: Path) -> Path:
    write_project(root)
    git(root, "init", "--quiet")
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "initial")
    return root


def snapshot_files(snapshot: Snapshot) -> dict[str, bytes]:
    return {p.relative_to(snapshot.path).as_posix(): p.read_bytes() for p in snapshot.path.rglob("*") if p.is_file()}


def refuse(source: Path, dest: Path, limits: IntakeLimits | None = None) -> str:
    """Take a snapshot that must be refused; check nothing was left behind and return the message."""
    with pytest.raises(IntakeError) as caught:
        take_snapshot(source, dest, limits or IntakeLimits())
    assert not dest.exists() or list(dest.iterdir()) == [], "a refused snapshot left files behind"
    message = str(caught.value)
    assert message.endswith(".") and "\n" not in message
    return message


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "snapshots"


# --- directories ------------------------------------------------------------------------------------


def test_directory_snapshot_copies_project_and_records_metadata(tmp_path: Path, dest: Path) -> None:
    source = write_project(tmp_path / "alice's project")
    snap = take_snapshot(source, dest)
    assert snap.source_kind == "directory"
    assert snap.name == "alice-s-project"
    assert snap.revision is None
    assert snap.path == dest / f"alice-s-project-{snap.content_hash[7:19]}"
    assert snap.content_hash.startswith("sha256:") and len(snap.content_hash) == 7 + 64
    files = snapshot_files(snap)
    assert files == {**PROJECT, EXECUTABLE: b"#!/bin/sh\necho hi\n"}
    assert snap.file_count == len(files)
    assert snap.total_bytes == sum(len(data) for data in files.values())
    assert sorted(p.name for p in dest.iterdir()) == [snap.path.name], "no staging directory remains"


def test_snapshot_is_read_only_for_everyone_and_keeps_executable_bit(tmp_path: Path, dest: Path) -> None:
    snap = take_snapshot(write_project(tmp_path / "p"), dest)
    modes = {p.relative_to(snap.path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in snap.path.rglob("*")}
    assert modes[EXECUTABLE] == 0o555
    assert modes["app/main.py"] == 0o444
    assert modes["app"] == 0o555
    assert stat.S_IMODE(snap.path.stat().st_mode) == 0o555
    assert all(mode & 0o222 == 0 for mode in modes.values()), "nothing in a snapshot is writable"
    assert all(mode & 0o004 for mode in modes.values()), "any uid (the container user) can read everything"


def test_junk_is_skipped(tmp_path: Path, dest: Path) -> None:
    source = write_project(tmp_path / "p")
    junk = [
        "__pycache__/main.cpython-311.pyc",
        "app/helper.pyc",
        ".venv/lib/site.py",
        "venv/lib/site.py",
        "env/pyvenv.cfg",
        "env/lib/site.py",
        "node_modules/left-pad/index.js",
        ".mypy_cache/x.json",
        ".pytest_cache/v",
        ".ruff_cache/y",
        ".DS_Store",
        "app/.DS_Store",
    ]
    for name in junk:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(b"junk")
    (source / ".venv/bin").mkdir(parents=True)
    (source / ".venv/bin/python").symlink_to("/usr/bin/python3")  # escapes, but junk is never followed
    (source / "env2").mkdir()
    (source / "env2/settings.py").write_bytes(b"DEBUG = True\n")  # a real package, not a virtualenv
    files = snapshot_files(take_snapshot(source, dest))
    assert set(files) == {*PROJECT, EXECUTABLE, "env2/settings.py"}


def test_symlinks_inside_directory_are_materialized_as_copies(tmp_path: Path, dest: Path) -> None:
    source = write_project(tmp_path / "p")
    (source / "main_link.py").symlink_to("app/main.py")
    (source / "pkg").symlink_to("app", target_is_directory=True)
    (source / "dangling.py").symlink_to("does-not-exist.py")
    snap = take_snapshot(source, dest)
    files = snapshot_files(snap)
    assert files["main_link.py"] == PROJECT["app/main.py"]
    assert files["pkg/main.py"] == PROJECT["app/main.py"]
    assert "dangling.py" not in files
    assert not any(p.is_symlink() for p in snap.path.rglob("*")), "a snapshot never contains a symlink"


@pytest.mark.parametrize("target", ["/etc/passwd", "../outside.py"])
def test_symlink_escaping_directory_is_refused(tmp_path: Path, dest: Path, target: str) -> None:
    (tmp_path / "outside.py").write_text("secret = 1\n")
    source = write_project(tmp_path / "p")
    (source / "app" / "leak.py").symlink_to(target if target.startswith("/") else "../" + target)
    message = refuse(source, dest)
    assert "app/leak.py" in message and "outside the submission" in message


def test_symlink_loop_in_directory_is_refused(tmp_path: Path, dest: Path) -> None:
    source = write_project(tmp_path / "p")
    (source / "app" / "again").symlink_to("..", target_is_directory=True)
    assert "loops" in refuse(source, dest)


def test_fifo_in_directory_is_refused(tmp_path: Path, dest: Path) -> None:
    source = write_project(tmp_path / "p")
    os.mkfifo(source / "pipe")
    assert "'pipe'" in refuse(source, dest)


def test_control_character_in_file_name_is_refused(tmp_path: Path, dest: Path) -> None:
    source = write_project(tmp_path / "p")
    (source / "bad\nname.py").write_text("x = 1\n")
    assert "control characters" in refuse(source, dest)


def test_directory_without_python_is_refused(tmp_path: Path, dest: Path) -> None:
    source = tmp_path / "p"
    source.mkdir()
    (source / "index.js").write_text("console.log(1)\n")
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "x.py").write_text("junk = 1\n")  # skipped, so it does not count
    assert "No Python file" in refuse(source, dest)


def test_dest_inside_source_is_not_copied_into_itself(tmp_path: Path) -> None:
    source = write_project(tmp_path / "p")
    first = take_snapshot(source, source / "snapshots")
    second = take_snapshot(source, source / "snapshots")
    assert first.path == second.path
    assert not any("snapshots" in name for name in snapshot_files(second))


# --- limits -----------------------------------------------------------------------------------------


def test_too_many_files_is_refused(tmp_path: Path, dest: Path) -> None:
    source = write_project(tmp_path / "p")
    for i in range(10):
        (source / f"mod{i}.py").write_text(f"x = {i}\n")
    message = refuse(source, dest, IntakeLimits(max_files=8))
    assert "more than 8 files" in message


def test_file_over_size_limit_is_refused(tmp_path: Path, dest: Path) -> None:
    source = write_project(tmp_path / "p")
    (source / "data.bin").write_bytes(b"x" * 5000)
    assert "'data.bin' is larger than" in refuse(source, dest, IntakeLimits(max_file_bytes=4096))


def test_total_over_size_limit_is_refused(tmp_path: Path, dest: Path) -> None:
    source = write_project(tmp_path / "p")
    for i in range(4):
        (source / f"data{i}.bin").write_bytes(b"x" * 3000)
    assert "The submission is larger than" in refuse(source, dest, IntakeLimits(max_total_bytes=10_000))


def test_zip_bomb_one_huge_member_is_refused(tmp_path: Path, dest: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("main.py", "print('hi')\n")
        with archive.open("zeros.bin", "w") as member:
            for _ in range(60):
                member.write(bytes(1024 * 1024))
    assert bomb.stat().st_size < 1024 * 1024, "the bomb is small on disk"
    started = time.monotonic()
    assert "'zeros.bin' is larger than the 50 MiB limit" in refuse(bomb, dest)
    assert time.monotonic() - started < 10


def test_zip_bomb_many_members_is_refused_on_the_total(tmp_path: Path, dest: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("main.py", "print('hi')\n")
        for index in range(5):
            with archive.open(f"part{index}.bin", "w") as member:
                for _ in range(45):
                    member.write(bytes(1024 * 1024))
    assert "larger than the 200 MiB limit" in refuse(bomb, dest)


def test_zip_with_lying_size_header_is_refused_not_crashed(tmp_path: Path, dest: Path) -> None:
    honest = make_zip(tmp_path / "honest.zip", [("main.py", b"x = 1\n", 0o644), ("big.bin", bytes(100_000), 0o644)])
    raw = bytearray(honest.read_bytes())
    # Rewrite big.bin's uncompressed size (local header and central directory) to claim 10 bytes.
    with zipfile.ZipFile(honest) as archive:
        info = archive.getinfo("big.bin")
    claimed = (10).to_bytes(4, "little")
    raw[info.header_offset + 22 : info.header_offset + 26] = claimed
    central = raw.rindex(b"PK\x01\x02")
    raw[central + 24 : central + 28] = claimed
    liar = tmp_path / "liar.zip"
    liar.write_bytes(bytes(raw))
    assert "could not be read" in refuse(liar, dest)


def test_copy_counts_real_bytes_not_declared_size(tmp_path: Path) -> None:
    """A source that declares a small size but yields more is stopped at the cap while being copied."""
    from grader.intake.files import _Item, _Writer

    big = tmp_path / "big.bin"
    big.write_bytes(bytes(3 * 1024 * 1024))
    out = tmp_path / "out"
    out.mkdir()
    writer = _Writer(out, IntakeLimits(max_file_bytes=2 * 1024 * 1024))
    liar = _Item(PurePosixPath("big.bin"), False, size=10, opener=lambda: big.open("rb"))
    with pytest.raises(IntakeError, match=r"'big\.bin' is larger than the 2 MiB limit"):
        writer.add_all([liar])
    assert (out / "big.bin").stat().st_size <= 2 * 1024 * 1024, "bytes past the cap were never written"


# --- zip and tar ------------------------------------------------------------------------------------


def test_zip_slip_member_is_refused(tmp_path: Path, dest: Path) -> None:
    archive = make_zip(tmp_path / "slip.zip", [("main.py", b"x = 1\n", 0o644), ("../evil.py", b"pwned\n", 0o644)])
    assert "'../evil.py'" in refuse(archive, dest)
    assert not (tmp_path / "evil.py").exists()


def test_zip_slip_with_backslashes_is_refused(tmp_path: Path, dest: Path) -> None:
    archive = make_zip(tmp_path / "slip.zip", [("main.py", b"x = 1\n", 0o644), ("..\\..\\evil.py", b"x", 0o644)])
    assert "contains '..'" in refuse(archive, dest)


def test_tar_with_parent_component_is_refused(tmp_path: Path, dest: Path) -> None:
    archive = make_tar(tmp_path / "p.tar", [tar_file("main.py", b"x = 1\n"), tar_file("app/../../evil.py", b"x")])
    assert "'app/../../evil.py'" in refuse(archive, dest)


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_absolute_member_path_is_refused(tmp_path: Path, dest: Path, kind: str) -> None:
    if kind == "zip":
        archive = make_zip(tmp_path / "abs.zip", [("main.py", b"x\n", 0o644), ("/tmp/evil.py", b"x\n", 0o644)])
    else:
        archive = make_tar(tmp_path / "abs.tar", [tar_file("main.py", b"x\n"), tar_file("/tmp/evil.py", b"x\n")])
    assert "'/tmp/evil.py' has an absolute path" in refuse(archive, dest)


@pytest.mark.parametrize("target", ["../../etc/passwd", "/etc/passwd", "sub/../../x"])
def test_symlink_escaping_tar_is_refused(tmp_path: Path, dest: Path, target: str) -> None:
    archive = make_tar(tmp_path / "p.tgz", [tar_file("main.py", b"x = 1\n"), tar_link("leak.py", target)])
    assert "'leak.py' points outside the submission" in refuse(archive, dest)


def test_symlink_chain_escaping_tar_is_refused(tmp_path: Path, dest: Path) -> None:
    members = [tar_file("main.py", b"x = 1\n"), tar_link("up", ".."), tar_link("app/leak.py", "../up/etc/passwd")]
    assert "points outside" in refuse(make_tar(tmp_path / "p.tar", members), dest)


def test_symlink_loop_in_tar_is_refused(tmp_path: Path, dest: Path) -> None:
    members = [tar_file("main.py", b"x = 1\n"), tar_link("a", "b"), tar_link("b", "a")]
    assert "loops" in refuse(make_tar(tmp_path / "p.tar", members), dest)


def test_symlinks_inside_tar_are_materialized(tmp_path: Path, dest: Path) -> None:
    members = [
        tar_file("app/main.py", b"app = 1\n"),
        tar_file("app/run.sh", b"#!/bin/sh\n", 0o755),
        tar_link("entry.py", "app/main.py"),
        tar_link("pkg", "app"),
        tar_link("app/self.py", "./main.py"),
        tar_link("gone.py", "missing.py"),
    ]
    snap = take_snapshot(make_tar(tmp_path / "p.tar", members), dest)
    files = snapshot_files(snap)
    assert files["entry.py"] == files["pkg/main.py"] == files["app/self.py"] == b"app = 1\n"
    assert "gone.py" not in files
    assert stat.S_IMODE((snap.path / "pkg/run.sh").stat().st_mode) == 0o555
    assert not any(p.is_symlink() for p in snap.path.rglob("*"))


def test_hard_link_in_tar_inside_is_copied(tmp_path: Path, dest: Path) -> None:
    members = [tar_file("app/main.py", b"app = 1\n"), tar_link("copy.py", "app/main.py", tarfile.LNKTYPE)]
    files = snapshot_files(take_snapshot(make_tar(tmp_path / "p.tar", members), dest))
    assert files["copy.py"] == b"app = 1\n"


@pytest.mark.parametrize("target", ["../../etc/passwd", "/etc/passwd"])
def test_hard_link_escaping_tar_is_refused(tmp_path: Path, dest: Path, target: str) -> None:
    members = [tar_file("main.py", b"x = 1\n"), tar_link("passwd", target, tarfile.LNKTYPE)]
    assert "'passwd' points outside the submission" in refuse(make_tar(tmp_path / "p.tar", members), dest)


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_device_and_fifo_in_tar_are_refused(tmp_path: Path, dest: Path, kind: bytes) -> None:
    device = tarfile.TarInfo("dev/thing")
    device.type = kind
    archive = make_tar(tmp_path / "p.tar", [tar_file("main.py", b"x = 1\n"), device])
    assert "'dev/thing' is a device, FIFO or socket" in refuse(archive, dest)


def test_symlink_in_zip_is_materialized_and_escape_refused(tmp_path: Path, dest: Path) -> None:
    inside = make_zip(
        tmp_path / "in.zip",
        [("app/main.py", b"app = 1\n", 0o100644), ("entry.py", b"app/main.py", stat.S_IFLNK | 0o777)],
    )
    assert snapshot_files(take_snapshot(inside, dest))["entry.py"] == b"app = 1\n"
    outside = make_zip(
        tmp_path / "out.zip",
        [("main.py", b"x = 1\n", 0o100644), ("leak", b"../../../etc/passwd", stat.S_IFLNK | 0o777)],
    )
    assert "'leak' points outside" in refuse(outside, tmp_path / "other-dest")


def test_control_character_in_zip_member_is_refused(tmp_path: Path, dest: Path) -> None:
    archive = make_zip(tmp_path / "p.zip", [("main.py", b"x\n", 0o644), ("evil\x1b[31m.py", b"x\n", 0o644)])
    assert "control characters" in refuse(archive, dest)


def test_non_utf8_name_in_tar_is_refused(tmp_path: Path, dest: Path) -> None:
    archive = make_tar(tmp_path / "p.tar", [tar_file("main.py", b"x\n"), tar_file("bad\udcff.py", b"x\n")])
    assert "not valid UTF-8" in refuse(archive, dest)


def test_too_many_files_in_archive_is_refused(tmp_path: Path, dest: Path) -> None:
    entries = [(f"mod{i}.py", b"x = 1\n", 0o644) for i in range(20)]
    assert "more than 10 files" in refuse(make_zip(tmp_path / "p.zip", entries), dest, IntakeLimits(max_files=10))


def test_single_top_level_directory_is_stripped(tmp_path: Path, dest: Path) -> None:
    source = write_project(tmp_path / "p")
    archive = zip_from_dir(tmp_path / "repo-main.zip", source, prefix="repo-main/")
    files = snapshot_files(take_snapshot(archive, dest))
    assert "app/main.py" in files and not any(name.startswith("repo-main") for name in files)


def test_top_level_directory_kept_when_not_alone(tmp_path: Path, dest: Path) -> None:
    archive = make_zip(tmp_path / "p.zip", [("app/main.py", b"x\n", 0o644), ("setup.cfg", b"", 0o644)])
    assert set(snapshot_files(take_snapshot(archive, dest))) == {"app/main.py", "setup.cfg"}


def test_macos_resource_forks_do_not_block_stripping(tmp_path: Path, dest: Path) -> None:
    archive = make_zip(
        tmp_path / "p.zip",
        [("proj/main.py", b"x\n", 0o644), ("__MACOSX/proj/._main.py", b"\x00", 0o644)],
    )
    assert set(snapshot_files(take_snapshot(archive, dest))) == {"main.py"}


def test_junk_in_archive_is_skipped_even_with_escaping_links(tmp_path: Path, dest: Path) -> None:
    members = [
        tar_file("proj/main.py", b"x\n"),
        tar_link("proj/.venv/bin/python", "/usr/bin/python3"),
        tar_file("proj/myenv/pyvenv.cfg", b"home = /usr\n"),
        tar_link("proj/myenv/bin/python", "/usr/bin/python3"),
        tar_file("proj/app/__pycache__/main.cpython-311.pyc", b"\x00"),
        tar_file("proj/.git/config", b"[core]\n"),
        tar_file("proj/.DS_Store", b"\x00"),
    ]
    assert set(snapshot_files(take_snapshot(make_tar(tmp_path / "p.tgz", members), dest))) == {"main.py"}


@pytest.mark.parametrize("name", ["broken.zip", "broken.tar.gz"])
def test_corrupt_archive_is_refused(tmp_path: Path, dest: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"this is not an archive at all" * 10)
    assert "is not a readable" in refuse(path, dest)


def test_unknown_source_types_are_refused(tmp_path: Path, dest: Path) -> None:
    rar = tmp_path / "project.rar"
    rar.write_bytes(b"Rar!")
    assert refuse(rar, dest) == ("project.rar is a RAR archive: the grader reads zip and tar archives (gz, bz2, xz); "
                                 "repack it as .zip.")
    notes = tmp_path / "notes.txt"
    notes.write_text("no archive")
    assert "is not a directory, a zip or tar archive (plain, gz, bz2 or xz) or a git checkout" in refuse(notes, dest)
    assert "does not exist" in refuse(tmp_path / "missing.zip", dest)


@pytest.mark.parametrize(("name", "mode"), [
    ("p.tar.xz", "w:xz"), ("p.tar.bz2", "w:bz2"), ("p.txz", "w:xz"), ("p.tbz2", "w:bz2"),
    ("p.upload", "w:gz"), ("p.bin", "w:bz2"), ("p", "w:xz"), ("p.zip", "w:gz"),
])
def test_every_tar_compression_is_read_by_content_whatever_the_name(
    tmp_path: Path, dest: Path, name: str, mode: str
) -> None:
    source = write_project(tmp_path / "project")
    with tarfile.open(tmp_path / name, mode) as archive:
        archive.add(source, arcname="project")
    snapshot = take_snapshot(tmp_path / name, dest)
    assert snapshot.source_kind == "tar"
    assert snapshot_files(snapshot) == snapshot_files(take_snapshot(source, tmp_path / "from-dir"))


def test_a_zip_with_another_extension_is_read_as_a_zip(tmp_path: Path, dest: Path) -> None:
    source = write_project(tmp_path / "project")
    archive = zip_from_dir(tmp_path / "submission.upload", source, prefix="project/")
    snapshot = take_snapshot(archive, dest)
    assert snapshot.source_kind == "zip" and "app/main.py" in snapshot_files(snapshot)


@pytest.mark.parametrize(("head", "what"), [
    (b"Rar!\x1a\x07\x01\x00", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c\x00\x04", "a 7z archive"),
    (b"\x28\xb5\x2f\xfd\x00", "a Zstandard-compressed file"),
])
def test_archives_the_standard_library_cannot_read_are_named_by_content(
    tmp_path: Path, dest: Path, head: bytes, what: str
) -> None:
    path = tmp_path / "submission.dat"
    path.write_bytes(head + b"\x00" * 64)
    assert refuse(path, dest).startswith(f"submission.dat is {what}: the grader reads zip and tar archives")
    assert archive_kind(path) is None and unreadable_format(path) == what


def test_a_compressed_file_that_holds_no_tar_is_not_an_archive(tmp_path: Path, dest: Path) -> None:
    path = tmp_path / "notes.txt.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b"just some notes\n")
    assert archive_kind(path) is None
    assert "a gzip-compressed file that holds no tar archive" in refuse(path, dest)


# --- hashing and reuse ------------------------------------------------------------------------------


def test_same_content_same_hash_across_directory_zip_tar_and_git(tmp_path: Path, dest: Path) -> None:
    source = write_project(tmp_path / "p")
    from_dir = take_snapshot(source, dest)
    from_zip = take_snapshot(zip_from_dir(tmp_path / "p.zip", source), dest)
    with tarfile.open(tmp_path / "p.tgz", "w:gz") as archive:
        for file in sorted(source.rglob("*")):  # different order and timestamps from the zip
            info = archive.gettarinfo(str(file), arcname="p/" + file.relative_to(source).as_posix())
            info.mtime = 0
            if file.is_file():
                with file.open("rb") as handle:
                    archive.addfile(info, handle)
            else:
                archive.addfile(info)
    from_tar = take_snapshot(tmp_path / "p.tgz", dest)
    from_git = take_snapshot(make_repo(tmp_path / "repo"), dest)
    hashes = {from_dir.content_hash, from_zip.content_hash, from_tar.content_hash, from_git.content_hash}
    assert len(hashes) == 1
    assert from_dir.path == from_zip.path == from_tar.path  # the same name ("p") and content: reused


def test_hash_changes_with_content_and_executable_bit(tmp_path: Path, dest: Path) -> None:
    source = write_project(tmp_path / "p")
    first = take_snapshot(source, dest).content_hash
    (source / EXECUTABLE).chmod(0o644)
    second = take_snapshot(source, dest).content_hash
    (source / "app" / "main.py").write_text("app = None\n")
    third = take_snapshot(source, dest).content_hash
    assert len({first, second, third}) == 3


def test_existing_snapshot_is_reused_and_a_damaged_one_replaced(tmp_path: Path, dest: Path) -> None:
    source = write_project(tmp_path / "p")
    first = take_snapshot(source, dest)
    inode = first.path.stat().st_ino
    again = take_snapshot(source, dest)
    assert again.path == first.path and again.path.stat().st_ino == inode, "reused, not rebuilt"
    damaged = first.path / "app" / "main.py"
    (first.path / "app").chmod(0o755)
    damaged.chmod(0o644)
    damaged.write_text("tampered = True\n")
    repaired = take_snapshot(source, dest)
    assert repaired.path == first.path
    assert snapshot_files(repaired)["app/main.py"] == PROJECT["app/main.py"]
    assert sorted(p.name for p in dest.iterdir()) == [first.path.name]


# --- git --------------------------------------------------------------------------------------------


def test_git_snapshot_takes_head_commit(tmp_path: Path, dest: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "app" / "main.py").write_text("uncommitted = True\n")  # a dirty work tree is not an error
    (repo / "untracked.py").write_text("x = 1\n")
    snap = take_snapshot(repo, dest)
    assert snap.source_kind == "git"
    assert snap.revision == git(repo, "rev-parse", "HEAD")
    files = snapshot_files(snap)
    assert files["app/main.py"] == PROJECT["app/main.py"]
    assert "untracked.py" not in files and not any(name.startswith(".git") for name in files)
    assert stat.S_IMODE((snap.path / EXECUTABLE).stat().st_mode) == 0o555


def test_git_snapshot_strips_single_top_level_directory(tmp_path: Path, dest: Path) -> None:
    repo = tmp_path / "repo"
    write_project(repo / "project")
    git(repo, "init", "--quiet")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "nested")
    assert "app/main.py" in snapshot_files(take_snapshot(repo, dest))


def test_git_snapshot_runs_no_command_from_the_candidates_config(tmp_path: Path, dest: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / ".gitattributes").write_text("* filter=evil\n")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "attributes")
    marker = tmp_path / "pwned"
    git(repo, "config", "filter.evil.smudge", f"sh -c 'touch {marker}; cat'")
    git(repo, "config", "core.fsmonitor", f"touch {marker}")
    subprocess.run(["git", "-C", str(repo), "archive", "HEAD"], capture_output=True, check=True)
    assert marker.exists(), "control: git archive inside the repository does run the filter"
    marker.unlink()
    snap = take_snapshot(repo, dest)
    assert not marker.exists()
    assert snapshot_files(snap)["app/main.py"] == PROJECT["app/main.py"]


def test_git_snapshot_of_repository_owned_by_another_user(tmp_path: Path, dest: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root can hand a repository to another uid")
    repo = make_repo(tmp_path / "repo")
    for path in [repo, *repo.rglob("*")]:
        os.lchown(path, 10001, 10001)
    assert take_snapshot(repo, dest).revision == git(repo, "-c", f"safe.directory={repo}", "rev-parse", "HEAD")


def test_git_repository_without_commits_is_refused(tmp_path: Path, dest: Path) -> None:
    repo = write_project(tmp_path / "repo")
    git(repo, "init", "--quiet")
    assert "has no commits" in refuse(repo, dest)


def test_broken_git_directory_is_refused(tmp_path: Path, dest: Path) -> None:
    repo = write_project(tmp_path / "repo")
    (repo / ".git").mkdir()
    assert "git could not read the repository" in refuse(repo, dest)


# --- names and safe reading -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("alice.zip", "alice"),
        ("Bob Smith.tar.gz", "Bob-Smith"),
        ("x.TGZ", "x"),
        ("proj.tar", "proj"),
        ("józef_ü.zip", "jozef_u"),
        ("..zip", "submission"),
        (".hidden.zip", "hidden"),
        ("a$(rm -rf)b.zip", "a-rm--rf-b"),
        ("carol.tar.xz", "carol"),
        ("dave.TAR.BZ2", "dave"),
        ("erin.tbz2", "erin"),
        ("frank.txz", "frank"),
        ("gina.upload", "gina.upload"),
    ],
)
def test_submission_name(name: str, expected: str) -> None:
    assert submission_name(Path("/nowhere") / name) == expected


def test_submission_name_of_directories(tmp_path: Path) -> None:
    (tmp_path / "my.zip").mkdir()
    assert submission_name(tmp_path / "my.zip") == "my.zip"  # a directory keeps its whole name
    assert submission_name(tmp_path / "my.zip" / "..") == submission_name(tmp_path)


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda p: p.symlink_to("/etc/passwd"), "is a symlink"),
        (lambda p: os.mkfifo(p), "not a regular file"),
        (lambda p: p.write_bytes(b"x" * 101), "larger than 100 bytes"),
    ],
)
def test_read_candidate_bytes_refuses_unsafe_files(
    tmp_path: Path, setup: Callable[[Path], object], expected: str
) -> None:
    path = tmp_path / "pyproject.toml"
    setup(path)
    with pytest.raises(IntakeError, match=expected):
        read_candidate_bytes(path, 100)


def test_read_candidate_bytes_reads_and_reports_missing(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"hello")
    assert read_candidate_bytes(tmp_path / "a.txt", 5) == b"hello"
    assert read_candidate_bytes(tmp_path / "missing.txt", 5) is None


# --- hints: compose services ------------------------------------------------------------------------

NOT_STARTED = (
    "but the grader never runs compose files: the challenge decides which services it starts, "
    "so this one is not started unless the challenge declares it."
)
POSTGRES_COMPOSE = b"""\
version: "3.9"
services:
  web:
    build: .
    ports:
      - "8000:8000"
    depends_on: [db]
    environment:
      DATABASE_URL: postgresql://app:app@db:5432/app  # not an image, even though it says postgres
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: app
volumes:
  pgdata:
"""


def test_compose_file_naming_postgres_gives_an_info_finding(tmp_path: Path, dest: Path) -> None:
    source = write_project(tmp_path / "p", {**PROJECT, "docker-compose.yml": POSTGRES_COMPOSE})
    snap = take_snapshot(source, dest)
    (finding,) = snap.findings
    assert finding.message == f"docker-compose.yml names postgres (service db, image postgres:16), {NOT_STARTED}"
    assert (finding.file, finding.line, finding.severity, finding.rule) == (
        "docker-compose.yml", 10, Severity.INFO, "intake.compose-service"
    )


def test_compose_redis_valkey_and_postgis_by_image_or_service_name(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n"
        "    api:\n"
        "        build: .\n"
        "        image: myorg/api:latest\n"
        "    'cache':\n"
        '        image: "redis:7-alpine" # the cache\n'
        "    queue:\n"
        "        image: docker.io/valkey/valkey:8\n"
        "    geo:\n"
        "        image: postgis/postgis:16-3.4@sha256:0123abcd\n"
        "    redis:\n"
        "        build: ./redis\n"
        "    # image: postgres:15  (commented out)\n"
        "x-unused:\n"
        "  image: postgres:14\n",
        encoding="utf-8",
    )
    findings = compose_hints(tmp_path)
    assert [(f.file, f.line) for f in findings] == [("compose.yaml", n) for n in (5, 7, 9, 11)]
    assert [f.message.split(", but")[0] for f in findings] == [
        "compose.yaml names redis (service cache, image redis:7-alpine)",
        "compose.yaml names valkey (service queue, image docker.io/valkey/valkey:8)",
        "compose.yaml names postgis (service geo, image postgis/postgis:16-3.4@sha256:0123abcd)",
        "compose.yaml names redis (service redis)",
    ]
    assert all(f.severity == Severity.INFO and f.message.endswith(NOT_STARTED) for f in findings)


def test_every_compose_file_name_is_read(tmp_path: Path) -> None:
    for name in ("compose.yml", "docker-compose.yaml"):
        (tmp_path / name).write_text("services:\n  db:\n    image: postgres\n", encoding="utf-8")
    assert [f.file for f in compose_hints(tmp_path)] == ["compose.yml", "docker-compose.yaml"]


def test_compose_without_backing_services_or_no_compose_gives_nothing(tmp_path: Path, dest: Path) -> None:
    assert take_snapshot(write_project(tmp_path / "plain"), dest).findings == ()
    compose = b"services:\n  web:\n    build: .\n    command: uvicorn app.main:app\n  mail:\n    image: mailhog\n"
    source = write_project(tmp_path / "web-only", {**PROJECT, "docker-compose.yml": compose})
    assert take_snapshot(source, dest).findings == ()


@pytest.mark.parametrize(
    "compose",
    [
        b"\x00\xff\xfe garbage \x89PNG\r\n\x1a\n" * 50,
        b"services: {db: {image: postgres}}\n",  # flow style: valid YAML the line reader does not read
        b"services:\n\tdb:\n\t\timage: postgres\n",  # tabs are not YAML indentation
        b"services:\n  db:\n    image: 'postgres\n  [unclosed: {\n:\n - - -\n",
        b"services:\n    image:\n  db:\n      image:\n",
        b"---\n...\n" + b"services:" * 10_000,
        b"services:\n  db:\n    image: postgres\n" + b"#" * (300 * 1024),  # over the size cap: not read
        b"",
    ],
)
def test_malformed_compose_never_breaks_intake(tmp_path: Path, dest: Path, compose: bytes) -> None:
    source = write_project(tmp_path / "p", {**PROJECT, "docker-compose.yml": compose})
    snap = take_snapshot(source, dest)
    assert "docker-compose.yml" in snapshot_files(snap)
    assert all(f.severity == Severity.INFO for f in snap.findings)


def test_compose_that_is_not_a_regular_file_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").mkdir()
    (tmp_path / "compose.yaml").symlink_to("/etc/passwd")
    assert compose_hints(tmp_path) == ()
