"""The store contract's conformance suite, shipped so a store written anywhere proves itself the
way the built-in ones do (as golang-migrate ships ``database/testing`` for its drivers).

A store brings one *sample op*: a small reversible change (a table, a constraint, a collection)
made by a function of a scratch folder (pair files may live there). ``check_store`` then runs the
contract end to end on a real server, through Alembic and polyalembic's env.py, in a project of
one revision it writes itself:

- the location names no secret; connect and ``verify`` pass; ``drop_all`` empties the store and
  the empty snapshot is canonical JSON;
- the sample, applied by ``alembic upgrade``, changes the snapshot; a SQL store's autogenerate
  filter hides the ledger and never a table the sample made;
- ``alembic downgrade base`` (the sample's ``reverse()``) gives the empty snapshot back exactly;
- applied again, the snapshot is the same as the first time, and ``drop_all`` (committed) says
  what it dropped and leaves the empty snapshot.

From a store package's own tests, on disposable servers::

    from polyalembic.testing.conformance import check_store

    def test_my_store_keeps_the_contract(tmp_path):
        check_store("mystore", lambda folder: MyCreateThingOp("probe"), my_settings, tmp_path)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.operations import MigrateOperation

from polyalembic.project import Project
from polyalembic.settings import Settings
from polyalembic.stores import get_store
from polyalembic.stores.connections import StoreConnections
from polyalembic.stores.contract import Autogenerates, DatabaseObject, Store

Sample = Callable[[Path], MigrateOperation]

ALEMBIC_INI = """[alembic]
script_location = %(here)s/migrations
version_locations = %(here)s/migrations/{store}
path_separator = space
"""
ENV_PY = """from alembic import context

from polyalembic.runtime import run

run(context)
"""
REVISION = '''"""The conformance suite's sample op of {store}."""
from alembic import op

from polyalembic.testing.conformance import sample_op

revision = "{store}_001"
down_revision = None
store = "{store}"


def upgrade():
    op.invoke(sample_op("{store}"))


def downgrade():
    op.invoke(sample_op("{store}").reverse())
'''
# store -> (its sample, the scratch folder): the revision the suite writes asks for its op here
_SAMPLES: dict[str, tuple[Sample, Path]] = {}


def sample_op(store: str) -> MigrateOperation:
    """The sample op of ``store`` (called from the revision ``check_store`` writes)."""
    make, folder = _SAMPLES[store]
    return make(folder)


def one_revision_project(store: str, sample: Sample, settings: Settings, workdir: Path) -> Project:
    """A project in ``workdir`` whose chain is one revision of ``store`` running ``sample``."""
    folder = workdir / "migrations" / store
    (folder / "probe_files").mkdir(parents=True, exist_ok=True)
    (workdir / "alembic.ini").write_text(ALEMBIC_INI.format(store=store))
    (workdir / "migrations" / "env.py").write_text(ENV_PY)
    (folder / f"001_{store}_probe.py").write_text(REVISION.format(store=store))
    _SAMPLES[store] = (sample, folder / "probe_files")
    return Project(workdir / "alembic.ini", settings=settings)


def check_store(name: str, sample: Sample, settings: Settings, workdir: Path) -> None:
    """Run the whole contract for store ``name`` on the server ``settings`` name (it is emptied:
    point it only at a disposable one); an AssertionError says which promise was broken."""
    store = get_store(name)
    project = one_revision_project(name, sample, settings, workdir)

    location = store.location(settings)
    assert location and not any(secret in location for secret in settings.secrets()), \
        f"{name}: its location shows a secret: {location}"
    with StoreConnections(settings) as connections:
        handle = connections.get(name)
        store.verify(handle, settings)
        store.drop_all(handle)
        empty = store.snapshot(handle)
    assert is_empty(empty), f"{name}: drop_all left {empty}"
    assert json.loads(json.dumps(empty, sort_keys=True)) == empty, f"{name}: the snapshot is not canonical JSON"

    command.upgrade(project.config(), "head")
    changed = _snapshot(store, settings)
    assert changed != empty and not is_empty(changed), f"{name}: the sample changed nothing in the snapshot"
    _autogenerate_hides_only_the_store_s_own_objects(store, settings, changed)

    command.downgrade(project.config(), "base")
    assert _snapshot(store, settings) == empty, f"{name}: the sample's reverse() did not undo it exactly"

    command.upgrade(project.config(), "head")
    with StoreConnections(settings) as connections:
        handle = connections.get(name)
        assert store.snapshot(handle) == changed, f"{name}: applied again, the snapshot differs"
        assert store.drop_all(handle), f"{name}: drop_all did not say what it dropped"
    assert _snapshot(store, settings) == empty, f"{name}: drop_all did not commit"  # a new connection sees it


def is_empty(snapshot: Any) -> bool:
    """Every collection in the snapshot is empty (no objects of any kind)."""
    if isinstance(snapshot, dict):
        return all(is_empty(v) if isinstance(v, (dict, list)) else False for v in snapshot.values())
    return isinstance(snapshot, list) and not snapshot


def _snapshot(store: Store, settings: Settings) -> dict[str, Any]:
    with StoreConnections(settings) as connections:
        return store.snapshot(connections.get(store.name))


def _autogenerate_hides_only_the_store_s_own_objects(store: Store, settings: Settings,
                                                     changed: dict[str, Any]) -> None:
    """A SQL store's autogenerate filter hides the ledger, never a table a migration made."""
    if not isinstance(store, Autogenerates):
        return
    with StoreConnections(settings) as connections:
        handle = connections.get(store.name)
        hides = store.autogenerate_hidden(handle)
        schema = handle.dialect.default_schema_name
    made = [name for name, kind in changed.get("objects", {}).items() if kind == "table"]
    assert made, f"{store.name}: the sample made no table for autogenerate to compare"
    assert not any(hides(DatabaseObject("table", schema, name)) for name in made), \
        f"{store.name}: autogenerate would hide a table the sample made"
    assert hides(DatabaseObject("table", schema, "schema_migrations")), f"{store.name}: autogenerate shows the ledger"
