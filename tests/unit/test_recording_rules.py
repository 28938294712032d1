"""The Recorder's rules (polyalembic/runtime/recording.py) without a server: which ledger row it
writes, when, and on which connection, told through its injectable ledger. The statements
themselves run on the real server in tests/test_ledger_writes.py and tests/test_recovery.py."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from polyalembic.chain.migration import Migration
from polyalembic.ledger.writes import Ledger, OnConnection
from polyalembic.runtime.recording import Recorder
from polyalembic.settings import Settings
from polyalembic.stores.connections import StoreConnections
from polyalembic.stores.current_run import Run

SETTINGS = Settings({"TIMESCALE_DSN": "postgresql://app:pw@db/app", "NEO4J_URI": "bolt://graph:7687",
                     "NEO4J_PASSWORD": "pw", "CHROMA_HOST": "vectors", "CHROMA_PORT": "8000"})
SQL, GRAPH, VECTORS = (Migration(f"{store}_001", store, Path(store), "001_x.py")
                       for store in ("postgres", "neo4j", "chromadb"))


def _status(statement: Any) -> None:  # the lock's autocommit connection
    raise AssertionError("the told ledger runs no statement")


class Told(Ledger):
    """A ledger that says what it was asked to write, and where: ``status`` (the lock's
    connection, committed at once) or ``transaction`` (the migration's own)."""

    def __init__(self) -> None:
        super().__init__(SETTINGS.ledger_store)
        self.said: list[tuple[Any, ...]] = []

    @staticmethod
    def _where(execute: Any) -> str:
        return "transaction" if isinstance(execute, OnConnection) else "status" if execute is _status else "sql"

    def running(self, execute: Any, m: Migration, completed_steps: int | None) -> None:
        self.said.append(("running", m.revision, completed_steps, self._where(execute)))

    def progress(self, execute: Any, m: Migration, completed_steps: int) -> None:
        self.said.append(("progress", m.revision, completed_steps, self._where(execute)))

    def applied(self, execute: Any, m: Migration, ms: int | None, action: str = "upgrade",
                then_running: tuple[Migration, int | None] | None = None) -> None:
        following = (then_running[0].revision, then_running[1]) if then_running else None
        self.said.append(("applied", m.revision, action, following, self._where(execute)))

    def failed(self, execute: Any, m: Migration, error: str, step: str | None, ms: int | None,
               upgrade: bool = True, completed_steps: int | None = None) -> None:
        self.said.append(("failed" if upgrade else "downgrade failed, partial", m.revision, self._where(execute)))

    def downgrade_failed(self, execute: Any, m: Migration, error: str, ms: int | None) -> None:
        self.said.append(("downgrade failed, rolled back", m.revision, self._where(execute)))

    def reverted(self, execute: Any, m: Migration, ms: int | None, action: str = "downgrade") -> None:
        self.said.append(("reverted", m.revision, action, self._where(execute)))


def _recorder(resume: dict[str, int] | None = None, online: bool = True) -> tuple[Recorder, Told]:
    told = Told()
    return Recorder(told, SETTINGS, Run(StoreConnections(SETTINGS)), status_execute=_status if online else None,
                    resume=resume), told


ONLINE = SimpleNamespace(as_sql=False, connection=object(), execute=None)


def _upgrade(recorder: Recorder, chain: list[Migration]) -> None:
    recorder.plan(chain)
    for m in chain:
        recorder.starting(ONLINE, m, upgrade=True)
        recorder.finished_function()
        recorder.finished(ONLINE, m, upgrade=True, ms=5)


def test_a_sql_migration_commits_with_its_row_and_the_next_running_row_travels_with_it() -> None:
    """Rule 1 for the SQL store in the ledger's database (no `running` row); rule 2 for the graph
    and the vectors: `running` before they start, written by the previous `applied` statement."""
    recorder, told = _recorder()
    _upgrade(recorder, [SQL, GRAPH, VECTORS])
    assert told.said == [
        ("applied", "postgres_001", "upgrade", ("neo4j_001", 0), "transaction"),
        ("applied", "neo4j_001", "upgrade", ("chromadb_001", 0), "transaction"),
        ("applied", "chromadb_001", "upgrade", None, "transaction"),
    ]


def test_a_migration_outside_the_ledger_s_database_is_running_on_the_lock_s_connection_first() -> None:
    recorder, told = _recorder()
    _upgrade(recorder, [GRAPH])
    assert told.said == [("running", "neo4j_001", 0, "status"),
                         ("applied", "neo4j_001", "upgrade", None, "transaction")]


def test_progress_and_an_early_commit_are_recorded_as_they_happen() -> None:
    """Rule 3b: each step that commits on its own adds one; rule 3: a SQL migration whose op commits
    early gets its `running` row just before, once."""
    recorder, told = _recorder()
    recorder.starting(ONLINE, GRAPH, upgrade=True)
    recorder.run.on_progress(1, "CREATE CONSTRAINT a")
    recorder.run.on_progress(2, "CREATE CONSTRAINT b")
    recorder.finished_function()
    recorder.starting(ONLINE, SQL, upgrade=True)
    recorder.run.before_early_commit()
    assert told.said == [("running", "neo4j_001", 0, "status"), ("progress", "neo4j_001", 1, "status"),
                         ("progress", "neo4j_001", 2, "status"), ("running", "postgres_001", 0, "status")]


def test_a_resume_keeps_the_steps_it_skips() -> None:
    recorder, told = _recorder(resume={"neo4j_001": 3})
    recorder.starting(ONLINE, GRAPH, upgrade=True)
    assert recorder.run.resume_after == 3
    assert told.said == [("running", "neo4j_001", 3, "status")]


def test_failures_are_failed_rows_on_the_lock_s_connection_or_an_audit_of_a_rolled_back_downgrade() -> None:
    """Rules 4 and 5: an upgrade that failed; a SQL downgrade rolled back whole (its row stays
    applied); a graph downgrade that may have changed part of the store (its row says failed)."""
    recorder, told = _recorder()
    recorder.failed(ONLINE, GRAPH, upgrade=True, error="boom", step="CREATE (n)", ms=3)
    recorder.failed(ONLINE, SQL, upgrade=False, error="boom", step=None, ms=3)
    recorder.failed(ONLINE, GRAPH, upgrade=False, error="boom", step=None, ms=3)
    assert told.said == [("failed", "neo4j_001", "status"), ("downgrade failed, rolled back", "postgres_001", "status"),
                         ("downgrade failed, partial", "neo4j_001", "status")]


def test_a_downgrade_and_stamps_write_in_the_migration_s_transaction() -> None:
    """Rules 1 (downgrade) and 6 (stamps run nothing and write applied or remove the row)."""
    recorder, told = _recorder()
    recorder.starting(ONLINE, GRAPH, upgrade=False)
    recorder.finished(ONLINE, GRAPH, upgrade=False, ms=2)
    recorder.stamped(ONLINE, SQL, upgrade=True)
    recorder.stamped(ONLINE, SQL, upgrade=False)
    assert told.said == [("reverted", "neo4j_001", "downgrade", "transaction"),
                         ("applied", "postgres_001", "stamp", None, "transaction"),
                         ("reverted", "postgres_001", "unstamp", "transaction")]


def test_sql_renders_the_rows_and_records_no_failure() -> None:
    """Rule 7: under --sql the rows are rendered through the context, and a failure is not recorded."""
    offline = SimpleNamespace(as_sql=True, connection=None, execute=lambda statement: None)
    recorder, told = _recorder(online=False)
    recorder.starting(offline, GRAPH, upgrade=True)
    recorder.failed(offline, GRAPH, upgrade=True, error="x", step=None, ms=0)
    assert told.said == [("running", "neo4j_001", None, "sql")]


def test_snapshots_are_taken_of_what_the_run_touched_and_never_of_what_failed() -> None:
    """Rule 8: the stores a run finished, and each store sharing a database with one, but not a
    store that failed nor one sharing its database."""
    recorder, _ = _recorder()
    used = ["postgres", "timescaledb", "neo4j", "chromadb"]
    assert recorder.stores_to_snapshot(["neo4j"], [], used) == ["neo4j"]
    assert set(recorder.stores_to_snapshot(["postgres"], [], used)) == {"postgres", "timescaledb"}
    assert recorder.stores_to_snapshot(["postgres", "neo4j"], ["timescaledb"], used) == ["neo4j"]
    assert recorder.stores_to_snapshot([], [], used) == []
