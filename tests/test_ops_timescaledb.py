"""The TimescaleDB ops against the real TimescaleDB server: each op, its reverse(), and --sql.

Every test writes its own revision files into a copy of the project whose seed revisions are
removed (``ops_project``), so the chain holds only the ops under test, then runs Alembic's
``upgrade``/``downgrade`` and reads TimescaleDB's catalog (timescaledb_information.*) back.

Policies are run with ``CALL run_job``: on PostgreSQL 15.20 the background scheduler's own runs
fail for a reason outside this project (see the README's stack section), the same jobs run by
hand work.
"""

from __future__ import annotations

import datetime as dt
import io
from contextlib import AbstractContextManager
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from polyalembic.errors import MigrationFailed, PolyalembicError
from polyalembic.project import Project
from polyalembic.settings import Settings
from polyalembic.stores.timescaledb import introspect
from tests.support import RecordedEvents, ledger, relinked, store_connection
from tests.support import add_revision as _add_revision


def add_revision(project: Project, filename: str, source: str) -> None:
    _add_revision(project, filename, source, "timescaledb")


def tsdb(settings: Settings) -> AbstractContextManager[Any]:
    return store_connection(settings, "timescaledb")


def rows(connection: sa.Connection, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in connection.execute(sa.text(sql), params).all()]


def scalar(connection: sa.Connection, sql: str, **params: Any) -> Any:
    return connection.execute(sa.text(sql), params).scalar()


def jobs(connection: sa.Connection) -> dict[str, dict[str, Any]]:
    """proc_name -> config of the user jobs (policies)."""
    return {r[0]: r[1] for r in rows(connection, "SELECT proc_name, config FROM timescaledb_information.jobs "
                                                  "WHERE job_id >= 1000")}


def run_job(connection: sa.Connection, proc_name: str) -> None:
    """Run a policy now, outside a transaction: policies commit as they go."""
    job_id = scalar(connection, "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = :p", p=proc_name)
    connection.commit()
    level = connection.get_isolation_level()
    connection.execution_options(isolation_level="AUTOCOMMIT")
    try:
        connection.execute(sa.text(f"CALL run_job({int(job_id)})"))
    finally:
        connection.rollback()  # ends SQLAlchemy's transaction; nothing to undo in autocommit
        connection.execution_options(isolation_level=level)


def table_state(connection: sa.Connection, table: str = "metrics") -> dict[str, Any]:
    """Rows (count, sum), indexes and constraints of ``table``: what a revert must keep."""
    return {
        "rows": rows(connection, f"SELECT count(*), sum(value), min(time), max(time) FROM {table}")[0],
        "indexes": sorted(r[0] for r in rows(connection, "SELECT indexname FROM pg_indexes WHERE tablename = :t",
                                             t=table)),
        "constraints": sorted(rows(connection, "SELECT conname, contype, pg_get_constraintdef(oid) "
                                               "FROM pg_constraint WHERE conrelid = CAST(:t AS regclass)", t=table)),
        "default": scalar(connection, "SELECT column_default FROM information_schema.columns "
                                      "WHERE table_name = :t AND column_name = 'unit'", t=table),
    }


def insert_metrics(connection: sa.Connection, start: str = "2024-01-01 00:00+00", hours: int = 96) -> None:
    """One row per device (3) and hour from ``start``: 4 days make 4 chunks of 1 day."""
    connection.execute(sa.text(
        "INSERT INTO metrics (time, device, value) "
        "SELECT CAST(:start AS timestamptz) + h * INTERVAL '1 hour', 'd' || d, h * 10 + d "
        "FROM generate_series(0, :hours - 1) h, generate_series(1, 3) d"), {"start": start, "hours": hours})


TABLE = '''
    """The metrics table: a primary key with the time column, a check, a default and an index."""
    from alembic import op

    revision = "timescaledb_001"
    down_revision = None
    store = "timescaledb"


    def upgrade() -> None:
        op.execute("""
            CREATE TABLE metrics (
                time   TIMESTAMPTZ      NOT NULL,
                device VARCHAR(16)      NOT NULL,
                value  DOUBLE PRECISION NOT NULL,
                unit   VARCHAR(8)       NOT NULL DEFAULT 'ms',
                CONSTRAINT pk_metrics PRIMARY KEY (device, time),
                CONSTRAINT ck_metrics_value CHECK (value >= 0)
            )""")
        op.execute("CREATE INDEX idx_metrics_value ON metrics (value)")


    def downgrade() -> None:
        op.execute("DROP TABLE metrics")
'''

