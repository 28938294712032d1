"""Facts computed from migration files, kept in ``__pycache__`` beside them and trusted only while
the files are unchanged.

Each fact is stored with the size and mtime (ns) of every file it was computed from (a revision
and its pair, say); a lookup recomputes it when any of them differs, appeared or went away. A
fact whose files were written in the last seconds is not stored: a file edited twice within the
file system's timestamp granularity could keep its size and mtime. A folder that can't be written
is simply not cached, and a cache that can't be read is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

VERSION = 1
_RACY_SECONDS = 2.0
_FOLDER_KEY = "*folder*"

Stamp = list[int] | None
#: a folder's file stamps by name (``folder_stamps``, or a command's memo of it)
Listing = Callable[[Path], dict[str, Stamp]]


def stamp(path: Path) -> Stamp:
    """[size, mtime_ns] of ``path``; None when it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


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
            found[entry.name] = [st.st_size, st.st_mtime_ns]
    return found


class FolderCache:
    """One folder's facts of one kind (``name``): ``__pycache__/polyalembic-<name>.json``."""

    def __init__(self, folder: Path, name: str) -> None:
        self.path = folder / "__pycache__" / f"polyalembic-{name}.json"
        self._stored = _load(self.path)
        self._kept: dict[str, Any] = {}
        self._changed = False
        self._unchanged = False  # a whole-folder fact was found: nothing was looked up, nothing to write
        self._now = time.time()

    def get(self, key: str, stamps: list[Stamp], compute: Callable[[], Any]) -> Any:
        """The fact ``key`` about the files whose ``stamps`` are given: stored if they are
        unchanged, else computed (and stored when they are not too new). ``compute`` returns
        JSON-able values only."""
        hit = self._stored.get(key)
        if hit is not None and hit["stamps"] == stamps:
            value = hit["value"]
        else:
            value = compute()
            self._changed = True
        if all(s is None or self._now - s[1] / 1e9 > _RACY_SECONDS for s in stamps):
            self._kept[key] = {"stamps": stamps, "value": value}
        return value

    def get_folder(self, stamps: dict[str, Stamp], compute: Callable[[], Any]) -> Any:
        """A fact about the folder as a whole (every file's stamp): stored while no file changed,
        appeared or went away; computed otherwise (its per-file facts are then looked up with
        ``get`` and the whole stored by ``save``)."""
        signature = hashlib.sha256(json.dumps(sorted(stamps.items())).encode()).hexdigest()
        hit = self._stored.get(_FOLDER_KEY)
        if hit is not None and hit["stamps"] == signature:
            self._unchanged = True
            return hit["value"]
        value = compute()
        newest = max((s[1] for s in stamps.values() if s), default=0)
        if self._now - newest / 1e9 > _RACY_SECONDS:
            self._kept[_FOLDER_KEY] = {"stamps": signature, "value": value}
        self._changed = True
        return value

    def save(self) -> None:
        """Write what this run looked up (dropping facts of files that are gone), if it changed."""
        if self._unchanged or (not self._changed and self._kept.keys() == self._stored.keys()):
            return
        try:
            self.path.parent.mkdir(exist_ok=True)
            partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.partial")
            partial.write_text(json.dumps({"version": VERSION, "facts": self._kept}))
            os.replace(partial, self.path)
        except OSError:
            pass


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("facts"), dict):
        return {}
    return data["facts"]
