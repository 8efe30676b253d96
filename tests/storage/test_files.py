"""Atomic writes, file errors classified where they enter, setting files aside, and paths."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import platformdirs
import pytest

from realtime_desktop.storage import files
from realtime_desktop.storage.files import (
    FileProblem,
    StorageError,
    atomic_write_bytes,
    set_aside,
    sweep_stale_temp_files,
)
from realtime_desktop.storage.paths import AppPaths


def test_atomic_write_replaces_the_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "doc.json"
    atomic_write_bytes(target, b"old content")
    with target.open("rb") as reader:
        atomic_write_bytes(target, b"new")
        assert reader.read() == b"old content"  # the old file is intact for its reader
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["doc.json"]
    assert target.stat().st_mode & 0o777 == 0o600  # conversations are private


def test_a_failed_write_keeps_the_old_file_and_leaves_no_litter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "doc.json"
    atomic_write_bytes(target, b"old content")

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", disk_full)
    with pytest.raises(StorageError) as raised:
        atomic_write_bytes(target, b"new content")
    assert raised.value.problem is FileProblem.DISK_FULL
    assert raised.value.path == target
    assert "the disk is full" in str(raised.value)
    assert target.read_bytes() == b"old content"
    assert os.listdir(tmp_path) == ["doc.json"]


def test_an_interrupted_write_leaves_no_litter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "doc.json"

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(target, b"new content")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("make_target", "problem"),
    [
        (lambda root: root / "missing-folder" / "doc.json", FileProblem.NOT_FOUND),
        (lambda root: root / "a-file" / "doc.json", FileProblem.NOT_A_DIRECTORY),
    ],
)
def test_os_errors_are_classified(tmp_path: Path, make_target, problem: FileProblem) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a-file").write_text("in the way")
    target = make_target(tmp_path)
    with pytest.raises(StorageError) as raised:
        atomic_write_bytes(target, b"x")
    assert raised.value.problem is problem
    assert raised.value.operation == "save"
    assert isinstance(raised.value.__cause__, OSError)


def test_set_aside_names_say_why_and_never_collide(tmp_path: Path) -> None:
    first = tmp_path / "settings.json"
    first.write_text("1")
    moved = set_aside(first, "corrupt")
    assert moved.name.startswith("settings.corrupt-")
    assert moved.suffix == ".json"
    assert not first.exists()
    assert moved.read_text() == "1"
    first.write_text("2")
    copied = set_aside(first, "corrupt", copy=True)
    assert copied != moved
    assert copied.read_text() == "2"
    assert first.read_text() == "2"
    into = set_aside(first, "from-newer-version", into=tmp_path / "aside")
    assert into.parent == tmp_path / "aside"


def test_sweep_removes_only_stale_temporary_files(tmp_path: Path) -> None:
    stale = tmp_path / ".doc.json.x1.tmp"
    fresh = tmp_path / ".doc.json.x2.tmp"
    document = tmp_path / "doc.json"
    for path in (stale, fresh, document):
        path.write_text("x")
    old = stale.stat().st_mtime - files.STALE_TEMP_AGE_S - 5
    os.utime(stale, (old, old))
    os.utime(document, (old, old))
    assert sweep_stale_temp_files(tmp_path) == 1
    assert sorted(os.listdir(tmp_path)) == [".doc.json.x2.tmp", "doc.json"]
    assert sweep_stale_temp_files(tmp_path / "nowhere") == 0


def test_one_config_dir_holds_everything(tmp_path: Path) -> None:
    paths = AppPaths.resolve(tmp_path / "profile")
    assert paths.config_dir == paths.data_dir == tmp_path / "profile"
    assert paths.log_dir == tmp_path / "profile" / "logs"
    assert paths.settings_file == tmp_path / "profile" / "settings.json"
    assert paths.conversations_dir() == tmp_path / "profile" / "conversations"
    assert not paths.config_dir.exists()  # nothing is created until needed
    paths.ensure()
    for folder in (paths.config_dir, paths.data_dir, paths.log_dir):
        assert folder.is_dir()
        assert folder.stat().st_mode & 0o777 == 0o700


def test_platform_folders_follow_the_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    paths = AppPaths.resolve(None)
    assert paths.config_dir == tmp_path / "config" / "realtime-desktop"
    assert paths.data_dir == tmp_path / "data" / "realtime-desktop"
    assert paths.log_dir == Path(platformdirs.user_log_dir("realtime-desktop", appauthor=False))
    assert paths.conversations_dir() == tmp_path / "data" / "realtime-desktop" / "conversations"
    # The user's chosen folder wins, with ~ expanded.
    assert paths.conversations_dir("~/Talks") == Path.home() / "Talks"