HYPERTABLE = '''
    """Make metrics a hypertable with chunks of one day."""
    from alembic import op

    from polyalembic.stores.timescaledb.ops import CreateHypertableOp

    revision = "timescaledb_002"
    down_revision = "timescaledb_001"
    store = "timescaledb"

    CREATE = CreateHypertableOp("metrics", "time", chunk_interval="1 day", migrate_data=True)


    def upgrade() -> None:
        op.invoke(CREATE)


    def downgrade() -> None:
        op.invoke(CREATE.reverse())  # revert_hypertable: a plain table with the same rows
'''


def hypertable_project(project: Project, *more: tuple[str, str]) -> None:
    add_revision(project, "001_metrics.py", TABLE)
    add_revision(project, "002_hypertable.py", HYPERTABLE)
    for filename, source in more:
        add_revision(project, filename, source)


def chunk_interval(connection: sa.Connection, table: str = "metrics") -> Any:
    return scalar(connection, "SELECT time_interval FROM timescaledb_information.dimensions "
                              "WHERE hypertable_name = :t", t=table)


# --- create_hypertable / revert_hypertable ----------------------------------------------------


def test_create_hypertable_by_range_and_its_reverse_leaves_a_plain_table_with_the_same_rows(
        ops_project: Project, settings: Settings) -> None:
    hypertable_project(ops_project)
    command.upgrade(ops_project.config(), "timescaledb_001")
    with tsdb(settings) as conn:
        insert_metrics(conn)  # rows before the hypertable exists: migrate_data moves them into chunks
        before = table_state(conn)

    command.upgrade(ops_project.config(), "head")
    with tsdb(settings) as conn:
        assert introspect.hypertables(conn) == {"metrics": {"compression_enabled": False, "num_chunks": 4}}
        assert chunk_interval(conn) == dt.timedelta(days=1)
        assert table_state(conn)["rows"] == before["rows"]

    command.downgrade(ops_project.config(), "-1")
    with tsdb(settings) as conn:
        assert introspect.hypertables(conn) == {}
        assert scalar(conn, "SELECT relkind FROM pg_class WHERE relname = 'metrics'") == "r"
        assert scalar(conn, "SELECT count(*) FROM timescaledb_information.chunks") == 0
        after = table_state(conn)
        assert after["rows"] == before["rows"]
        assert after["constraints"] == before["constraints"], "the primary key and checks survive"
        # every index keeps its name; the hypertable's default time index stays (harmless: a later
        # create_hypertable reuses it)
        assert set(after["indexes"]) - set(before["indexes"]) == {"metrics_time_idx"}
        assert after["default"] == before["default"]
        with pytest.raises(sa.exc.IntegrityError):  # the primary key is still enforced
            conn.execute(sa.text("INSERT INTO metrics (time, device, value) VALUES ('2024-01-01 00:00+00', 'd1', 1)"))
        conn.rollback()

    command.upgrade(ops_project.config(), "head")  # and up again: migrate_data takes the rows back
    with tsdb(settings) as conn:
        assert introspect.hypertables(conn)["metrics"]["num_chunks"] == 4
        assert table_state(conn)["rows"] == before["rows"]


REVERT = '''
    """Turn metrics back into a plain table (compressed chunks included)."""
    from alembic import op

    from polyalembic.stores.timescaledb.ops import RevertHypertableOp

    revision = "timescaledb_004"
    down_revision = "timescaledb_003"
    store = "timescaledb"

    REVERT = RevertHypertableOp("metrics", time_column="time", chunk_interval="1 day")


    def upgrade() -> None:
        op.revert_hypertable("metrics", time_column="time", chunk_interval="1 day")


    def downgrade() -> None:
        op.invoke(REVERT.reverse())  # create_hypertable(..., migrate_data => TRUE)
'''


