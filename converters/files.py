"""Writing outputs atomically: a reader never sees a half-written or torn output.

Every temporary file or folder lives next to its destination (so that the final rename
stays on one file system) under a recognisable name, ``.tb-tmp-<pid>-<random>-<name>``.
While a save runs, its temporaries are

- locked (``flock``), so that another process can tell a live save from a dead one;
- registered for removal on SIGTERM/SIGINT: the handler removes them, then lets the
  signal do what it would have done (see :func:`temporary`);
- found and removed by the next save into the same folder when the process was killed
  with SIGKILL (:func:`sweep`): a temporary whose lock is free and whose process is gone.

A folder replaces a folder in one step (``renameat2(RENAME_EXCHANGE)``), so the
destination is always the old folder or the new one, never missing.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import Any

from tensorbridge.ir.errors import TensorbridgeError

try:
    import fcntl
except ImportError:  # not POSIX: fall back on the process check alone
    fcntl = None  # type: ignore[assignment]

TMP_PREFIX = ".tb-tmp-"
_NAME_KEPT = 80  # characters of the destination's name kept in a temporary's name
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def check_file_target(target: Path) -> None:
    """``target`` can be written as a file: its folder exists and it is not a folder."""
    if not target.parent.is_dir():
        raise TensorbridgeError(f"save: directory {target.parent} does not exist; create it first")
    if target.is_dir():
        raise TensorbridgeError(f"save: {target} is a directory; give a file path such as "
                                f"{target / 'model.onnx'}")


def temp_name(target: Path) -> Path:
    """A fresh temporary path next to ``target`` that :func:`sweep` recognises."""
    return target.parent / f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{target.name[:_NAME_KEPT]}"


# ------------------------------------------------------------------ signals
class _Live:
    """The temporaries of saves in progress, removed if SIGTERM/SIGINT arrives.

    Signal handlers are per process, so this registry is too (the one module-level state
    in tensorbridge): handlers are installed while a save runs in the main thread and the
    previous ones restored when the last save ends."""

    def __init__(self) -> None:
        self.paths: set[Path] = set()
        self.lock = threading.Lock()
        self.previous: dict[int, Any] = {}

    def add(self, path: Path) -> None:
        with self.lock:
            self.paths.add(path)
            if not self.previous and threading.current_thread() is threading.main_thread():
                for sig in _SIGNALS:
                    self.previous[sig] = signal.signal(sig, self.on_signal)

    def discard(self, path: Path) -> None:
        with self.lock:
            self.paths.discard(path)
            if not self.paths and self.previous and threading.current_thread() is threading.main_thread():
                self._restore()

    def _restore(self) -> None:
        for sig, handler in self.previous.items():
            # None: a handler installed outside Python, which cannot be put back
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        self.previous = {}

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        for path in list(self.paths):
            _remove(path)
        previous = self.previous.get(signum, signal.SIG_DFL)
        self._restore()
        if callable(previous):  # e.g. Python's SIGINT handler: raises KeyboardInterrupt
            previous(signum, frame)
        elif previous != signal.SIG_IGN:  # the default action: die of the same signal
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)


_LIVE = _Live()


@contextmanager
def temporary(target: Path, *, folder: bool = False) -> Iterator[Path]:
    """A locked temporary file (created empty) or folder next to ``target``, removed when the
    block ends (unless it was renamed away), on SIGTERM/SIGINT, or by a later :func:`sweep`."""
    path = temp_name(target)
    _LIVE.add(path)  # before it exists: a signal from here on removes it
    fd = -1
    try:
        if folder:
            path.mkdir()
            fd = os.open(path, os.O_RDONLY)
        else:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield path
    finally:
        _remove(path)
        if fd >= 0:
            os.close(fd)
        _LIVE.discard(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with suppress(FileNotFoundError):
            path.unlink()


def fsync(path: Path) -> None:
    """Flush ``path`` (a file or a folder's entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync a folder; the rename is still atomic
        pass
    finally:
        os.close(fd)


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Exclusive hold on ``folder`` while a save commits, so that two saves into it never
    interleave their renames and clean-ups."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


# ------------------------------------------------------------------ leftovers
def sweep(folder: Path) -> list[Path]:
    """Remove the temporaries that saves killed with SIGKILL left in ``folder``; returns
    them. A temporary is stale when its lock is free and the process named in it is gone;
    a folder swap interrupted half-way is put back first (see :func:`atomic_folder`)."""
    removed: list[Path] = []
    try:
        entries = [p for p in folder.iterdir() if p.name.startswith(TMP_PREFIX)]
    except OSError:
        return removed
    for path in entries:
        if _stale(path):
            _restore_swap(path)
            _remove(path)
            removed.append(path)
    return removed


def _stale(path: Path) -> bool:
    pid_text = path.name[len(TMP_PREFIX):].split("-", 1)[0]
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        with _LIVE.lock:
            if path in _LIVE.paths:
                return False
    elif _alive(pid):
        return False
    if fcntl is None:
        return True
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:  # held: a live save (perhaps in another pid namespace)
        return False
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


# ------------------------------------------------------------------ folders
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2); False where that is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: the file system cannot exchange
        return False
    raise OSError(err, os.strerror(err), str(b))


_TARGET_NOTE = "target"  # in a folder swap's temporary: the destination's name
_PREVIOUS = "previous"  # in a folder swap's temporary: the old folder, while it is moved aside


def _restore_swap(tmp: Path) -> None:
    """Undo the first half of a two-rename folder swap killed before its second rename."""
    note, previous = tmp / _TARGET_NOTE, tmp / _PREVIOUS
    if not (note.is_file() and previous.is_dir()):
        return
    target = tmp.parent / note.read_text()
    if target.parent == tmp.parent and not target.exists():
        os.replace(previous, target)


@contextmanager
def atomic_folder(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yields an empty temp folder next to ``target``; when the block succeeds it takes the
    place of ``target`` in one step (an existing folder is replaced only then). On error,
    SIGTERM or SIGINT nothing changes; after SIGKILL the next save removes the leftovers."""
    target = Path(target)
    if not target.parent.is_dir():
        raise TensorbridgeError(f"save: directory {target.parent} does not exist; create it first")
    if target.exists() and not target.is_dir():
        raise TensorbridgeError(f"save: {target} exists and is not a directory")
    sweep(target.parent)
    with temporary(target, folder=True) as tmp:
        (tmp / _TARGET_NOTE).write_text(target.name)
        work = tmp / target.name
        work.mkdir()
        yield work
        with folder_lock(target.parent):
            if not target.exists():
                os.replace(work, target)
            elif not _exchange(work, target):
                os.replace(target, tmp / _PREVIOUS)  # a kill here is undone by _restore_swap
                os.replace(work, target)
            fsync(target.parent)
