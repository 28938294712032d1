"""``[polyalembic] target_metadata``: the SQLAlchemy MetaData autogenerate compares each SQL
store's database with. ``target_metadata = app.models:metadata`` serves every SQL store;
``target_metadata.<store> = ...`` one store (it wins over the plain one). A value that can't be
loaded is one line naming the setting and the value.

Lazy imports: SQLAlchemy's MetaData, only for autogenerate."""

from __future__ import annotations

import contextlib
import importlib
import types
from collections.abc import Mapping
from typing import TYPE_CHECKING

from polyalembic.errors import PolyalembicError
from polyalembic.stores import STORES
from polyalembic.stores.contract import Autogenerates

if TYPE_CHECKING:
    import sqlalchemy as sa

SETTING = "target_metadata"


def sql_stores() -> list[str]:
    """The stores autogenerate compares (those with the ``Autogenerates`` capability), registry order."""
    return [store.name for store in STORES.values() if isinstance(store, Autogenerates)]


def configured(options: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """store -> (setting, value) from the ``[polyalembic]`` section's ``options``; an error for a
    ``target_metadata.<x>`` that names no SQL store."""
    stores = sql_stores()
    for key in options:
        if key.startswith(f"{SETTING}.") and key.split(".", 1)[1] not in stores:
            raise PolyalembicError(f"[polyalembic] {key}: {key.split('.', 1)[1]} is not a store autogenerate "
                                   f"compares (SQL stores: {', '.join(stores)})")
    found = {}
    for store in stores:
        setting = f"{SETTING}.{store}" if options.get(f"{SETTING}.{store}") else SETTING
        if options.get(setting):
            found[store] = (setting, options[setting].strip())
    return found


def missing(config_name: str) -> PolyalembicError:
    """The one line ``alembic check`` and ``revision --autogenerate`` print without the setting."""
    return PolyalembicError(
        f"{config_name}: [polyalembic] {SETTING} is not set: name your SQLAlchemy MetaData there "
        f"(target_metadata = app.models:metadata; {SETTING}.<store> for one store) so autogenerate can "
        f"compare the SQL stores ({', '.join(sql_stores())})")


def load(setting: str, value: str) -> sa.MetaData:
    """The MetaData ``value`` (``module:attribute``) names."""
    import sqlalchemy as sa

    where = f"[polyalembic] {setting} = {value}"
    module_name, _, attribute = value.partition(":")
    if not module_name or not attribute:
        raise PolyalembicError(f"{where}: write module:attribute, e.g. app.models:metadata")
    try:
        found: object = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any error of the user's module is theirs to see
        reason = (str(exc).strip().splitlines() or [""])[0]
        raise PolyalembicError(f"{where}: cannot import {module_name} ({type(exc).__name__}: {reason}): fix the "
                               "module or the setting (the import path starts at alembic.ini's prepend_sys_path)") \
            from None
    for part in attribute.split("."):
        if not hasattr(found, part) and isinstance(found, types.ModuleType):
            with contextlib.suppress(ImportError):  # a submodule its package does not import itself
                importlib.import_module(f"{found.__name__}.{part}")
        if not hasattr(found, part):
            raise PolyalembicError(f"{where}: {module_name} has no attribute {attribute}: name the MetaData object")
        found = getattr(found, part)
    if not isinstance(found, sa.MetaData):
        inner = isinstance(getattr(found, "metadata", None), sa.MetaData)
        suggestion = f"{value}.metadata" if inner else "module:attribute of a sqlalchemy.MetaData()"
        raise PolyalembicError(f"{where}: {attribute} is a {type(found).__name__}, not a SQLAlchemy MetaData: "
                               f"name the MetaData ({suggestion})")
    return found
