"""The chain without importing it: each revision file's id, down revision, declared store and
checksum, read from its text and kept in ``__pycache__`` beside the revisions (``filecache``),
so ``status``, a no-op ``up`` and ``validate`` cost a ``stat`` per file however long the history
grows.

Anything the text alone can't answer with certainty (a computed id, a merge, a branch,
``depends_on``, a duplicate id) returns None: the caller then loads the chain with Alembic, which
also gives the precise error.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyalembic.filecache import FolderCache, Listing, Stamp, folder_stamps
from polyalembic.stores import pair_ops

#: Alembic's revision file names (``alembic.script.base._only_source_rev_file``)
_REVISION_FILE = re.compile(r"^(?!\.\#|__init__).*\.py$")
_NOT_NONE = object()


def _literal(text: str, name: str) -> Any:
    """The value of a module-level ``name = "..."`` or ``name = None``; _NOT_NONE for any other
    assignment; None-like absence is reported as ``...``."""
    found = re.findall(rf"(?m)^{name}\s*(?::[^=\n]+)?=\s*(.+?)\s*(?:#.*)?$", text)
    if not found:
        return ...
    if len(found) > 1:
        return _NOT_NONE
    value = found[0]
    if value == "None":
        return None
    quoted = re.fullmatch(r"""(['"])([^'"\\]*)\1""", value)
    return quoted[2] if quoted else _NOT_NONE


@dataclass(frozen=True)
class Entry:
    """What the chain needs of one revision file."""

    path: Path
    revision: str
    down: str | None
    store: str | None  # None: the folder's
    checksum: str
    pair_names: tuple[str, str] | None = None  # the .up/.down files beside it


def pair_of(stem: str, names: set[str], suffixes: list[str]) -> tuple[str, str] | None:
    """The names of the (up, down) pair files of revision ``stem`` among ``names`` (its folder's
    files), as ``pairs.pair_paths`` finds them on disk."""
    for suffix in suffixes:
        up, down = f"{stem}.up{suffix}", f"{stem}.down{suffix}"
        if up in names or down in names:
            return up, down
    return None


def _read(path: Path, pair_names: tuple[str, str] | None) -> dict[str, Any] | None:
    """The facts of one revision file, from its text; None when the text does not say for certain."""
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    revision, down, store = _literal(text, "revision"), _literal(text, "down_revision"), _literal(text, "store")
    if not isinstance(revision, str) or down is ... or down is _NOT_NONE or store is _NOT_NONE:
        return None
    if _literal(text, "depends_on") not in (None, ...) or _literal(text, "branch_labels") not in (None, ...):
        return None
    digest = hashlib.sha256(data)
    up = path.with_name(pair_names[0]) if pair_names else None
    if up is not None and up.exists():
        digest.update(up.read_bytes())
    return {"revision": revision, "down": down, "store": None if store is ... else store,
            "checksum": digest.hexdigest()}


class Index:
    """The entries of the revision files in some folders (``listing``: a folder's file stamps)."""

    def __init__(self, folders: list[Path], listing: Listing = folder_stamps) -> None:
        self.folders = folders
        self.listing = listing

    def entries(self) -> list[Entry] | None:
        """Every revision file's entry, or None when one can't be read with certainty."""
        found: list[Entry] = []
        for folder in self.folders:
            entries = _folder_entries(folder, self.listing(folder))
            if entries is None:
                return None
            found += entries
        return found


def _folder_entries(folder: Path, stamps: dict[str, Stamp]) -> list[Entry] | None:
    cache = FolderCache(folder, "index")
    names = set(stamps)
    suffixes = list(pair_ops())
    entries = []
    for name in sorted(names):
        if not _REVISION_FILE.match(name):
            continue
        pair_names = pair_of(name[:-3], names, suffixes)
        path = folder / name
        files = (name, *(pair_names or ()))
        facts = cache.get(name, [stamps.get(f) for f in files], lambda p=path, q=pair_names: _read(p, q))
        if facts is None:
            cache.save()
            return None
        entries.append(Entry(path, **facts, pair_names=pair_names))
    cache.save()
    return entries


def linear_chain(entries: list[Entry]) -> list[Entry] | None:
    """The entries base to head when they form one unbranched chain with unique ids; None otherwise."""
    by_down: dict[str | None, Entry] = {}
    ids = set()
    for entry in entries:
        if entry.revision in ids or entry.down in by_down:
            return None  # a duplicate id or a branch: Alembic words those
        ids.add(entry.revision)
        by_down[entry.down] = entry
    ordered, current = [], None
    while current in by_down:
        entry = by_down[current]
        ordered.append(entry)
        current = entry.revision
    return ordered if len(ordered) == len(entries) else None