def test_revert_hypertable_of_a_compressed_hypertable_and_its_reverse(ops_project: Project,
                                                                     settings: Settings) -> None:
    hypertable_project(ops_project, ("003_compression.py", COMPRESSION), ("004_revert.py", REVERT))
    command.upgrade(ops_project.config(), "timescaledb_003")
    with tsdb(settings) as conn:
        insert_metrics(conn)
        conn.execute(sa.text("SELECT compress_chunk(c) FROM show_chunks('metrics') c"))
        assert scalar(conn, "SELECT bool_and(is_compressed) FROM timescaledb_information.chunks") is True
        before = table_state(conn)

    told = RecordedEvents()
    command.upgrade(ops_project.config(ops_project.new_request(events=told)), "head")
    assert told.progress() == [("copy metrics", n, 4, "chunks", False) for n in (1, 2, 3, 4)] + [
        ("copy metrics", 4, 4, "chunks", True)], "the copy goes chunk by chunk and tells it"
    with tsdb(settings) as conn:
        assert introspect.hypertables(conn) == {}
        after = table_state(conn)
        assert (after["rows"], after["constraints"], after["default"]) == (
            before["rows"], before["constraints"], before["default"])
        assert after["indexes"] == before["indexes"] == ["idx_metrics_value", "metrics_time_idx", "pk_metrics"]

    command.downgrade(ops_project.config(), "-1")
    with tsdb(settings) as conn:
        assert introspect.hypertables(conn)["metrics"]["num_chunks"] == 4
        assert chunk_interval(conn) == dt.timedelta(days=1)
        assert table_state(conn)["rows"] == before["rows"]


# --- enable_compression / disable_compression -------------------------------------------------


COMPRESSION = '''
    """Enable compression on metrics, segmented by device."""
    from alembic import op

    from polyalembic.stores.timescaledb.ops import EnableCompressionOp

    revision = "timescaledb_003"
    down_revision = "timescaledb_002"
    store = "timescaledb"

    ENABLE = EnableCompressionOp("metrics", segmentby="device", orderby="time DESC")


    def upgrade() -> None:
        op.enable_compression("metrics", segmentby="device", orderby="time DESC")


    def downgrade() -> None:
        op.invoke(ENABLE.reverse())  # disable_compression: decompress every chunk, then turn it off
'''


def test_enable_compression_then_its_reverse_decompresses_and_turns_it_off(ops_project: Project,
                                                                          settings: Settings) -> None:
    hypertable_project(ops_project, ("003_compression.py", COMPRESSION))
    command.upgrade(ops_project.config(), "head")
    with tsdb(settings) as conn:
        assert introspect.hypertables(conn)["metrics"]["compression_enabled"] is True
        settings_rows = rows(conn, "SELECT attname, segmentby_column_index, orderby_column_index, orderby_asc "
                                   "FROM timescaledb_information.compression_settings "
                                   "WHERE hypertable_name = 'metrics' ORDER BY attname")
        assert settings_rows == [("device", 1, None, None), ("time", None, 1, False)]
        insert_metrics(conn)
        before = table_state(conn)["rows"]
        compressed = rows(conn, "SELECT compress_chunk(c) FROM show_chunks('metrics') c")
        assert len(compressed) == 4
        assert rows(conn, "SELECT count(*) FILTER (WHERE is_compressed), count(*) "
                          "FROM timescaledb_information.chunks WHERE hypertable_name = 'metrics'") == [(4, 4)]
        assert table_state(conn)["rows"] == before, "compressed chunks read back the same rows"

    told = RecordedEvents()
    command.downgrade(ops_project.config(ops_project.new_request(events=told)), "-1")
    assert told.progress()[-1] == ("decompress metrics", 4, 4, "chunks", True)
    with tsdb(settings) as conn:
        assert introspect.hypertables(conn)["metrics"] == {"compression_enabled": False, "num_chunks": 4}
        assert scalar(conn, "SELECT count(*) FILTER (WHERE is_compressed) FROM timescaledb_information.chunks") == 0
        assert rows(conn, "SELECT * FROM timescaledb_information.compression_settings") == []
        assert table_state(conn)["rows"] == before
        conn.execute(sa.text("UPDATE metrics SET value = value + 1 WHERE device = 'd1'"))  # writable as before


