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
  what it dropped and leaves the empty snapshot;
- a SQL store's claims (``try_claim``/``release_claim``: how fleet runs share targets out) are
  held by one session at a time, one claim per name, apart from the migration lock; given back
  by ``release_claim``, and by the session's end (a run that dies gives its targets up).

From a store package's own tests, on disposable servers::

    from polyalembic.testing.conformance import check_store

    def test_my_store_keeps_the_contract(tmp_path):
        check_store("mystore", lambda folder: MyCreateThingOp("probe"), my_settings, tmp_path)

``check_claims(store, settings)`` runs the claims' part alone (no migration).
"""

from __future__ import annotations

import json
import secrets
import time
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
from polyalembic.stores.sql.store import SqlStore

Sample = Callable[[Path], MigrateOperation]
#: seconds a claim may take to go once its session has closed (the server ends the backend)
SESSION_END = 10.0

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
    check_claims(store, settings)


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


def check_claims(store: Store, settings: Settings) -> None:
    """A SQL store's claim is one session's at a time (two fleet runs never migrate one target at
    once), a claim per name (a run holds many), not the migration lock (the claims database may be
    a target's own), given back by ``release_claim``, and by its session's end: a run that dies
    must not keep its targets from the others."""
    if not isinstance(store, SqlStore):
        return
    dsn = store.database_url(settings)
    assert dsn, f"{store.name}: no database to take claims in"
    claim, other = (f"polyalembic conformance claim {secrets.token_hex(6)}" for _ in range(2))
    first, second = (store.connect_to(dsn, store.name, store.source(settings), autocommit=True) for _ in range(2))
    try:
        assert store.try_claim(first, claim), f"{store.name}: try_claim refused a claim nobody holds"
        assert not store.try_claim(second, claim), f"{store.name}: two sessions hold one claim"
        assert store.try_claim(second, other), f"{store.name}: a claim held blocks a claim of another name"
        with store.migration_lock(second, timeout=0):  # raises when a claim took the migration lock
            pass
        store.release_claim(first, claim)
        assert store.try_claim(second, claim), f"{store.name}: release_claim did not give the claim back"
        assert not store.try_claim(first, claim), f"{store.name}: a released claim was taken twice"
        second.close()  # its session ends: the claims it held go with it
        deadline = time.monotonic() + SESSION_END
        while not store.try_claim(first, claim):
            assert time.monotonic() < deadline, \
                f"{store.name}: a claim outlived its session by {SESSION_END:g}s (a dead run keeps its targets)"
            time.sleep(0.1)
    finally:
        first.close()
        second.close()
