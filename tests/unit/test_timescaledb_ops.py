"""TimescaleDB ops: rendering and reverse() rules, no server."""

from __future__ import annotations

import pytest

from polyalembic.stores.timescaledb.ops import (
    AddCompressionPolicyOp,
    AddContinuousAggregatePolicyOp,
    AddRetentionPolicyOp,
    CreateContinuousAggregateOp,
    CreateHypertableOp,
    DisableCompressionOp,
    DropContinuousAggregateOp,
    EnableCompressionOp,
    RefreshContinuousAggregateOp,
    RemoveCompressionPolicyOp,
    RemoveContinuousAggregatePolicyOp,
    RemoveRetentionPolicyOp,
    RevertHypertableOp,
)


def test_create_hypertable_renders_by_range_and_reverse_pairs() -> None:
    create = CreateHypertableOp("metrics", "ts", chunk_interval="1 day")
    assert create.statements() == [
        "SELECT create_hypertable('metrics', by_range('ts', INTERVAL '1 day'), if_not_exists => TRUE, "
        "migrate_data => FALSE)"]
    revert = create.reverse()
    assert isinstance(revert, RevertHypertableOp)
    again = revert.reverse()
    assert (again.table, again.time_column, again.chunk_interval, again.migrate_data) == (
        "metrics", "ts", "1 day", True)


def test_compression_ops_reverse_each_other() -> None:
    enable = EnableCompressionOp("metrics", segmentby="device", orderby="time DESC")
    assert enable.statements() == ["ALTER TABLE metrics SET (timescaledb.compress, "
                                   "timescaledb.compress_segmentby = 'device', "
                                   "timescaledb.compress_orderby = 'time DESC')"]
    disable = enable.reverse()
    assert isinstance(disable, DisableCompressionOp)
    assert disable.statements() == [
        "SELECT remove_compression_policy('metrics', if_exists => TRUE)",
        "SELECT decompress_chunk(c, if_compressed => TRUE) FROM show_chunks('metrics') c",
        "ALTER TABLE metrics SET (timescaledb.compress = false)"]
    assert disable.reverse().statements() == enable.statements()


def test_disable_compression_without_its_settings_refuses_to_reverse_rather_than_guess() -> None:
    with pytest.raises(ValueError, match="needs the segmentby and orderby it had"):
        DisableCompressionOp("metrics").reverse()
    with pytest.raises(ValueError, match="needs the segmentby and orderby"):
        DisableCompressionOp("metrics", segmentby="device").reverse()
    plain = DisableCompressionOp("metrics", segmentby=None, orderby=None).reverse()
    assert plain.statements() == ["ALTER TABLE metrics SET (timescaledb.compress)"]


def test_policy_ops_reverse_rules() -> None:
    assert isinstance(AddCompressionPolicyOp("t", "7 days").reverse(), RemoveCompressionPolicyOp)
    assert AddRetentionPolicyOp("t", "1 year").reverse().reverse().statements() == [
        "SELECT add_retention_policy('t', INTERVAL '1 year', if_not_exists => TRUE)"]
    with pytest.raises(ValueError, match="needs the compress_after interval"):
        RemoveCompressionPolicyOp("t").reverse()
    with pytest.raises(ValueError, match="needs the drop_after interval"):
        RemoveRetentionPolicyOp("t").reverse()


def test_continuous_aggregate_ops_render_and_reverse_rules() -> None:
    create = CreateContinuousAggregateOp("v", "SELECT 1;\n", with_data=False, materialized_only=False)
    assert create.autocommit is False  # WITH NO DATA runs inside the migration's transaction
    assert create.statements() == [
        "CREATE MATERIALIZED VIEW IF NOT EXISTS v WITH (timescaledb.continuous, "
        "timescaledb.materialized_only = false) AS\nSELECT 1\nWITH NO DATA"]
    assert CreateContinuousAggregateOp("v", "SELECT 1").autocommit is True
    assert create.reverse().reverse().statements() == create.statements()
    with pytest.raises(ValueError, match="needs the aggregate's SELECT"):
        DropContinuousAggregateOp("v").reverse()
    with pytest.raises(ValueError, match="needs the original policy"):
        RemoveContinuousAggregatePolicyOp("v").reverse()
    policy = AddContinuousAggregatePolicyOp("v", "7 days", None, "1 hour")
    assert policy.statements() == [
        "SELECT add_continuous_aggregate_policy('v', start_offset => INTERVAL '7 days', end_offset => NULL, "
        "schedule_interval => INTERVAL '1 hour', if_not_exists => TRUE)"]
    assert policy.reverse().statements() == [
        "SELECT remove_continuous_aggregate_policy('v', if_exists => TRUE)"]
    assert policy.reverse().reverse() is policy
    refresh = RefreshContinuousAggregateOp("v")
    assert refresh.reverse() is refresh and refresh.autocommit is True
    assert refresh.statements() == ["CALL refresh_continuous_aggregate('v', NULL, NULL)"]
