"""One migration as polyalembic sees it: its revision, store, files and checksum. Migrations are
made by the chain loader (``chain/loader.py``), from the index or from Alembic's scripts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyalembic.chain.checksum import byte_checksum, revision_checksum
from polyalembic.pairs import pair_paths
from polyalembic.stores import get_store
from polyalembic.stores.contract import Store
from polyalembic.stores.sql.store import commits_early, is_transactional

#: how a revision can be reverted (``Migration.reversal``): it can; it says ``irreversible = True``;
#: its ``downgrade()`` is missing, empty or only raises (irreversible before an adopted baseline,
#: a problem after it)
REVERSIBLE, DECLARED_IRREVERSIBLE, NO_DOWNGRADE = 0, 1, 2


_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class Migration:
    """A revision file plus, for plain pairs, its ``.up``/``.down`` files. Slotted, with what is
    worked out when asked kept in slots of its own: a long history makes thousands per command."""

    revision: str
    store: str
    directory: Path  # the version folder; ``path`` is made from it only when asked (thousands per command)
    filename: str
    #: the checksum and the names of the pair files ((): none) when an up-to-date index knows them
    known_checksum: str | None = field(default=None, compare=False, repr=False)
    known_pair: tuple[str, ...] | None = field(default=None, compare=False, repr=False)
    #: whether the up and the down file commit early, when an up-to-date index knows it
    known_early: tuple[bool, bool] | None = field(default=None, compare=False, repr=False)
    down: tuple[str, ...] = field(default=(), compare=False, repr=False)  # parents: two or more at a merge
    depends: tuple[str, ...] = field(default=(), compare=False, repr=False)  # ``depends_on``
    labels: tuple[str, ...] = field(default=(), compare=False, repr=False)  # ``branch_labels``
    reversal: int = field(default=REVERSIBLE, compare=False, repr=False)
    _path: Path = field(default=_UNSET, init=False, compare=False, repr=False)
    _pair: tuple[Path, Path] | None = field(default=_UNSET, init=False, compare=False, repr=False)
    _spec: Store = field(default=_UNSET, init=False, compare=False, repr=False)
    #: upgrade? -> whether that file commits early, filled as asked
    _early: dict[bool, bool] = field(default=_UNSET, init=False, compare=False, repr=False)

    def _remember(self, name: str, value: Any) -> Any:
        object.__setattr__(self, name, value)
        return value

    @property
    def is_merge(self) -> bool:
        return len(self.down) > 1

    @property
    def path(self) -> Path:
        return self._path if self._path is not _UNSET else self._remember("_path", self.directory / self.filename)

    @property
    def pair(self) -> tuple[Path, Path] | None:
        if self._pair is not _UNSET:
            return self._pair
        if self.known_pair is not None:
            return self._remember("_pair", (self.directory / self.known_pair[0], self.directory / self.known_pair[1])
                                  if self.known_pair else None)
        return self._remember("_pair", pair_paths(self.path))

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

    @property
    def spec(self) -> Store:
        """The store object, looked up once (the recorder asks at every migration)."""
        return self._spec if self._spec is not _UNSET else self._remember("_spec", get_store(self.store))

    def commits_early(self, upgrade: bool = True) -> bool:
        """True for a pair whose up (or down) file the store runs outside a transaction: its work
        is committed statement by statement (see runtime/recording.py)."""
        if self.known_early is not None:
            return self.known_early[0 if upgrade else 1]
        known = self._early if self._early is not _UNSET else self._remember("_early", {})
        if upgrade not in known:  # read once per run: the recorder asks before every migration
            known[upgrade] = bool(self.pair) and commits_early(self.spec, self.pair[0 if upgrade else 1])
        return known[upgrade]

    def runs_as_one_transaction(self, upgrade: bool = True) -> bool:
        """The one rule: a transactional store's migration whose file does not commit early (its
        work and, in the ledger's database, its row commit together or not at all)."""
        return is_transactional(self.spec) and not self.commits_early(upgrade=upgrade)

    @property
    def folder(self) -> str:
        return self.directory.name

    def checksum(self) -> str:
        """SHA-256 of what upgrade applies: the revision file, plus the ``.up`` file of a pair."""
        if self.known_checksum:
            return self.known_checksum
        return revision_checksum(self.path.read_bytes(), self.pair[0] if self.pair else None)

    def checksum_matches(self, recorded: str | None) -> bool:
        """True when ``recorded`` (a ledger row's checksum) says the files are unchanged: the
        checksum, or the byte checksum a row recorded before line endings were ignored holds."""
        if recorded == self.checksum():
            return True
        return recorded is not None and self.path.exists() and \
            recorded == byte_checksum(self.path.read_bytes(), self.pair[0] if self.pair else None)