def test_disable_compression_with_the_op_proxy_removes_the_policy_too(ops_project: Project,
                                                                      settings: Settings) -> None:
    hypertable_project(ops_project, ("003_compression.py", COMPRESSION), ("004_disable.py", '''
        """Turn compression off again (the compression policy goes first)."""
        from alembic import op

        from polyalembic.stores.timescaledb.ops import DisableCompressionOp

        revision = "timescaledb_004"
        down_revision = "timescaledb_003"
        store = "timescaledb"

        DISABLE = DisableCompressionOp("metrics", segmentby="device", orderby="time DESC")


        def upgrade() -> None:
            op.add_compression_policy("metrics", compress_after="30 days")
            op.disable_compression("metrics")


        def downgrade() -> None:
            op.invoke(DISABLE.reverse())
    '''))
    command.upgrade(ops_project.config(), "timescaledb_003")
    with tsdb(settings) as conn:
        insert_metrics(conn)
        conn.execute(sa.text("SELECT compress_chunk(c) FROM show_chunks('metrics') c"))
        before = table_state(conn)["rows"]
    command.upgrade(ops_project.config(), "head")
    with tsdb(settings) as conn:
        assert introspect.hypertables(conn)["metrics"]["compression_enabled"] is False
        assert jobs(conn) == {}
        assert table_state(conn)["rows"] == before
    command.downgrade(ops_project.config(), "-1")
    with tsdb(settings) as conn:
        assert introspect.hypertables(conn)["metrics"]["compression_enabled"] is True
        assert {r[0] for r in rows(conn, "SELECT attname FROM timescaledb_information.compression_settings "
                                         "WHERE segmentby_column_index IS NOT NULL")} == {"device"}


# --- compression and retention policies -------------------------------------------------------


POLICIES = '''
    """Compress chunks older than 30 days, drop chunks older than 365 days."""
    from alembic import op

    from polyalembic.stores.timescaledb.ops import AddCompressionPolicyOp, AddRetentionPolicyOp

    revision = "timescaledb_004"
    down_revision = "timescaledb_003"
    store = "timescaledb"

    COMPRESS = AddCompressionPolicyOp("metrics", "30 days")
    RETAIN = AddRetentionPolicyOp("metrics", "365 days")


    def upgrade() -> None:
        op.add_compression_policy("metrics", compress_after="30 days")
        op.add_retention_policy("metrics", drop_after="365 days")
        op.add_retention_policy("metrics", drop_after="365 days")  # if_not_exists: a rerun works


    def downgrade() -> None:
        op.invoke(RETAIN.reverse())
        op.invoke(COMPRESS.reverse())
'''

REMOVE_POLICIES = '''
    """Remove both policies again; the downgrade puts them back."""
    from alembic import op

    from polyalembic.stores.timescaledb.ops import RemoveCompressionPolicyOp, RemoveRetentionPolicyOp

    revision = "timescaledb_005"
    down_revision = "timescaledb_004"
    store = "timescaledb"


    def upgrade() -> None:
        op.remove_compression_policy("metrics")
        op.remove_retention_policy("metrics")


    def downgrade() -> None:
        op.invoke(RemoveCompressionPolicyOp("metrics", "30 days").reverse())
        op.invoke(RemoveRetentionPolicyOp("metrics", "365 days").reverse())
'''


