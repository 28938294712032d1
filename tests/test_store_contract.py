"""One conformance suite for every registered store (and a fifth one added the way a user would),
on the real servers, the way golang-migrate runs one driver test suite over every database.

Each store brings one sample op (``SAMPLES``): a small reversible change. The suite checks the
contract end to end: connect and verify; drop_all empties the store; the sample, run through
Alembic, changes the snapshot; its reverse() brings the snapshot back exactly; drop_all after it
leaves the empty snapshot again; the location never holds a secret.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.operations import MigrateOperation

from polyalembic.project import Project
from polyalembic.runtime.connections import StoreConnections
from polyalembic.settings import Settings
from polyalembic.stores import STORES, Store, get_store
from polyalembic.stores.contract import DatabaseObject
from tests.fifth_store import fifth_store


def _sql_pair(folder: Path, name: str, up: str, down: str) -> MigrateOperation:
    from polyalembic.stores.postgres.ops import RunSqlFileOp

    (folder / f"{name}.up.sql").write_text(up)
    (folder / f"{name}.down.sql").write_text(down)
    return RunSqlFileOp(str(folder / f"{name}.up.sql"), str(folder / f"{name}.down.sql"))


def _postgres(folder: Path) -> MigrateOperation:
    return _sql_pair(folder, "probe", "CREATE TABLE probe (id BIGINT PRIMARY KEY, note TEXT NOT NULL);",
                     "DROP TABLE probe;")


def _timescaledb(folder: Path) -> MigrateOperation:
    return _sql_pair(folder, "probe",
                     "CREATE TABLE probe (time TIMESTAMPTZ NOT NULL, value DOUBLE PRECISION);\n"
                     "SELECT create_hypertable('probe', by_range('time', INTERVAL '1 day'));",
                     "DROP TABLE probe;")


def _neo4j(folder: Path) -> MigrateOperation:
    from polyalembic.stores.neo4j.ops import CreateGraphConstraintOp

    return CreateGraphConstraintOp("probe_id_unique", "Probe", ["id"])


def _chromadb(folder: Path) -> MigrateOperation:
    from polyalembic.stores.chromadb.ops import CreateCollectionOp

    return CreateCollectionOp("probe", configuration={"hnsw": {"space": "cosine"}}, metadata={"owner": "probe"})


# store -> its sample op; a store without one fails test_every_store_brings_a_sample
SAMPLES: dict[str, Callable[[Path], MigrateOperation]] = {
    "postgres": _postgres, "timescaledb": _timescaledb, "neo4j": _neo4j, "chromadb": _chromadb,
    "analytics": _postgres,
}
REVISION = '''
from alembic import op

from tests.test_store_contract import sample

revision = "{store}_001"
down_revision = None
store = "{store}"


def upgrade():
    op.invoke(sample("{store}"))


def downgrade():
    op.invoke(sample("{store}").reverse())
'''
_FOLDERS: dict[str, Path] = {}


def sample(store: str) -> MigrateOperation:
    """The sample op of ``store`` (called from the revision the suite writes)."""
    return SAMPLES[store](_FOLDERS[store])


def test_every_store_brings_a_sample() -> None:
    assert set(STORES) <= set(SAMPLES), f"add a sample op for {set(STORES) - set(SAMPLES)}"


@pytest.fixture(params=[*STORES, "analytics"])
def store_under_test(request: pytest.FixtureRequest, settings: Settings, admin_dsn: str,
                     tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    if request.param != "analytics":
        yield request.param, settings
        return
    with fifth_store(admin_dsn, tmp_path / "fifth") as dsn:
        yield "analytics", settings.replace(ANALYTICS_DSN=dsn)


def _only_store(ops_project: Project, store: str) -> Project:
    """A project whose chain is one revision of ``store`` running its sample op."""
    folder = ops_project.migrations_dir / store
    folder.mkdir(exist_ok=True)
    shutil.rmtree(folder / "__pycache__", ignore_errors=True)
    (folder / f"001_{store}_probe.py").write_text(REVISION.format(store=store))
    _FOLDERS[store] = folder / "probe_files"
    _FOLDERS[store].mkdir(exist_ok=True)
    ini = ops_project.config_path
    if f"migrations/{store}" not in ini.read_text():
        ini.write_text(ini.read_text().replace("%(here)s/migrations/chromadb",
                                               f"%(here)s/migrations/chromadb %(here)s/migrations/{store}"))
    return ops_project


def _is_empty(snapshot: Any) -> bool:
    """Every collection in the snapshot is empty (no objects of any kind)."""
    if isinstance(snapshot, dict):
        return all(_is_empty(v) if isinstance(v, (dict, list)) else False for v in snapshot.values())
    return isinstance(snapshot, list) and not snapshot


def _autogenerate_hides_only_the_store_s_own_objects(store: Store, settings: Settings,
                                                     changed: dict[str, Any]) -> None:
    """A SQL store's autogenerate filter hides the ledger, never a table a migration made."""
    if not store.autogenerates:
        with pytest.raises(NotImplementedError):
            store.autogenerate_hidden(None)
        return
    with StoreConnections(settings) as connections:
        handle = connections.get(store.name)
        hides = store.autogenerate_hidden(handle)
        schema = handle.dialect.default_schema_name
    made = [name for name, kind in changed["objects"].items() if kind == "table"]
    assert made and not any(hides(DatabaseObject("table", schema, name)) for name in made)
    assert hides(DatabaseObject("table", schema, "schema_migrations"))


def test_the_store_contract_on_the_real_server(store_under_test: tuple[str, Settings], ops_project: Project,
                                               settings: Settings) -> None:
    name, store_settings = store_under_test
    store = get_store(name)
    project = Project(_only_store(ops_project, name).config_path, settings=store_settings)

    location = store.location(store_settings)
    assert location and not any(secret in location for secret in store_settings.secrets()), location

    with StoreConnections(store_settings) as connections:
        handle = connections.get(name)
        store.verify(handle, store_settings)
        store.drop_all(handle)
        empty = store.snapshot(handle)
    assert _is_empty(empty), empty
    assert json.loads(json.dumps(empty, sort_keys=True)) == empty  # canonical JSON

    command.upgrade(project.config(), "head")
    with StoreConnections(store_settings) as connections:
        changed = store.snapshot(connections.get(name))
    assert changed != empty and not _is_empty(changed)
    _autogenerate_hides_only_the_store_s_own_objects(store, store_settings, changed)

    command.downgrade(project.config(), "base")
    with StoreConnections(store_settings) as connections:
        assert store.snapshot(connections.get(name)) == empty  # the reverse op undid it exactly

    command.upgrade(project.config(), "head")
    with StoreConnections(store_settings) as connections:
        handle = connections.get(name)
        assert store.snapshot(handle) == changed
        assert store.drop_all(handle)  # says what it dropped
    with StoreConnections(store_settings) as connections:  # committed: a new connection sees it
        assert store.snapshot(connections.get(name)) == empty
