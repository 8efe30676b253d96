"""Atomic file writes, file errors classified where they enter, and setting files aside.

Every file this layer writes goes through :func:`atomic_write_bytes`: the new content is written
to a temporary file in the same directory, flushed and fsynced, renamed over the old file with
``os.replace`` (atomic on POSIX and Windows within one file system), and then the directory is
fsynced so the rename itself survives a power cut. A reader, or the next start after a crash or
``kill -9``, sees either the old file or the new one, never a mixture (qutebrowser's
``savefile_open`` does the same with ``QSaveFile``; ANCHORS.md §9 lesson 12).
"""

from __future__ import annotations

import contextlib
import datetime
import enum
import errno
import logging
import os
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

# Temporary files are hidden and carry this suffix, so no listing of ``*.json`` ever sees a
# half-written file, and leftovers of a killed process can be recognised and swept.
TEMP_SUFFIX = ".tmp"

# A leftover temporary file older than this cannot belong to a write in progress (a write takes
# milliseconds); younger ones might belong to a second instance of the app, so they are left.
STALE_TEMP_AGE_S = 60.0


class FileProblem(enum.Enum):
    """Why a file operation failed, in terms a user can act on."""

    PERMISSION_DENIED = "permission denied"
    DISK_FULL = "the disk is full"
    READ_ONLY = "the file system is read-only"
    NOT_FOUND = "the file or folder does not exist"
    NOT_A_DIRECTORY = "a file is in the way of a folder"
    NAME_TOO_LONG = "the name is too long"
    IO_ERROR = "an input/output error"
    OTHER = "an operating-system error"


_PROBLEM_BY_ERRNO: dict[int, FileProblem] = {
    errno.EACCES: FileProblem.PERMISSION_DENIED,
    errno.EPERM: FileProblem.PERMISSION_DENIED,
    errno.ENOSPC: FileProblem.DISK_FULL,
    errno.EDQUOT: FileProblem.DISK_FULL,
    errno.EROFS: FileProblem.READ_ONLY,
    errno.ENOENT: FileProblem.NOT_FOUND,
    errno.ENOTDIR: FileProblem.NOT_A_DIRECTORY,
    errno.EISDIR: FileProblem.NOT_A_DIRECTORY,
    errno.ENAMETOOLONG: FileProblem.NAME_TOO_LONG,
    errno.EIO: FileProblem.IO_ERROR,
}


class StorageError(Exception):
    """A file could not be read or written. ``str(error)`` is a sentence for the user.

    Attributes:
        path: the file or folder concerned.
        problem: the classified cause.
        operation: what was being done ("save", "read", "move", …).
    """

    def __init__(self, message: str, *, path: Path, problem: FileProblem, operation: str) -> None:
        super().__init__(message)
        self.path = path
        self.problem = problem
        self.operation = operation

    @classmethod
    def from_os_error(cls, exc: OSError, path: Path, operation: str) -> StorageError:
        problem = _PROBLEM_BY_ERRNO.get(exc.errno or 0, FileProblem.OTHER)
        detail = problem.value if problem is not FileProblem.OTHER else str(exc)
        return cls(
            f"Could not {operation} {path}: {detail}.",
            path=path,
            problem=problem,
            operation=operation,
        )


def ensure_directory(path: Path) -> Path:
    """Creates ``path`` (and parents) readable only by the user: conversations are private."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise StorageError.from_os_error(exc, path, "create the folder") from exc
    return path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replaces ``path`` with ``data`` so that a crash at any moment leaves the old or the new
    content. The temporary file is created with mode 0600 (``mkstemp``)."""
    directory = path.parent
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=directory)
    except OSError as exc:
        raise StorageError.from_os_error(exc, path, "save") from exc
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, path)
    except OSError as exc:
        _remove_quietly(Path(temp_name))
        raise StorageError.from_os_error(exc, path, "save") from exc
    except BaseException:
        # KeyboardInterrupt or a cancelled worker: nothing was replaced; leave no litter.
        _remove_quietly(Path(temp_name))
        raise
    _fsync_directory(directory)


def read_bytes(path: Path, operation: str = "read") -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise StorageError.from_os_error(exc, path, operation) from exc


def set_aside(path: Path, label: str, *, into: Path | None = None, copy: bool = False) -> Path:
    """Moves (or copies) ``path`` out of the way under a name that says why and when:
    ``settings.json`` → ``settings.corrupt-20261121T101500.json``. ``into`` is the folder to put
    it in (default: next to the original). Returns the new path."""
    folder = into if into is not None else path.parent
    if into is not None:
        ensure_directory(folder)
    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    target = folder / f"{path.stem}.{label}-{stamp}{path.suffix}"
    counter = 2
    while target.exists():
        target = folder / f"{path.stem}.{label}-{stamp}-{counter}{path.suffix}"
        counter += 1
    try:
        if copy:
            atomic_write_bytes(target, read_bytes(path, "copy"))
        else:
            os.replace(path, target)
    except OSError as exc:
        raise StorageError.from_os_error(exc, path, "move aside") from exc
    _fsync_directory(folder)
    log.info("%s %s to %s (%s)", "copied" if copy else "moved", path, target, label)
    return target


def sweep_stale_temp_files(directory: Path, *, older_than_s: float = STALE_TEMP_AGE_S) -> int:
    """Removes temporary files a killed process left behind in ``directory``; returns how many."""
    removed = 0
    cutoff = time.time() - older_than_s
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise StorageError.from_os_error(exc, directory, "list") from exc
    for entry in entries:
        if not (entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX)):
            continue
        try:
            if entry.stat().st_mtime <= cutoff:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:
            continue  # another sweeper or the writer itself got there first
        except OSError as exc:
            log.warning("could not remove leftover temporary file %s: %s", entry.path, exc)
    if removed:
        log.info("removed %d leftover temporary file(s) in %s", removed, directory)
    return removed


def _fsync_directory(directory: Path) -> None:
    if not hasattr(os, "O_DIRECTORY"):
        return  # Windows: directories cannot be opened; NTFS journals the rename itself
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise StorageError.from_os_error(exc, directory, "sync the folder") from exc
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some file systems (network mounts) refuse fsync on a directory; the rename is done.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise StorageError.from_os_error(exc, directory, "sync the folder") from exc
    finally:
        os.close(fd)


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