def test_add_and_remove_compression_and_retention_policies_and_their_reverses(ops_project: Project,
                                                                             settings: Settings) -> None:
    hypertable_project(ops_project, ("003_compression.py", COMPRESSION), ("004_policies.py", POLICIES),
                       ("005_remove_policies.py", REMOVE_POLICIES))
    command.upgrade(ops_project.config(), "timescaledb_004")
    with tsdb(settings) as conn:
        found = jobs(conn)
        assert set(found) == {"policy_compression", "policy_retention"}
        assert found["policy_compression"]["compress_after"] == "30 days"
        assert found["policy_retention"]["drop_after"] == "365 days"
        assert introspect.jobs(conn) == [("policy_compression", "metrics"), ("policy_retention", "metrics")]

        # the policies really work (run by hand, as the scheduler would)
        insert_metrics(conn, start="2020-01-01 00:00+00", hours=48)  # two old chunks: dropped by retention
        now = scalar(conn, "SELECT now()")
        insert_metrics(conn, start=(now - dt.timedelta(days=60)).isoformat(), hours=24)  # compressed, kept
        insert_metrics(conn, start=now.isoformat(), hours=3)  # recent: left alone
        conn.commit()
        run_job(conn, "policy_compression")
        compressed = dict(rows(conn, "SELECT range_start < now() - INTERVAL '30 days', bool_and(is_compressed) "
                                     "FROM timescaledb_information.chunks GROUP BY 1"))
        assert compressed == {True: True, False: False}
        run_job(conn, "policy_retention")
        assert scalar(conn, "SELECT count(*) FROM metrics WHERE time < '2021-01-01'") == 0
        assert scalar(conn, "SELECT count(*) FROM metrics") == 3 * 24 + 3 * 3

    command.upgrade(ops_project.config(), "head")
    with tsdb(settings) as conn:
        assert jobs(conn) == {}
    command.downgrade(ops_project.config(), "-1")  # reverses of the removals
    with tsdb(settings) as conn:
        found = jobs(conn)
        assert (found["policy_compression"]["compress_after"], found["policy_retention"]["drop_after"]) == (
            "30 days", "365 days")
    command.downgrade(ops_project.config(), "-1")  # reverses of the additions
    with tsdb(settings) as conn:
        assert jobs(conn) == {}


# --- continuous aggregates --------------------------------------------------------------------


DAILY_SELECT = """
    SELECT time_bucket(INTERVAL '1 day', time) AS bucket, device,
           count(*) AS samples, sum(value) AS total
    FROM metrics
    WHERE device LIKE 'd%'
    GROUP BY bucket, device"""

AGGREGATE = f'''
    """A daily continuous aggregate created WITH DATA (autocommit), and its refresh policy."""
    from alembic import op

    from polyalembic.stores.timescaledb.ops import AddContinuousAggregatePolicyOp, CreateContinuousAggregateOp

    revision = "timescaledb_003"
    down_revision = "timescaledb_002"
    store = "timescaledb"

    SELECT = """{DAILY_SELECT}"""
    CREATE = CreateContinuousAggregateOp("metrics_daily", SELECT, materialized_only=True)
    POLICY = AddContinuousAggregatePolicyOp("metrics_daily", start_offset="30 days", end_offset="1 hour",
                                            schedule_interval="1 hour")


    def upgrade() -> None:
        op.create_continuous_aggregate("metrics_daily", SELECT, materialized_only=True)
        op.add_continuous_aggregate_policy("metrics_daily", start_offset="30 days", end_offset="1 hour",
                                           schedule_interval="1 hour")


    def downgrade() -> None:
        op.invoke(POLICY.reverse())
        op.invoke(CREATE.reverse())
'''

REFRESH = '''
    """Materialize metrics_daily over a window."""
    from alembic import op

    from polyalembic.stores.timescaledb.ops import RefreshContinuousAggregateOp

    revision = "timescaledb_004"
    down_revision = "timescaledb_003"
    store = "timescaledb"

    REFRESH = RefreshContinuousAggregateOp("metrics_daily", "2024-01-01", "2024-02-01")


    def upgrade() -> None:
        op.refresh_continuous_aggregate("metrics_daily", "2024-01-01", "2024-02-01")


    def downgrade() -> None:
        op.invoke(REFRESH.reverse())
'''


def daily(connection: sa.Connection) -> list[tuple[Any, ...]]:
    return rows(connection, "SELECT to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD'), device, samples, total "
                            "FROM metrics_daily ORDER BY bucket, device")


