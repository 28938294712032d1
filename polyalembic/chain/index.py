"""The history without importing it: each revision file's id, parents (``down_revision``, a
tuple at a merge), ``depends_on``, branch labels, declared store, checksum and whether it can be
reverted, read from its text and kept in ``__pycache__`` beside the revisions (``filecache``), so
``status``, a no-op ``up`` and ``validate`` cost a ``stat`` per file however long the history grows.

Each file is parsed (``ast``, never run) when its cache entry is stale. Anything the text alone
can't answer with certainty (a computed or rebound id) returns None: the caller then loads the
history with Alembic, which also gives the precise error. How the entries hang together (order,
heads, duplicate ids) is ``order.py``'s job.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any, NamedTuple

from polyalembic.chain.checksum import revision_checksum
from polyalembic.chain.filecache import FolderCache, Listing, Stamp, folder_stamps
from polyalembic.chain.migration import DECLARED_IRREVERSIBLE, NO_DOWNGRADE, REVERSIBLE
from polyalembic.errors import PolyalembicError
from polyalembic.pairs import pair_file_names
from polyalembic.stores import get_store, pair_ops
from polyalembic.stores.sql.store import commits_early

#: Alembic's revision file names (``alembic.script.base._only_source_rev_file``)
_REVISION_FILE = re.compile(r"^(?!\.\#|__init__).*\.py$")
_NOT_NONE = object()


def _constant(node: ast.expr | None) -> Any:
    """A string, None or bool constant; a tuple or list of strings as a tuple; _NOT_NONE otherwise."""
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (str, bool))):
        return node.value
    if isinstance(node, (ast.Tuple, ast.List)) and all(isinstance(e, ast.Constant) and isinstance(e.value, str)
                                                       for e in node.elts):
        return tuple(e.value for e in node.elts)  # type: ignore[attr-defined]
    return _NOT_NONE


def constant_of(tree: ast.Module, name: str) -> Any:
    """The value of ``name`` when the module binds it exactly once, at the top, to a constant
    (``_constant``; ``...`` when it never binds it); _NOT_NONE for anything else: another value, a
    second binding anywhere (``+=``, a tuple, a loop, ``global``), an import or a def of that name."""
    value: Any = ...
    for stmt in tree.body:
        target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else \
            stmt.target if isinstance(stmt, ast.AnnAssign) and stmt.value is not None else None
        if isinstance(target, ast.Name) and target.id == name:
            value = _constant(stmt.value)
    bindings = sum(1 for node in ast.walk(tree)
                   if (isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store))
                   or (isinstance(node, ast.alias) and (node.asname or node.name.split(".")[0]) == name)
                   or (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                       and node.name == name))
    if bindings == 0:
        return ...
    return value if bindings == 1 and value is not ... else _NOT_NONE


class Entry(NamedTuple):
    """What the history needs of one revision file (a tuple: thousands are made per command)."""

    folder: Path
    name: str
    revision: str
    down: tuple[str, ...]  # its parents: () at a base, two or more at a merge
    store: str | None  # None: the folder's
    checksum: str
    pair_names: tuple[str, str] | None = None  # the .up/.down files beside it
    #: whether each pair file runs outside a transaction (``SqlStore.commits_early``); None: unknown
    early: tuple[bool, bool] | None = None
    depends: tuple[str, ...] = ()  # ``depends_on``: ids, prefixes or branch labels
    labels: tuple[str, ...] = ()  # ``branch_labels``
    #: REVERSIBLE; DECLARED_IRREVERSIBLE (``irreversible = True``); NO_DOWNGRADE (none, an empty
    #: one or one that only raises: irreversible before a baseline, a problem after it)
    reversal: int = REVERSIBLE

    @property
    def path(self) -> Path:
        return self.folder / self.name


def _read(path: Path, pair_names: tuple[str, str] | None) -> tuple[Any, ...] | None:
    """The facts of one revision file from its text (a tuple: thousands are kept while a cold
    index is built): revision, down, store, checksum, early, depends, labels, reversal; None when
    the text does not say for certain."""
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None  # Alembic words it
    revision, down, store, depends, labels, irreversible = (
        constant_of(tree, name) for name in ("revision", "down_revision", "store", "depends_on", "branch_labels",
                                             "irreversible"))
    if not isinstance(revision, str) or down is ... or not all(map(_is_ids, (down, depends, labels))) or \
            not (store in (None, ...) or isinstance(store, str)) or irreversible not in (True, False, None, ...):
        return None
    checksum = revision_checksum(data, path.with_name(pair_names[0]) if pair_names else None)
    store = None if store is ... else store
    parents = _ids(down)
    reversal_ = reversal(tree, merge=len(parents) > 1)
    return (revision, parents, store, checksum, _early(path, pair_names, store or path.parent.name),
            _ids(depends), _ids(labels), reversal_)


def _is_ids(value: Any) -> bool:
    """Whether ``value`` is what Alembic takes for ids: none, one, or a tuple of them."""
    return value in (None, ...) or isinstance(value, (str, tuple))


def _ids(value: Any) -> tuple[str, ...]:
    """``None``/absent, one id or a tuple of ids, as a tuple."""
    return () if value in (None, ...) else (value,) if isinstance(value, str) else tuple(value)


def ids_of(tree: ast.Module, name: str) -> tuple[str, ...]:
    """``down_revision``/``depends_on``/``branch_labels`` as a tuple (() when unknown or absent)."""
    value = constant_of(tree, name)
    return _ids(value) if _is_ids(value) else ()


def binds_pair(tree: ast.Module) -> bool:
    """Whether the revision binds ``.up``/``.down`` files (``upgrade, downgrade = migration_files(__file__)``)."""
    return any(isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and
               getattr(node.value.func, "id", getattr(node.value.func, "attr", None)) == "migration_files"
               for node in tree.body)


def reversal_of(path: Path, merge: bool) -> int:
    """How the revision at ``path`` can be reverted, from its text (REVERSIBLE when unreadable:
    loading it words that)."""
    try:
        return reversal(ast.parse(path.read_text(encoding="utf-8")), merge)
    except (OSError, UnicodeDecodeError, SyntaxError):
        return REVERSIBLE


def _function(tree: ast.Module, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    return next((node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and node.name == name), None)


def _body(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.stmt]:
    """The statements of ``function`` that do something (no docstring, no ``pass``)."""
    return [n for n in function.body if not isinstance(n, ast.Pass)
            and not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]


def reversal(tree: ast.Module, merge: bool) -> int:
    """DECLARED_IRREVERSIBLE for ``irreversible = True``; NO_DOWNGRADE when ``downgrade`` is
    missing, does nothing after an upgrade that does something, or ends by raising; REVERSIBLE
    otherwise (a pair, a merge's or a no-op's empty downgrade, one bound some other way or under
    an ``if``/``try``: Alembic decides those)."""
    if constant_of(tree, "irreversible") is True:
        return DECLARED_IRREVERSIBLE
    if binds_pair(tree):
        return REVERSIBLE
    down = _function(tree, "downgrade")
    if down is None:
        bound = any((isinstance(n, ast.Name) and n.id == "downgrade" and isinstance(n.ctx, ast.Store)) or
                    (isinstance(n, ast.alias) and (n.asname or n.name) == "downgrade") or
                    (isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "downgrade")
                    for n in ast.walk(tree))
        return REVERSIBLE if bound else NO_DOWNGRADE
    body = _body(down)
    if not body:
        up = _function(tree, "upgrade")
        return REVERSIBLE if merge or (up is not None and not _body(up)) else NO_DOWNGRADE
    return NO_DOWNGRADE if isinstance(body[-1], ast.Raise) else REVERSIBLE


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
    """Each revision file's entry fields after its folder, by name; None when one can't be read
    with certainty."""
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
        revision, down, store, checksum, early, depends, labels, reversal_ = facts
        rows.append((name, revision, down, store, checksum, pair_names, early, depends, labels, reversal_))
    cache.save()
    return rows
