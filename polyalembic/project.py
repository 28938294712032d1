"""The project a command works on: its alembic.ini, script directory, settings and chain.

Reading commands (status, a no-op up, validate) take the chain from the revision index and the
ini from ``inifile``, so they never import Alembic; everything that runs migrations, and every
case the index can't vouch for, goes through Alembic's own Config and ScriptDirectory.

Lazy imports: Alembic's Config and ScriptDirectory, when a command needs Alembic's own view of the
project: reading commands use the index.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyalembic.chain.filecache import Stamp, folder_stamps
from polyalembic.chain.inifile import IniFile
from polyalembic.chain.loader import indexed_chain, script_chain
from polyalembic.chain.migration import Migration
from polyalembic.chain.order import heads
from polyalembic.errors import PolyalembicError
from polyalembic.request import KEY, RunRequest
from polyalembic.settings import Settings, settings_from
from polyalembic.stores import STORES, is_store

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory


def find_config(path: str | os.PathLike[str] | None = None) -> Path:
    """The alembic.ini to use: ``path``, ``$POLYALEMBIC_CONFIG``, or the nearest one upwards."""
    if path or os.environ.get("POLYALEMBIC_CONFIG"):
        found = Path(path or os.environ["POLYALEMBIC_CONFIG"])
        if not found.is_file():
            raise PolyalembicError(f"config file not found: {found}: pass -c with the path of alembic.ini")
        return found.resolve()
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "alembic.ini").is_file():
            return folder / "alembic.ini"
    raise PolyalembicError("no alembic.ini here or above: pass -c/--config PATH")


@dataclass
class Project:
    """alembic.ini + the settings its commands run with."""

    config_path: Path
    settings: Settings | None = None
    #: what every run this project starts asks for (the CLI's events, lock timeout, listener)
    request: RunRequest = field(default_factory=RunRequest)
    #: the migration files don't change while this project lives (one CLI command): the folders
    #: are listed and the chain read once. A long-lived project (a test, an app) reads them anew
    #: at each call (still cheap: see polyalembic/chain/filecache.py).
    frozen_files: bool = False
    _memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.settings is None:
            self.settings = settings_from(self.config_path.resolve().parent, self.ini.option("env_file", "polyalembic"))

    @property
    def root(self) -> Path:
        return self.config_path.parent

    @cached_property
    def ini(self) -> IniFile:
        return IniFile(self.config_path)

    @cached_property
    def alembic_config(self) -> Config:
        from alembic.config import Config

        config = Config(str(self.config_path))
        config.attributes["configure_logger"] = False
        return config

    @cached_property
    def folder_stores(self) -> dict[str, str]:
        """alembic.ini's ``[polyalembic.folders]``: version folder name -> the store its revisions
        belong to (an existing Alembic project's ``versions`` folder, say)."""
        return folder_stores(self.ini)

    @property
    def baseline(self) -> str | None:
        """The revision ``adopt alembic`` recorded: the history before it is taken as Alembic takes it."""
        return baseline_of(self.ini)

    def new_request(self, **changes: Any) -> RunRequest:
        """A request for one run: this project's, with its settings and ``changes``, no outcome yet."""
        return replace(self.request, settings=self.settings, outcomes=[], ran=False, **changes)

    def config(self, request: RunRequest | None = None) -> Config:
        """A fresh Alembic Config that hands migrations/env.py ``request`` (default: a new one)."""
        from alembic.config import Config

        config = Config(str(self.config_path))
        config.attributes.update({"configure_logger": False, KEY: request or self.new_request()})
        return config

    def script(self) -> ScriptDirectory:
        from alembic.script import ScriptDirectory

        check_version_locations(self.alembic_config)
        try:
            return ScriptDirectory.from_config(self.alembic_config)
        except Exception as exc:  # noqa: BLE001 - a broken revision file is a user error
            raise load_error(exc) from None

    @property
    def migrations_dir(self) -> Path:
        return self.ini.script_location or self.root / "migrations"

    def version_folders(self) -> list[Path] | None:
        """The folders Alembic reads revisions from; None when that takes Alembic to say (see
        inifile.py) or one of them is missing (Alembic's path words that error)."""
        folders = self.ini.version_folders()
        return folders if folders is not None and all(folder.is_dir() for folder in folders) else None

    def listing(self, folder: Path) -> dict[str, Stamp]:
        """The stamps of ``folder``'s files (read once per command with ``frozen_files``)."""
        if not self.frozen_files:
            return folder_stamps(folder)
        if ("listing", folder) not in self._memo:
            self._memo["listing", folder] = folder_stamps(folder)
        return self._memo["listing", folder]

    def indexed_chain(self) -> list[Migration] | None:
        """The chain read from the revision files' index (see polyalembic/chain/index.py), or None."""
        if "chain" in self._memo:
            return self._memo["chain"]
        folders = self.version_folders()
        found = indexed_chain(folders, self.listing, self.folder_stores) if folders is not None else None
        if self.frozen_files:
            self._memo["chain"] = found
        return found

    def heads(self) -> list[Migration]:
        """The revisions nothing stands on, in the history's order."""
        return heads(self.chain())

    def single_head(self) -> str | None:
        """The history's one head (None when there are no revisions); one line naming the heads
        and the way out when there are several (two team branches, each with new revisions)."""
        found = self.heads()
        if len(found) > 1:
            names = ", ".join(f"{m.revision} ({m.path.parent.name}/{m.filename})" for m in found)
            raise PolyalembicError(f"the history has {len(found)} heads: {names}: `alembic merge heads` writes a "
                                   "merge revision that joins them, or `polyalembic rebase FILE` moves one "
                                   "branch after the other")
        return found[0].revision if found else None

    def chain(self) -> list[Migration]:
        """All migrations in the history's order (``chain/order.py``: parents first), each with its store."""
        indexed = self.indexed_chain()
        if indexed is not None:
            return indexed
        try:
            return script_chain(self.script(), self.folder_stores)
        except PolyalembicError:
            raise
        except Exception as exc:  # noqa: BLE001 - a revision that does not import is a user error
            raise load_error(exc) from None


def baseline_of(ini: IniFile) -> str | None:
    """``[polyalembic] baseline``: the revision ``adopt alembic`` recorded (None: none)."""
    return (ini.option("baseline", "polyalembic") or "").strip() or None


def folder_stores(ini: IniFile) -> dict[str, str]:
    """``[polyalembic.folders]`` checked: each value names a store polyalembic knows."""
    declared = ini.section("polyalembic.folders")
    for folder, store in declared.items():
        if not is_store(store):
            raise PolyalembicError(f"{ini.path.name}: [polyalembic.folders] {folder} = {store}: {store!r} is no "
                                   f"store: one of {', '.join(STORES)}")
    return declared


def check_version_locations(config: Config) -> None:
    """Every folder ``version_locations`` names exists (Alembic skips a missing one silently, so a
    typo would hide a store's migrations)."""
    locations = config.get_version_locations_list() or []
    missing = [location for location in locations if not Path(location).is_dir()]
    if missing:
        name = Path(config.config_file_name or "alembic.ini").name
        raise PolyalembicError(f"{name}: version_locations names {missing[0]}, which is not a folder: "
                               "create it or remove it from the list")


def load_error(exc: BaseException) -> PolyalembicError:
    """One line naming the revision file that failed to load, and why."""
    if isinstance(exc, SyntaxError):
        return PolyalembicError(f"{exc.filename}: does not parse (line {exc.lineno}: {exc.msg}): fix the syntax")
    frames = [f.filename for f in traceback.extract_tb(exc.__traceback__)]
    revision = next((f for f in reversed(frames) if f.endswith(".py") and "/site-packages/" not in f
                     and "/polyalembic/" not in f), None)
    where = f"{revision}: " if revision else ""
    fix = (f": install {exc.name} or remove the import" if isinstance(exc, ModuleNotFoundError) and exc.name
           else ": fix the revision file (-v shows the traceback)")
    return PolyalembicError(f"cannot load migrations: {where}{type(exc).__name__}: {exc}{fix}")