def test_continuous_aggregate_with_data_policy_refresh_and_reverses(ops_project: Project,
                                                                   settings: Settings) -> None:
    hypertable_project(ops_project, ("003_daily.py", AGGREGATE), ("004_refresh.py", REFRESH))
    command.upgrade(ops_project.config(), "timescaledb_002")
    with tsdb(settings) as conn:
        insert_metrics(conn, hours=48)  # 2 days x 3 devices
        conn.execute(sa.text("INSERT INTO metrics (time, device, value) VALUES ('2024-01-01', 'x1', 5)"))

    command.upgrade(ops_project.config(), "timescaledb_003")
    with tsdb(settings) as conn:
        assert introspect.continuous_aggregates(conn) == ["metrics_daily"]
        assert scalar(conn, "SELECT materialized_only FROM timescaledb_information.continuous_aggregates") is True
        # materialized_only: the view shows only what the WITH DATA creation materialized
        got = daily(conn)
        assert [(b, d, n) for b, d, n, _ in got] == [
            (day, f"d{i}", 24) for day in ("2024-01-01", "2024-01-02") for i in (1, 2, 3)]
        assert sum(total for *_, total in got) == scalar(conn, "SELECT sum(value) FROM metrics WHERE device <> 'x1'")
        policy = jobs(conn)["policy_refresh_continuous_aggregate"]
        assert (policy["start_offset"], policy["end_offset"]) == ("30 days", "01:00:00")
        assert introspect.jobs(conn) == [("policy_refresh_continuous_aggregate", "metrics_daily")]
        insert_metrics(conn, start="2024-01-03 00:00+00", hours=24)  # not materialized yet
        assert len(daily(conn)) == 6

    command.upgrade(ops_project.config(), "head")  # refresh_continuous_aggregate (outside a transaction)
    with tsdb(settings) as conn:
        assert len(daily(conn)) == 9
        assert daily(conn)[-1][:3] == ("2024-01-03", "d3", 24)
        insert_metrics(conn, start="2024-01-04 00:00+00", hours=24)
    command.downgrade(ops_project.config(), "-1")  # a refresh's reverse is the same refresh
    with tsdb(settings) as conn:
        assert len(daily(conn)) == 12

    command.downgrade(ops_project.config(), "-1")  # policy removed, aggregate dropped
    with tsdb(settings) as conn:
        assert introspect.continuous_aggregates(conn) == []
        assert jobs(conn) == {}
        assert scalar(conn, "SELECT to_regclass('metrics_daily')") is None
    command.upgrade(ops_project.config(), "head")  # and back: WITH DATA materializes all 4 days
    with tsdb(settings) as conn:
        assert len(daily(conn)) == 12


def test_continuous_aggregate_made_in_an_autocommit_block_survives_a_failure_and_the_rerun_works(
        ops_project: Project, settings: Settings) -> None:
    broken = AGGREGATE.replace('        op.add_continuous_aggregate_policy(',
                               '        op.execute("SELECT no_such_function()")\n'
                               '        op.add_continuous_aggregate_policy(')
    hypertable_project(ops_project, ("003_daily.py", broken))
    command.upgrade(ops_project.config(), "timescaledb_002")
    with tsdb(settings) as conn:
        insert_metrics(conn, hours=24)
    with pytest.raises(MigrationFailed, match="no_such_function"):
        command.upgrade(ops_project.config(), "head")
    with tsdb(settings) as conn:
        assert introspect.continuous_aggregates(conn) == ["metrics_daily"], "committed by the autocommit block"
        assert jobs(conn) == {}
    assert {r.revision: r.status for r in ledger(settings)}["timescaledb_003"] == "failed"

    add_revision(ops_project, "003_daily.py", AGGREGATE)
    with pytest.raises(PolyalembicError, match=r"timescaledb_003\) failed part way after 1 completed step"):
        command.upgrade(ops_project.config(), "head")  # the aggregate is in: up does not guess
    from polyalembic.commands.repair import repair

    repair(ops_project, "retry", "timescaledb_003")  # IF NOT EXISTS / if_not_exists: the rerun completes
    with tsdb(settings) as conn:
        assert len(daily(conn)) == 3
        assert set(jobs(conn)) == {"policy_refresh_continuous_aggregate"}
    assert {r.revision: r.status for r in ledger(settings)}["timescaledb_003"] == "applied"


