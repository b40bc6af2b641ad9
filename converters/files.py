"""Writing model folders atomically: a reader never sees a half-written output."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ir.errors import TensorbridgeError


@contextmanager
def atomic_folder(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yields an empty temp folder next to ``target``; when the block succeeds it is renamed
    to ``target`` (an existing folder is replaced only then). On error nothing changes."""
    target = Path(target)
    if not target.parent.is_dir():
        raise TensorbridgeError(f"save: directory {target.parent} does not exist; create it first")
    if target.exists() and not target.is_dir():
        raise TensorbridgeError(f"save: {target} exists and is not a directory")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        work = tmp / target.name
        work.mkdir()
        yield work
        if target.exists():
            os.replace(target, tmp / "previous")
        os.replace(work, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
