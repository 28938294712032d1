"""Facts computed from migration files, kept in ``__pycache__`` beside them and trusted only while
the files are unchanged.

Each fact is stored with the stamp of every file it was computed from (a revision and its pair,
say): size, mtime, ctime and inode. A lookup recomputes it when any of them differs, appeared or
went away. The ctime and the inode catch what the mtime alone would not: tools that restore an
mtime (``cp -p``, ``rsync -a``, archives) still set the ctime, and an editor that saves by
renaming a new file changes the inode. A fact whose files changed in the last seconds is not
stored: a file edited twice within the file system's timestamp granularity could keep its stamp.
Facts of another polyalembic version are not trusted (the checks and the index may have changed).
A folder that can't be written is simply not cached, and a cache that can't be read is rebuilt.

The files are ``marshal`` data (what ``.pyc`` files hold, beside them): a 5,000-revision index
loads in a few milliseconds, where JSON took tens. The format follows the interpreter, so the
version key names it too.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from polyalembic import __version__

#: a cache written by another layout, polyalembic version or interpreter is not read
VERSION = f"11:{__version__}:{sys.implementation.cache_tag}"
_RACY_SECONDS = 2.0
_FOLDER_KEY = "*folder*"

Stamp = list[int] | None
#: a folder's file stamps by name (``folder_stamps``, or a command's memo of it)
Listing = Callable[[Path], dict[str, Stamp]]


def _stamp_of(st: os.stat_result) -> list[int]:
    """[size, the later of mtime and ctime (ns), inode, mtime (ns)]: the second is what the racy
    rule looks at."""
    return [st.st_size, max(st.st_mtime_ns, st.st_ctime_ns), st.st_ino, st.st_mtime_ns]


def stamp(path: Path) -> Stamp:
    """The stamp of ``path``; None when it does not exist."""
    try:
        return _stamp_of(os.stat(path))
    except OSError:
        return None


def folder_stamps(folder: Path) -> dict[str, Stamp]:
    """The stamp of every file in ``folder`` (not its sub-folders), by name: one pass."""
    found: dict[str, Stamp] = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir():
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            # _stamp_of, inlined: this loop runs once per file of the history
            found[entry.name] = [st.st_size, max(st.st_mtime_ns, st.st_ctime_ns), st.st_ino, st.st_mtime_ns]
    return found


class FolderCache:
    """One folder's facts of one kind (``name``): ``__pycache__/polyalembic-<name>.marshal``."""

    def __init__(self, folder: Path, name: str) -> None:
        self.path = folder / "__pycache__" / f"polyalembic-{name}.marshal"
        self._stored = load(self.path)
        self._kept: dict[str, Any] = {}
        self._changed = False
        self._unchanged = False  # a whole-folder fact was found: nothing was looked up, nothing to write
        self._now = time.time()

    def get(self, key: str, stamps: list[Stamp], compute: Callable[[], Any]) -> Any:
        """The fact ``key`` about the files whose ``stamps`` are given: stored if they are
        unchanged, else computed (and stored when they are not too new). ``compute`` returns
        plain data only (str, int, None, lists, tuples, dicts: what marshal writes)."""
        hit = self._stored.get(key)  # (stamps, value): a pair per file, thousands of them
        if hit is not None and hit[0] == stamps:
            value = hit[1]
        else:
            value = compute()
            self._changed = True
        if all(s is None or self._now - s[1] / 1e9 > _RACY_SECONDS for s in stamps):
            self._kept[key] = (stamps, value)
        return value

    def get_folder(self, stamps: dict[str, Stamp], compute: Callable[[], Any]) -> Any:
        """A fact about the folder as a whole (every file's stamp): stored while no file changed,
        appeared or went away; computed otherwise (its per-file facts are then looked up with
        ``get`` and the whole stored by ``save``)."""
        signature = _signature(stamps)
        hit = self._stored.get(_FOLDER_KEY)
        if hit is not None and hit[0] == signature:
            self._unchanged = True
            return hit[1]
        value = compute()
        newest = max((s[1] for s in stamps.values() if s), default=0)
        if self._now - newest / 1e9 > _RACY_SECONDS:
            self._kept[_FOLDER_KEY] = (signature, value)
        self._changed = True
        return value

    def save(self) -> None:
        """Write what this run looked up (dropping facts of files that are gone), if it changed."""
        if self._unchanged or (not self._changed and self._kept.keys() == self._stored.keys()):
            return
        try:
            self.path.parent.mkdir(exist_ok=True)
            handle, partial = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".partial")
            try:
                with os.fdopen(handle, "wb") as out:
                    marshal.dump({"version": VERSION, "facts": self._kept}, out)
                os.replace(partial, self.path)
            except BaseException:
                os.unlink(partial)
                raise
        except OSError:
            pass


def _signature(stamps: dict[str, Stamp]) -> bytes:
    """A digest of every file's name and stamp, in listing order (an unchanged folder lists in
    the same order; a folder listed in another order only misses the cache). Marshal's version 2
    writes no back-references, so equal stamps give equal bytes."""
    return hashlib.blake2b(marshal.dumps(stamps, 2), digest_size=20).digest()


def load(path: Path) -> dict[str, Any]:
    """The facts stored at ``path``; {} when it is missing, unreadable or of another version."""
    try:
        data = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("facts"), dict):
        return {}
    return data["facts"]
