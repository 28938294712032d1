"""The one chain loader: every ``Migration`` is made here, from one of two sources.

The revision files' index (``index.py``) reads the history without importing a revision;
Alembic's ``ScriptDirectory`` loads the files when the text can't say for certain (a computed
id). Either way a migration gets its store from the same rule (``store_of``), the history the
same order (``order.in_order``), and what the index knows of its file (checksum, pair files,
whether they commit early) rides along, so nothing is read twice in a run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from polyalembic.chain.filecache import Listing, folder_stamps
from polyalembic.chain.index import Entry, Index, reversal_of
from polyalembic.chain.migration import DECLARED_IRREVERSIBLE, Migration
from polyalembic.chain.order import in_order
from polyalembic.errors import PolyalembicError
from polyalembic.stores import STORES, get_store, is_store


def folder_store(folder: str, folder_stores: Mapping[str, str]) -> str | None:
    """The store a version folder holds: as alembic.ini's ``[polyalembic.folders]`` declares it,
    else the store the folder is named after; None for neither."""
    return folder_stores.get(folder) or (folder if is_store(folder) else None)


def store_of(folder: Path, filename: str, declared: str | None, folder_stores: Mapping[str, str]) -> str:
    """The store of the revision ``filename`` in ``folder`` that declares ``declared`` (None:
    inherits its folder's); one line when it declares none in an undeclared folder, or another
    than its folder's. The file's path is made only for that line (thousands are asked per command)."""
    home = folder_store(folder.name, folder_stores)
    if declared is None:
        if home is None:
            example = next(iter(STORES))
            raise PolyalembicError(f"{folder / filename}: declare the revision's store, e.g. store = {example!r}, "
                                   f"or declare its folder's in alembic.ini ([polyalembic.folders] {folder.name} = "
                                   f"{example})")
        return home
    if declared == home:
        return declared
    get_store(declared)
    if home is not None:
        kind = "" if folder.name == home else f" (a {home} folder)"
        raise PolyalembicError(f"{folder / filename}: declares store {declared!r} but lives in migrations/"
                               f"{folder.name}/{kind}: move it to migrations/{declared}/ or correct `store`")
    return declared


def from_script(script: Any, entry: Entry | None = None, folder_stores: Mapping[str, str] | None = None) -> Migration:
    """The migration of an ``alembic.script.Script``, knowing what the index's ``entry`` for its
    file says (None: its files are read when asked)."""
    path = Path(script.path)
    store = store_of(path.parent, path.name, getattr(script.module, "store", None), folder_stores or {})
    if entry is not None:
        return Migration(script.revision, store, path.parent, path.name, **_known(entry))
    down = _ids(script.down_revision)
    reversal = DECLARED_IRREVERSIBLE if getattr(script.module, "irreversible", False) is True else \
        reversal_of(path, merge=len(down) > 1)
    return Migration(script.revision, store, path.parent, path.name, down=down, depends=_ids(script.dependencies),
                     labels=tuple(script.branch_labels or ()), reversal=reversal)


def _ids(value: Any) -> tuple[str, ...]:
    return () if not value else (value,) if isinstance(value, str) else tuple(value)


def from_scripts(scripts: Iterable[Any], indexed: Mapping[Path, Entry] | None = None,
                 folder_stores: Mapping[str, str] | None = None) -> list[Migration]:
    """The migrations of Alembic's ``scripts`` in the history's order (``order.in_order``), with
    what ``indexed`` (the index's entries by path) knows of each."""
    known = indexed or {}
    return in_order([from_script(script, known.get(Path(script.path)), folder_stores) for script in scripts])


def script_chain(script_directory: Any, folder_stores: Mapping[str, str] | None = None) -> list[Migration]:
    """Every migration of Alembic's script directory, in the history's order."""
    return from_scripts(script_directory.walk_revisions("base", "heads"), folder_stores=folder_stores)


def indexed_chain(folders: list[Path], listing: Listing = folder_stamps,
                  folder_stores: Mapping[str, str] | None = None) -> list[Migration] | None:
    """The history from the revision files' index, without importing them; None when the index
    can't vouch for it (then Alembic loads it, and words any error)."""
    entries = Index(folders, listing).entries()
    return None if entries is None else in_order(migrations_of(entries, folder_stores))


def migrations_of(entries: list[Entry], folder_stores: Mapping[str, str] | None = None) -> list[Migration]:
    """The migrations of index ``entries``, in their order (duplicate ids and all: ordering them
    is ``order.in_order``'s job, and ``rebase`` needs them before that)."""
    stores = folder_stores or {}
    return [Migration(entry.revision, store_of(entry.folder, entry.name, entry.store, stores), entry.folder,
                      entry.name, **_known(entry)) for entry in entries]


def _known(entry: Entry) -> dict[str, Any]:
    """The fields of a migration its index entry knows."""
    return {"known_checksum": entry.checksum, "known_pair": entry.pair_names or (), "known_early": entry.early,
            "down": entry.down, "depends": entry.depends, "labels": entry.labels, "reversal": entry.reversal}
