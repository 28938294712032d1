"""One migration as polyalembic sees it: its revision, store, files and checksum.

Lazy imports: the index, when a chain is read from it: it builds on this module."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from polyalembic.chain.checksum import revision_checksum
from polyalembic.chain.filecache import Listing, folder_stamps
from polyalembic.errors import PolyalembicError
from polyalembic.pairs import pair_paths
from polyalembic.stores import STORES, get_store, is_store
from polyalembic.stores.sql.store import commits_early, is_transactional


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


@dataclass(frozen=True)
class Migration:
    """A revision file plus, for plain pairs, its ``.up``/``.down`` files."""

    revision: str
    store: str
    directory: Path  # the version folder; ``path`` is made from it only when asked (thousands per command)
    filename: str
    #: the checksum and the names of the pair files ((): none) when an up-to-date index knows them
    known_checksum: str | None = field(default=None, compare=False, repr=False)
    known_pair: tuple[str, ...] | None = field(default=None, compare=False, repr=False)
    #: whether the up and the down file commit early, when an up-to-date index knows it
    known_early: tuple[bool, bool] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_script(cls, script: Any) -> Migration:
        """Describe an ``alembic.script.Script``."""
        return cls.at(Path(script.path), script.revision, declared_store(script))

    @classmethod
    def at(cls, path: Path, revision: str, store: str) -> Migration:
        """The migration whose revision file is ``path``."""
        return cls(revision, store, path.parent, path.name)

    def knowing(self, entry: Any) -> Migration:
        """This migration with what the index's ``entry`` for its file knows (none of its files
        need reading again in this run)."""
        return dataclasses.replace(self, **_known(entry))

    @cached_property
    def path(self) -> Path:
        return self.directory / self.filename

    @cached_property
    def pair(self) -> tuple[Path, Path] | None:
        if self.known_pair is not None:
            return (self.directory / self.known_pair[0], self.directory / self.known_pair[1]) \
                if self.known_pair else None
        return pair_paths(self.path)

    @property
    def up_file(self) -> Path:
        """The file whose content is applied on upgrade (the ``.up`` file, or the revision)."""
        return self.pair[0] if self.pair else self.path

    @property
    def migration_file(self) -> str:
        """What the ledger's ``migration_file`` column shows, e.g. ``002_skill_progressions.up.sql``."""
        if self.known_pair is not None:
            return self.known_pair[0] if self.known_pair else self.filename
        return self.up_file.name

    def commits_early(self, upgrade: bool = True) -> bool:
        """True for a pair whose up (or down) file the store runs outside a transaction: its work
        is committed statement by statement (see runtime/recording.py)."""
        if self.known_early is not None:
            return self.known_early[0 if upgrade else 1]
        if upgrade not in self._commits_early:  # read once per run: the recorder asks before every migration
            self._commits_early[upgrade] = bool(self.pair) and \
                commits_early(get_store(self.store), self.pair[0 if upgrade else 1])
        return self._commits_early[upgrade]

    def runs_as_one_transaction(self, upgrade: bool = True) -> bool:
        """The one rule: a transactional store's migration whose file does not commit early (its
        work and, in the ledger's database, its row commit together or not at all)."""
        return is_transactional(get_store(self.store)) and not self.commits_early(upgrade=upgrade)

    @cached_property
    def _commits_early(self) -> dict[bool, bool]:
        """upgrade? -> whether that file commits early, filled as asked."""
        return {}

    @property
    def folder(self) -> str:
        return self.directory.name

    def checksum(self) -> str:
        """SHA-256 of what upgrade applies: the revision file, plus the ``.up`` file of a pair."""
        if self.known_checksum:
            return self.known_checksum
        return revision_checksum(self.path.read_bytes(), self.pair[0] if self.pair else None)


def _known(entry: Any) -> dict[str, Any]:
    """The ``known_*`` fields of a migration from its index entry (``index.Entry``)."""
    return {"known_checksum": entry.checksum, "known_pair": entry.pair_names or (), "known_early": entry.early}


def chain(script_directory: Any) -> list[Migration]:
    """Every migration of the script directory, oldest first (base to head)."""
    scripts = list(script_directory.walk_revisions("base", "heads"))
    return [Migration.from_script(s) for s in reversed(scripts)]


def indexed_chain(folders: list[Path], listing: Listing = folder_stamps) -> list[Migration] | None:
    """The chain from the revision files' index, without importing them; None when the index
    can't vouch for it (then Alembic loads the chain, and words any error)."""
    from polyalembic.chain.index import Index, linear_chain

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
