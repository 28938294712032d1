"""Reads the live state of the TimescaleDB store: SQL objects plus hypertables, jobs, aggregates."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from polyalembic.stores.postgres import introspect as sql_introspect


def hypertables(connection: sa.Connection) -> dict[str, dict[str, Any]]:
    """hypertable name -> {compression_enabled, num_chunks}."""
    rows = connection.execute(sa.text(
        "SELECT hypertable_name, compression_enabled, num_chunks "
        "FROM timescaledb_information.hypertables")).all()
    return {r[0]: {"compression_enabled": r[1], "num_chunks": r[2]} for r in rows}


def jobs(connection: sa.Connection) -> list[tuple[str, str]]:
    """User jobs (policies) as (proc_name, target name) pairs, sorted."""
    rows = connection.execute(sa.text(
        "SELECT j.proc_name, COALESCE(ca.view_name, j.hypertable_name) "
        "FROM timescaledb_information.jobs j "
        "LEFT JOIN timescaledb_information.continuous_aggregates ca "
        "  ON ca.materialization_hypertable_name = j.hypertable_name "
        "WHERE j.job_id >= 1000")).all()
    return sorted((r[0], r[1]) for r in rows)


def continuous_aggregates(connection: sa.Connection) -> list[str]:
    rows = connection.execute(sa.text(
        "SELECT view_name FROM timescaledb_information.continuous_aggregates")).all()
    return sorted(r[0] for r in rows)


def extension_version(connection: sa.Connection) -> str | None:
    return connection.execute(sa.text(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")).scalar()


def snapshot(connection: sa.Connection) -> dict[str, Any]:
    """SQL objects plus TimescaleDB's own catalog, for comparisons (dry runs, tests)."""
    return {**sql_introspect.snapshot(connection), "hypertables": hypertables(connection),
            "jobs": jobs(connection), "continuous_aggregates": continuous_aggregates(connection)}
