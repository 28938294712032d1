"""TimescaleDB ops: hypertables, compression, retention and continuous aggregates.

Each op renders plain SQL (so ``--sql`` works) and has a ``reverse()``. Ops whose SQL can't run
inside a transaction (a continuous aggregate created WITH DATA, a refresh) set ``autocommit`` and
run in Alembic's ``autocommit_block()``; they use IF NOT EXISTS so a rerun after a failure works.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from alembic.operations import MigrateOperation, Operations

from polyalembic.stores.sql.literals import quoted as literal


def ident(name: str) -> str:
    """A (possibly schema-qualified) identifier, quoted where needed."""
    parts = name.split(".")
    return ".".join(p if p.isidentifier() and p.islower() else '"' + p.replace('"', '""') + '"'
                    for p in parts)


def interval(value: str | None) -> str:
    return "NULL" if value is None else f"INTERVAL {literal(value)}"


@dataclass(frozen=True)
class ChunkWalk:
    """Statement ``position`` of an op works on every chunk of ``table`` at once; a live run runs
    ``statement(chunk)`` for each chunk instead (same transaction, same result), so it can tell
    its progress in chunks. ``--sql`` prints the one statement."""

    position: int
    task: str
    table: str
    statement: Callable[[str], str]


class TimescaleOp(MigrateOperation):
    """Base of the TimescaleDB ops: ``statements()`` is what runs (or prints under --sql)."""

    autocommit = False

    def statements(self) -> list[str]:
        """The SQL this op runs; every concrete op overrides it."""
        raise TypeError(f"{type(self).__name__} defines no statements()")

    def chunk_walk(self) -> ChunkWalk | None:
        """The statement that a live run goes through chunk by chunk (a data copy), if any."""
        return None

    def step_name(self) -> str:
        """How a failure names this op (the ledger's ``failed_step``)."""
        return type(self).__name__.removesuffix("Op")


@Operations.register_operation("create_hypertable")
class CreateHypertableOp(TimescaleOp):
    """``create_hypertable(table, by_range(time_column, chunk_interval))``."""

    def __init__(self, table: str, time_column: str, chunk_interval: str = "7 days",
                 migrate_data: bool = False) -> None:
        self.table, self.time_column = table, time_column
        self.chunk_interval, self.migrate_data = chunk_interval, migrate_data

    @classmethod
    def create_hypertable(cls, operations: Operations, table: str, time_column: str,
                          chunk_interval: str = "7 days", migrate_data: bool = False) -> None:
        """Turn ``table`` into a hypertable partitioned on ``time_column``."""
        return operations.invoke(cls(table, time_column, chunk_interval, migrate_data))

    def statements(self) -> list[str]:
        return [f"SELECT create_hypertable({literal(self.table)}, "
                f"by_range({literal(self.time_column)}, {interval(self.chunk_interval)}), "
                f"if_not_exists => TRUE, migrate_data => {str(self.migrate_data).upper()})"]

    def reverse(self) -> RevertHypertableOp:
        return RevertHypertableOp(self.table, self.time_column, self.chunk_interval)


@Operations.register_operation("revert_hypertable")
class RevertHypertableOp(TimescaleOp):
    """Turn a hypertable back into a plain table with the same rows (copy, drop, rename).

    The copy keeps defaults, NOT NULL and CHECK constraints; the primary key, unique, exclusion
    and foreign key constraints and the indexes are read before the drop and recreated, under
    their own names, on the plain table.
    """

    def __init__(self, table: str, time_column: str = "time", chunk_interval: str = "7 days") -> None:
        self.table, self.time_column, self.chunk_interval = table, time_column, chunk_interval

    @classmethod
    def revert_hypertable(cls, operations: Operations, table: str, time_column: str = "time",
                          chunk_interval: str = "7 days") -> None:
        """Replace hypertable ``table`` by a plain table holding the same rows (``time_column`` and
        ``chunk_interval`` are what the reverse, ``create_hypertable``, uses)."""
        return operations.invoke(cls(table, time_column, chunk_interval))

    def statements(self) -> list[str]:
        t, tmp = ident(self.table), ident(self.table + "__plain")
        return [f"CREATE TABLE {tmp} (LIKE {t} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)",
                f"INSERT INTO {tmp} SELECT * FROM {t}",
                f"""DO $revert_hypertable$
DECLARE
    ddl text[];
    stmt text;
BEGIN
    SELECT coalesce(array_agg(def ORDER BY kind, name), '{{}}') INTO ddl FROM (
        SELECT 1 AS kind, conname AS name,
               {literal(f"ALTER TABLE {t} ADD CONSTRAINT ")} || quote_ident(conname) || ' '
               || pg_get_constraintdef(oid) AS def
        FROM pg_constraint
        WHERE conrelid = {literal(t)}::regclass AND contype IN ('p', 'u', 'x', 'f')
        UNION ALL
        SELECT 2, c.relname, pg_get_indexdef(i.indexrelid)
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = {literal(t)}::regclass
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                          AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))
    ) d;
    DROP TABLE {t};
    ALTER TABLE {tmp} RENAME TO {ident(self.table.split('.')[-1])};
    FOREACH stmt IN ARRAY ddl LOOP
        EXECUTE stmt;
    END LOOP;
END
$revert_hypertable$"""]

    def chunk_walk(self) -> ChunkWalk:
        # a compressed chunk reads back decompressed; the hypertable itself holds no rows
        tmp = ident(self.table + "__plain")
        return ChunkWalk(1, f"copy {self.table}", self.table, lambda chunk: f"INSERT INTO {tmp} SELECT * FROM {chunk}")

    def reverse(self) -> CreateHypertableOp:
        return CreateHypertableOp(self.table, self.time_column, self.chunk_interval, migrate_data=True)


@Operations.register_operation("enable_compression")
class EnableCompressionOp(TimescaleOp):
    """``ALTER TABLE ... SET (timescaledb.compress, segmentby, orderby)``."""

    def __init__(self, table: str, segmentby: str | None = None, orderby: str | None = None) -> None:
        self.table, self.segmentby, self.orderby = table, segmentby, orderby

    @classmethod
    def enable_compression(cls, operations: Operations, table: str, segmentby: str | None = None,
                           orderby: str | None = None) -> None:
        """Enable native compression on hypertable ``table``."""
        return operations.invoke(cls(table, segmentby, orderby))

    def statements(self) -> list[str]:
        options = ["timescaledb.compress"]
        if self.segmentby:
            options.append(f"timescaledb.compress_segmentby = {literal(self.segmentby)}")
        if self.orderby:
            options.append(f"timescaledb.compress_orderby = {literal(self.orderby)}")
        return [f"ALTER TABLE {ident(self.table)} SET ({', '.join(options)})"]

    def reverse(self) -> DisableCompressionOp:
        return DisableCompressionOp(self.table, self.segmentby, self.orderby)


#: an argument whose value nobody said: an op holding it can't be reversed exactly
UNKNOWN = "<unknown>"


@Operations.register_operation("disable_compression")
class DisableCompressionOp(TimescaleOp):
    """Remove the compression policy, decompress every chunk, then turn compression off.

    Its reverse re-enables compression with the ``segmentby``/``orderby`` given here (those of the
    compression it turns off); without them it refuses to reverse rather than guess.
    """

    def __init__(self, table: str, segmentby: str | None = UNKNOWN, orderby: str | None = UNKNOWN) -> None:
        self.table, self.segmentby, self.orderby = table, segmentby, orderby

    @classmethod
    def disable_compression(cls, operations: Operations, table: str, segmentby: str | None = UNKNOWN,
                            orderby: str | None = UNKNOWN) -> None:
        """Decompress all chunks of ``table`` and disable compression (say the ``segmentby`` and
        ``orderby`` it had, None for none, so the op can be reversed)."""
        return operations.invoke(cls(table, segmentby, orderby))

    def statements(self) -> list[str]:
        t = literal(self.table)
        return [f"SELECT remove_compression_policy({t}, if_exists => TRUE)",
                f"SELECT decompress_chunk(c, if_compressed => TRUE) FROM show_chunks({t}) c",
                f"ALTER TABLE {ident(self.table)} SET (timescaledb.compress = false)"]

    def chunk_walk(self) -> ChunkWalk:
        return ChunkWalk(1, f"decompress {self.table}", self.table,
                         lambda chunk: f"SELECT decompress_chunk({literal(chunk)}, if_compressed => TRUE)")

    def reverse(self) -> EnableCompressionOp:
        if UNKNOWN in (self.segmentby, self.orderby):
            raise ValueError(f"reversing disable_compression of {self.table} needs the segmentby and orderby "
                             "it had (pass them, None for none)")
        return EnableCompressionOp(self.table, self.segmentby, self.orderby)


class _PolicyOp(TimescaleOp):
    """A policy on a hypertable: add_<kind>_policy / remove_<kind>_policy."""

    def __init__(self, table: str, after: str | None = None) -> None:
        self.table, self.after = table, after


@Operations.register_operation("add_compression_policy")
class AddCompressionPolicyOp(_PolicyOp):
    """``add_compression_policy(table, compress_after)``."""

    @classmethod
    def add_compression_policy(cls, operations: Operations, table: str, compress_after: str) -> None:
        """Compress chunks of ``table`` older than ``compress_after`` (e.g. '7 days')."""
        return operations.invoke(cls(table, compress_after))

    def statements(self) -> list[str]:
        return [f"SELECT add_compression_policy({literal(self.table)}, {interval(self.after)}, "
                "if_not_exists => TRUE)"]

    def reverse(self) -> RemoveCompressionPolicyOp:
        return RemoveCompressionPolicyOp(self.table, self.after)


@Operations.register_operation("remove_compression_policy")
class RemoveCompressionPolicyOp(_PolicyOp):
    """``remove_compression_policy(table, if_exists => true)``."""

    @classmethod
    def remove_compression_policy(cls, operations: Operations, table: str) -> None:
        """Remove the compression policy of ``table`` (if any)."""
        return operations.invoke(cls(table))

    def statements(self) -> list[str]:
        return [f"SELECT remove_compression_policy({literal(self.table)}, if_exists => TRUE)"]

    def reverse(self) -> AddCompressionPolicyOp:
        if self.after is None:
            raise ValueError("reversing remove_compression_policy needs the compress_after interval")
        return AddCompressionPolicyOp(self.table, self.after)


@Operations.register_operation("add_retention_policy")
class AddRetentionPolicyOp(_PolicyOp):
    """``add_retention_policy(table, drop_after)``."""

    @classmethod
    def add_retention_policy(cls, operations: Operations, table: str, drop_after: str) -> None:
        """Drop chunks of ``table`` older than ``drop_after`` (e.g. '365 days')."""
        return operations.invoke(cls(table, drop_after))

    def statements(self) -> list[str]:
        return [f"SELECT add_retention_policy({literal(self.table)}, {interval(self.after)}, "
                "if_not_exists => TRUE)"]

    def reverse(self) -> RemoveRetentionPolicyOp:
        return RemoveRetentionPolicyOp(self.table, self.after)


@Operations.register_operation("remove_retention_policy")
class RemoveRetentionPolicyOp(_PolicyOp):
    """``remove_retention_policy(table, if_exists => true)``."""

    @classmethod
    def remove_retention_policy(cls, operations: Operations, table: str) -> None:
        """Remove the retention policy of ``table`` (if any)."""
        return operations.invoke(cls(table))

    def statements(self) -> list[str]:
        return [f"SELECT remove_retention_policy({literal(self.table)}, if_exists => TRUE)"]

    def reverse(self) -> AddRetentionPolicyOp:
        if self.after is None:
            raise ValueError("reversing remove_retention_policy needs the drop_after interval")
        return AddRetentionPolicyOp(self.table, self.after)


@Operations.register_operation("create_continuous_aggregate")
class CreateContinuousAggregateOp(TimescaleOp):
    """``CREATE MATERIALIZED VIEW ... WITH (timescaledb.continuous)``; WITH DATA runs in autocommit."""

    def __init__(self, name: str, select: str, with_data: bool = True,
                 materialized_only: bool | None = None) -> None:
        self.name, self.select, self.with_data = name, select.strip().rstrip(";"), with_data
        self.materialized_only = materialized_only
        self.autocommit = with_data

    @classmethod
    def create_continuous_aggregate(cls, operations: Operations, name: str, select: str,
                                    with_data: bool = True, materialized_only: bool | None = None) -> None:
        """Create continuous aggregate ``name`` over ``select`` (a time_bucket query)."""
        return operations.invoke(cls(name, select, with_data, materialized_only))

    def statements(self) -> list[str]:
        options = "timescaledb.continuous"
        if self.materialized_only is not None:
            options += f", timescaledb.materialized_only = {str(self.materialized_only).lower()}"
        data = "WITH DATA" if self.with_data else "WITH NO DATA"
        return [f"CREATE MATERIALIZED VIEW IF NOT EXISTS {ident(self.name)} WITH ({options}) AS\n"
                f"{self.select}\n{data}"]

    def reverse(self) -> DropContinuousAggregateOp:
        return DropContinuousAggregateOp(self.name, self.select, self.with_data, self.materialized_only)


@Operations.register_operation("drop_continuous_aggregate")
class DropContinuousAggregateOp(TimescaleOp):
    """``DROP MATERIALIZED VIEW IF EXISTS`` (its refresh policy goes with it)."""

    def __init__(self, name: str, select: str | None = None, with_data: bool = True,
                 materialized_only: bool | None = None) -> None:
        self.name, self.select, self.with_data = name, select, with_data
        self.materialized_only = materialized_only

    @classmethod
    def drop_continuous_aggregate(cls, operations: Operations, name: str) -> None:
        """Drop continuous aggregate ``name`` (if it exists)."""
        return operations.invoke(cls(name))

    def statements(self) -> list[str]:
        return [f"DROP MATERIALIZED VIEW IF EXISTS {ident(self.name)}"]

    def reverse(self) -> CreateContinuousAggregateOp:
        if not self.select:
            raise ValueError("reversing drop_continuous_aggregate needs the aggregate's SELECT")
        return CreateContinuousAggregateOp(self.name, self.select, self.with_data, self.materialized_only)


@Operations.register_operation("add_continuous_aggregate_policy")
class AddContinuousAggregatePolicyOp(TimescaleOp):
    """``add_continuous_aggregate_policy(view, start_offset, end_offset, schedule_interval)``."""

    def __init__(self, view: str, start_offset: str | None, end_offset: str | None,
                 schedule_interval: str) -> None:
        self.view, self.start_offset, self.end_offset = view, start_offset, end_offset
        self.schedule_interval = schedule_interval

    @classmethod
    def add_continuous_aggregate_policy(cls, operations: Operations, view: str, start_offset: str | None,
                                        end_offset: str | None, schedule_interval: str) -> None:
        """Refresh ``view`` every ``schedule_interval`` over [now-start_offset, now-end_offset]."""
        return operations.invoke(cls(view, start_offset, end_offset, schedule_interval))

    def statements(self) -> list[str]:
        return [f"SELECT add_continuous_aggregate_policy({literal(self.view)}, "
                f"start_offset => {interval(self.start_offset)}, end_offset => {interval(self.end_offset)}, "
                f"schedule_interval => {interval(self.schedule_interval)}, if_not_exists => TRUE)"]

    def reverse(self) -> RemoveContinuousAggregatePolicyOp:
        return RemoveContinuousAggregatePolicyOp(self.view, self)


@Operations.register_operation("remove_continuous_aggregate_policy")
class RemoveContinuousAggregatePolicyOp(TimescaleOp):
    """``remove_continuous_aggregate_policy(view, if_exists => true)``."""

    def __init__(self, view: str, original: AddContinuousAggregatePolicyOp | None = None) -> None:
        self.view, self.original = view, original

    @classmethod
    def remove_continuous_aggregate_policy(cls, operations: Operations, view: str) -> None:
        """Remove the refresh policy of ``view`` (if any)."""
        return operations.invoke(cls(view))

    def statements(self) -> list[str]:
        return [f"SELECT remove_continuous_aggregate_policy({literal(self.view)}, if_exists => TRUE)"]

    def reverse(self) -> AddContinuousAggregatePolicyOp:
        if self.original is None:
            raise ValueError("reversing remove_continuous_aggregate_policy needs the original policy")
        return self.original


@Operations.register_operation("refresh_continuous_aggregate")
class RefreshContinuousAggregateOp(TimescaleOp):
    """``CALL refresh_continuous_aggregate(view, start, end)``, outside a transaction."""

    autocommit = True

    def __init__(self, view: str, window_start: str | None = None, window_end: str | None = None) -> None:
        self.view, self.window_start, self.window_end = view, window_start, window_end

    @classmethod
    def refresh_continuous_aggregate(cls, operations: Operations, view: str, window_start: str | None = None,
                                     window_end: str | None = None) -> None:
        """Materialize ``view`` for the window (timestamps as text; None = open-ended)."""
        return operations.invoke(cls(view, window_start, window_end))

    def statements(self) -> list[str]:
        def bound(v: str | None) -> str:
            return "NULL" if v is None else literal(v)

        return [f"CALL refresh_continuous_aggregate({literal(self.view)}, "
                f"{bound(self.window_start)}, {bound(self.window_end)})"]

    def reverse(self) -> RefreshContinuousAggregateOp:
        """A refresh changes no schema; its reverse is the same idempotent refresh."""
        return self
