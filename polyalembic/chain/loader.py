"""The one chain loader: every ``Migration`` is made here, from one of two sources.

The revision files' index (``index.py``) reads a linear chain without importing a revision;
Alembic's ``ScriptDirectory`` loads the files and decides whatever the text can't say for certain
(merges, computed ids, ``depends_on``). Either way a migration gets its store from the same rule
(``declared_store``), and what the index knows of its file (checksum, pair files, whether they
commit early) rides along, so nothing is read twice in a run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from polyalembic.chain.filecache import Listing, folder_stamps
from polyalembic.chain.index import Entry, Index, linear_chain
from polyalembic.chain.migration import Migration
from polyalembic.errors import PolyalembicError
from polyalembic.stores import STORES, get_store, is_store


def declared_store(script: Any) -> str:
    """The store a revision declares (``store = "neo4j"``), checked against its folder.

    A revision without a ``store`` line inherits its folder's store.
    """
    store = getattr(script.module, "store", None)
    folder = Path(script.path).parent.name
    if store is None:
        if is_store(folder):
            return folder
        raise PolyalembicError(f"{script.path}: declare the revision's store, e.g. store = {next(iter(STORES))!r}")
    get_store(store)
    if folder != store and is_store(folder):
        raise PolyalembicError(f"{script.path}: declares store {store!r} but lives in migrations/{folder}/: "
                               f"move it to migrations/{store}/ or correct `store`")
    return store


def from_script(script: Any, entry: Entry | None = None) -> Migration:
    """The migration of an ``alembic.script.Script``, knowing what the index's ``entry`` for its
    file says (None: its files are read when asked)."""
    migration = Migration.at(Path(script.path), script.revision, declared_store(script))
    return dataclasses.replace(migration, **_known(entry)) if entry is not None else migration


def from_scripts(scripts: Iterable[Any], indexed: Mapping[Path, Entry] | None = None) -> list[Migration]:
    """The migrations of Alembic's ``scripts`` in their order, with what ``indexed`` (the index's
    entries by path) knows of each."""
    known = indexed or {}
    return [from_script(script, known.get(Path(script.path))) for script in scripts]


def script_chain(script_directory: Any) -> list[Migration]:
    """Every migration of Alembic's script directory, oldest first (base to head)."""
    return from_scripts(reversed(list(script_directory.walk_revisions("base", "heads"))))


def indexed_chain(folders: list[Path], listing: Listing = folder_stamps) -> list[Migration] | None:
    """The chain from the revision files' index, without importing them; None when the index
    can't vouch for it (then Alembic loads the chain, and words any error)."""
    entries = Index(folders, listing).entries()
    ordered = linear_chain(entries) if entries is not None else None
    if ordered is None:
        return None
    chain = []
    for entry in ordered:
        folder = entry.folder.name
        store = entry.store or folder
        if not is_store(store) or (folder != store and is_store(folder)):
            return None
        chain.append(Migration(entry.revision, store, entry.folder, entry.name, **_known(entry)))
    return chain


def _known(entry: Entry) -> dict[str, Any]:
    """The ``known_*`` fields of a migration from its index entry."""
    return {"known_checksum": entry.checksum, "known_pair": entry.pair_names or (), "known_early": entry.early}
