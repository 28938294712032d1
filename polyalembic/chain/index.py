"""The chain without importing it: each revision file's id, down revision, declared store and
checksum, read from its text and kept in ``__pycache__`` beside the revisions (``filecache``),
so ``status``, a no-op ``up`` and ``validate`` cost a ``stat`` per file however long the history
grows.

Each file is parsed (``ast``, never run) when its cache entry is stale. Anything the text alone
can't answer with certainty (a computed or rebound id, a merge, a branch, ``depends_on``, a
duplicate id) returns None: the caller then loads the chain with Alembic, which
also gives the precise error.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any, NamedTuple

from polyalembic.chain.checksum import revision_checksum
from polyalembic.chain.filecache import FolderCache, Listing, Stamp, folder_stamps
from polyalembic.errors import PolyalembicError
from polyalembic.pairs import pair_file_names
from polyalembic.stores import get_store, pair_ops
from polyalembic.stores.sql.store import commits_early

#: Alembic's revision file names (``alembic.script.base._only_source_rev_file``)
_REVISION_FILE = re.compile(r"^(?!\.\#|__init__).*\.py$")
_NOT_NONE = object()


def _literal(tree: ast.Module, name: str) -> Any:
    """The value of ``name`` when the module binds it exactly once, at the top, to a string or
    None (``...`` when it never binds it); _NOT_NONE for anything else: another value, a second
    binding anywhere (``+=``, a tuple, a loop, ``global``), an import or a def of that name."""
    value: Any = ...
    for stmt in tree.body:
        target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else \
            stmt.target if isinstance(stmt, ast.AnnAssign) and stmt.value is not None else None
        if isinstance(target, ast.Name) and target.id == name:
            constant = stmt.value
            value = constant.value if isinstance(constant, ast.Constant) and \
                (constant.value is None or isinstance(constant.value, str)) else _NOT_NONE
    bindings = sum(1 for node in ast.walk(tree)
                   if (isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store))
                   or (isinstance(node, ast.alias) and (node.asname or node.name.split(".")[0]) == name)
                   or (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                       and node.name == name))
    if bindings == 0:
        return ...
    return value if bindings == 1 and value is not ... else _NOT_NONE


class Entry(NamedTuple):
    """What the chain needs of one revision file (a tuple: thousands are made per command)."""

    folder: Path
    name: str
    revision: str
    down: str | None
    store: str | None  # None: the folder's
    checksum: str
    pair_names: tuple[str, str] | None = None  # the .up/.down files beside it
    #: whether each pair file runs outside a transaction (``SqlStore.commits_early``); None: unknown
    early: tuple[bool, bool] | None = None

    @property
    def path(self) -> Path:
        return self.folder / self.name


def _read(path: Path, pair_names: tuple[str, str] | None) -> dict[str, Any] | None:
    """The facts of one revision file, from its text; None when the text does not say for certain."""
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None  # Alembic words it
    revision, down, store = _literal(tree, "revision"), _literal(tree, "down_revision"), _literal(tree, "store")
    if not isinstance(revision, str) or down is ... or down is _NOT_NONE or store is _NOT_NONE:
        return None
    if _literal(tree, "depends_on") not in (None, ...) or _literal(tree, "branch_labels") not in (None, ...):
        return None
    checksum = revision_checksum(data, path.with_name(pair_names[0]) if pair_names else None)
    store = None if store is ... else store
    return {"revision": revision, "down": down, "store": store, "checksum": checksum,
            "early": _early(path, pair_names, store or path.parent.name)}


def _early(path: Path, pair_names: tuple[str, str] | None, store: str) -> tuple[bool, bool] | None:
    """Whether each pair file of the revision at ``path`` runs outside a transaction, as its
    store says (None: no pair, or a store polyalembic doesn't know)."""
    if not pair_names:
        return None
    try:
        spec = get_store(store)
    except PolyalembicError:
        return None
    return commits_early(spec, path.with_name(pair_names[0])), commits_early(spec, path.with_name(pair_names[1]))


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
    """The folder's entries: kept whole while no file of the folder changed (one small read),
    else gathered per file (each file parsed only when it changed)."""
    chain = FolderCache(folder, "chain")
    rows = chain.get_folder(stamps, lambda: _read_folder(folder, stamps))
    chain.save()
    return None if rows is None else [Entry(folder, *row) for row in rows]


def _read_folder(folder: Path, stamps: dict[str, Stamp]) -> list[tuple[Any, ...]] | None:
    """Each revision file's (name, revision, down, store, checksum, pair names, early), by name; None
    when one can't be read with certainty."""
    cache = FolderCache(folder, "index")
    names = set(stamps)
    suffixes = list(pair_ops())
    rows = []
    for name in sorted(names):
        if not _REVISION_FILE.match(name):
            continue
        pair_names = pair_file_names(name[:-3], names.__contains__, suffixes)
        files = (name, *(pair_names or ()))
        facts = cache.get(name, [stamps.get(f) for f in files], lambda p=folder / name, q=pair_names: _read(p, q))
        if facts is None:
            cache.save()
            return None
        rows.append((name, facts["revision"], facts["down"], facts["store"], facts["checksum"], pair_names,
                     facts["early"]))
    cache.save()
    return rows


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
