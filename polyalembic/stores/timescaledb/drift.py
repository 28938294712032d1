"""Drift in TimescaleDB's words: the SQL objects, plus hypertables (partitioning, compression),
policies and continuous aggregates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polyalembic.stores.postgres import drift as sql_drift

#: a job's procedure -> how drift names the policy
POLICIES = {"policy_retention": "retention policy", "policy_compression": "compression policy",
            "policy_refresh_continuous_aggregate": "refresh policy", "policy_reorder": "reorder policy"}


def objects(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    found = sql_drift.objects(snapshot)
    for name, shape in snapshot.get("hypertables", {}).items():
        found[f"hypertable {name}"] = shape
    for proc, target in snapshot.get("jobs", []):
        found[f"{POLICIES.get(proc, f'job {proc}')} on {target}"] = [proc, target]
    for name in snapshot.get("continuous_aggregates", []):
        found[f"continuous aggregate {name}"] = name
    return found


def describe(key: str, old: Any, new: Any) -> list[str]:
    if key.startswith("hypertable "):
        return _hypertable(key.split(" ", 1)[1], old, new)
    if " policy on " in key or key.startswith("job "):
        if old is None:
            return [f"{key} {sql_drift.ADDED}"]
        return [f"{key} removed"]
    return sql_drift.describe(key, old, new)


def _hypertable(name: str, old: Any, new: Any) -> list[str]:
    if old is None:
        return [f"hypertable {name} {sql_drift.ADDED}"]
    if new is None:
        return [f"{name} is no longer a hypertable"]
    lines = []
    if old.get("compression_enabled") and not new.get("compression_enabled"):
        lines.append(f"compression on {name} removed")
    elif new.get("compression_enabled") and not old.get("compression_enabled"):
        lines.append(f"compression on {name} enabled (not in any migration)")
    elif old.get("compression") != new.get("compression"):
        lines.append(f"compression settings of {name} changed (segmentby/orderby)")
    if old.get("dimensions") != new.get("dimensions"):
        lines.append(f"partitioning of hypertable {name} changed {old.get('dimensions')} -> {new.get('dimensions')}")
    return lines or [f"hypertable {name} changed"]
