"""Reads the live state of the TimescaleDB store: SQL objects plus hypertables, jobs, aggregates,
of its current schema (a tenant's hypertables are its own)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from polyalembic.stores.postgres import introspect as sql_introspect


def hypertables(connection: sa.Connection) -> dict[str, dict[str, Any]]:
    """hypertable name -> {compression_enabled, num_chunks}."""
    rows = connection.execute(sa.text(
        "SELECT hypertable_name, compression_enabled, num_chunks "
        "FROM timescaledb_information.hypertables WHERE hypertable_schema = current_schema()")).all()
    return {r[0]: {"compression_enabled": r[1], "num_chunks": r[2]} for r in rows}


def declared_hypertables(connection: sa.Connection) -> dict[str, dict[str, Any]]:
    """hypertable name -> its declared shape: partitioning dimensions and compression settings
    (no chunk counts: those change with the data)."""
    dims = connection.execute(sa.text(
        "SELECT hypertable_name, column_name, dimension_type, time_interval::text, integer_interval "
        "FROM timescaledb_information.dimensions WHERE hypertable_schema = current_schema() "
        "ORDER BY hypertable_name, dimension_number")).all()
    settings = connection.execute(sa.text(
        "SELECT hypertable_name, attname, segmentby_column_index, orderby_column_index, orderby_asc "
        "FROM timescaledb_information.compression_settings WHERE hypertable_schema = current_schema() "
        "ORDER BY hypertable_name, attname")).all()
    found = {name: {"compression_enabled": info["compression_enabled"], "dimensions": [], "compression": []}
             for name, info in hypertables(connection).items()}
    for table, column, kind, interval, integer_interval in dims:
        if table in found:  # not a continuous aggregate's materialization table
            found[table]["dimensions"].append([column, kind, interval or integer_interval])
    for table, column, segment_index, order_index, ascending in settings:
        if table in found:
            found[table]["compression"].append([column, segment_index, order_index, ascending])
    return found


def jobs(connection: sa.Connection) -> list[tuple[str, str]]:
    """User jobs (policies) as (proc_name, target name) pairs, sorted."""
    rows = connection.execute(sa.text(
        "SELECT j.proc_name, COALESCE(ca.view_name, j.hypertable_name) "
        "FROM timescaledb_information.jobs j "
        "LEFT JOIN timescaledb_information.continuous_aggregates ca "
        "  ON ca.materialization_hypertable_name = j.hypertable_name "
        "WHERE j.job_id >= 1000 AND COALESCE(ca.view_schema, j.hypertable_schema) = current_schema()")).all()
    return sorted((r[0], r[1]) for r in rows)


def continuous_aggregates(connection: sa.Connection) -> list[str]:
    rows = connection.execute(sa.text(
        "SELECT view_name FROM timescaledb_information.continuous_aggregates "
        "WHERE view_schema = current_schema()")).all()
    return sorted(r[0] for r in rows)


def extension_version(connection: sa.Connection) -> str | None:
    return connection.execute(sa.text(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")).scalar()


def snapshot(connection: sa.Connection) -> dict[str, Any]:
    """SQL objects plus TimescaleDB's own catalog (declared shape only), for comparisons."""
    return {**sql_introspect.snapshot(connection), "hypertables": declared_hypertables(connection),
            "jobs": jobs(connection), "continuous_aggregates": continuous_aggregates(connection)}