DROP_AGGREGATE = f'''
    """Drop metrics_daily (its policy goes with it); the downgrade recreates it WITH DATA."""
    from alembic import op

    from polyalembic.stores.timescaledb.ops import (
        AddContinuousAggregatePolicyOp,
        DropContinuousAggregateOp,
        RemoveContinuousAggregatePolicyOp,
    )

    revision = "timescaledb_004"
    down_revision = "timescaledb_003"
    store = "timescaledb"

    SELECT = """{DAILY_SELECT}"""
    POLICY = RemoveContinuousAggregatePolicyOp("metrics_daily", AddContinuousAggregatePolicyOp(
        "metrics_daily", start_offset="30 days", end_offset="1 hour", schedule_interval="1 hour"))
    DROP = DropContinuousAggregateOp("metrics_daily", SELECT, materialized_only=True)


    def upgrade() -> None:
        op.remove_continuous_aggregate_policy("metrics_daily")
        op.drop_continuous_aggregate("metrics_daily")
        op.drop_continuous_aggregate("metrics_daily")  # IF EXISTS: a rerun works


    def downgrade() -> None:
        op.invoke(DROP.reverse())
        op.invoke(POLICY.reverse())
'''


def test_drop_continuous_aggregate_with_the_op_proxy_and_its_reverse_recreates_it(ops_project: Project,
                                                                                  settings: Settings) -> None:
    hypertable_project(ops_project, ("003_daily.py", AGGREGATE), ("004_drop_daily.py", DROP_AGGREGATE))
    command.upgrade(ops_project.config(), "timescaledb_002")
    with tsdb(settings) as conn:
        insert_metrics(conn, hours=24)
    command.upgrade(ops_project.config(), "head")
    with tsdb(settings) as conn:
        assert introspect.continuous_aggregates(conn) == [] and jobs(conn) == {}
        insert_metrics(conn, start="2024-01-02 00:00+00", hours=24)
    command.downgrade(ops_project.config(), "-1")
    with tsdb(settings) as conn:
        assert introspect.continuous_aggregates(conn) == ["metrics_daily"]
        assert len(daily(conn)) == 6, "recreated WITH DATA: both days materialized"
        assert set(jobs(conn)) == {"policy_refresh_continuous_aggregate"}


# --- run_sql_file (plain .sql pairs and op.run_sql_file on the TimescaleDB store) ----------------


def test_sql_files_with_percent_signs_in_and_out_of_a_transaction_and_the_reverse(ops_project: Project,
                                                                                 settings: Settings) -> None:
    folder = ops_project.migrations_dir / "timescaledb"
    hypertable_project(ops_project, ("003_daily_sql.py", """
        \"\"\"A plain pair run outside a transaction (a continuous aggregate WITH DATA).\"\"\"
        from polyalembic.pairs import migration_files

        revision = "timescaledb_003"
        down_revision = "timescaledb_002"
        store = "timescaledb"

        upgrade, downgrade = migration_files(__file__)
    """), ("004_device_check.py", """
        \"\"\"op.run_sql_file with a down file: the reverse runs it.\"\"\"
        from pathlib import Path

        from alembic import op

        from polyalembic.stores.postgres.ops import RunSqlFileOp

        revision = "timescaledb_004"
        down_revision = "timescaledb_003"
        store = "timescaledb"

        HERE = Path(__file__).parent
        RUN = RunSqlFileOp(str(HERE / "files" / "device_check_up.sql"),
                           str(HERE / "files" / "device_check_down.sql"))


        def upgrade() -> None:
            op.run_sql_file(str(HERE / "files" / "device_check_up.sql"),
                            str(HERE / "files" / "device_check_down.sql"))


        def downgrade() -> None:
            op.invoke(RUN.reverse())
    """))
    (folder / "003_daily_sql.up.sql").write_text(
        "-- polyalembic: no-transaction\n"
        "CREATE MATERIALIZED VIEW IF NOT EXISTS devices_daily WITH (timescaledb.continuous) AS\n"
        "SELECT time_bucket(INTERVAL '1 day', time) AS bucket, count(*) AS samples\n"
        "FROM metrics WHERE device LIKE 'd%' GROUP BY bucket\nWITH DATA;\n")
    (folder / "003_daily_sql.down.sql").write_text("DROP MATERIALIZED VIEW IF EXISTS devices_daily;\n")
    (folder / "files").mkdir()  # helper files live beside the revisions, in a folder of their own
    (folder / "files" / "device_check_up.sql").write_text(
        "ALTER TABLE metrics ADD CONSTRAINT ck_metrics_device CHECK (device LIKE 'd%' AND value::numeric % 1 = 0);\n")
    (folder / "files" / "device_check_down.sql").write_text("ALTER TABLE metrics DROP CONSTRAINT ck_metrics_device;\n")
    command.upgrade(ops_project.config(), "timescaledb_002")
    with tsdb(settings) as conn:
        insert_metrics(conn, hours=48)
    command.upgrade(ops_project.config(), "head")
    with tsdb(settings) as conn:
        assert rows(conn, "SELECT samples FROM devices_daily ORDER BY bucket") == [(72,), (72,)]
        with pytest.raises(sa.exc.IntegrityError, match="ck_metrics_device"):
            conn.execute(sa.text("INSERT INTO metrics (time, device, value) VALUES (now(), 'x1', 1)"))
        conn.rollback()
    command.downgrade(ops_project.config(), "timescaledb_002")
    with tsdb(settings) as conn:
        assert introspect.continuous_aggregates(conn) == []
        conn.execute(sa.text("INSERT INTO metrics (time, device, value) VALUES (now(), 'x1', 1.5)"))


# --- --sql ------------------------------------------------------------------------------------


def test_sql_mode_renders_the_sql_of_each_op_and_touches_nothing(ops_project: Project,
                                                                  settings: Settings) -> None:
    hypertable_project(ops_project, ("003_compression.py", COMPRESSION), ("004_policies.py", POLICIES),
                       ("005_daily.py", relinked(AGGREGATE, "timescaledb_005", "timescaledb_004")),
                       ("006_refresh.py", relinked(REFRESH, "timescaledb_006", "timescaledb_005")))
    config = ops_project.config()
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)
    out = config.output_buffer.getvalue()
    assert ("SELECT create_hypertable('metrics', by_range('time', INTERVAL '1 day'), if_not_exists => TRUE, "
            "migrate_data => TRUE);") in out
    assert ("ALTER TABLE metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'device', "
            "timescaledb.compress_orderby = 'time DESC');") in out
    assert "SELECT add_compression_policy('metrics', INTERVAL '30 days', if_not_exists => TRUE);" in out
    assert "SELECT add_retention_policy('metrics', INTERVAL '365 days', if_not_exists => TRUE);" in out
    create = out.index("CREATE MATERIALIZED VIEW IF NOT EXISTS metrics_daily WITH (timescaledb.continuous, "
                       "timescaledb.materialized_only = true) AS")
    assert "WHERE device LIKE 'd%'" in out[create:]
    # WITH DATA can't run in a transaction: the script commits before it and begins again after
    assert out.rindex("COMMIT;", 0, create) > out.rindex("BEGIN;", 0, create)
    assert out.index("WITH DATA;", create) < out.index("BEGIN;", create)
    assert ("SELECT add_continuous_aggregate_policy('metrics_daily', start_offset => INTERVAL '30 days', "
            "end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour', if_not_exists => TRUE);") in out
    assert "CALL refresh_continuous_aggregate('metrics_daily', '2024-01-01', '2024-02-01');" in out
    assert out.count("-- [timescaledb] the statements of ") == 6

    config.output_buffer = io.StringIO()
    command.downgrade(config, "timescaledb_006:timescaledb_001", sql=True)
    out = config.output_buffer.getvalue()
    assert out.index("SELECT remove_continuous_aggregate_policy('metrics_daily', if_exists => TRUE);") < out.index(
        "DROP MATERIALIZED VIEW IF EXISTS metrics_daily;")
    assert "SELECT remove_retention_policy('metrics', if_exists => TRUE);" in out
    assert "SELECT decompress_chunk(c, if_compressed => TRUE) FROM show_chunks('metrics') c;" in out
    assert "ALTER TABLE metrics SET (timescaledb.compress = false);" in out
    assert "INSERT INTO metrics__plain SELECT * FROM metrics" in out
    with tsdb(settings) as conn:
        assert introspect.hypertables(conn) == {}
        assert scalar(conn, "SELECT to_regclass('metrics')") is None
