"""Drift in a SQL store's words: tables with their columns and constraints, other objects by kind.

A table (or view) is one object holding its columns and constraints, so a column added by hand
to a managed table is drift of that table, and a table created by hand is one unmanaged object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: kinds whose columns and constraints belong to them
_WITH_COLUMNS = ("table", "view", "materialized view")
ADDED = "added (not in any migration)"


def objects(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """``"<kind> <name>"`` -> definition; a table's definition is its columns and constraints."""
    columns = snapshot.get("columns", {})
    constraints: dict[str, dict[str, str]] = {}
    for name, (table, definition) in snapshot.get("constraints", {}).items():
        constraints.setdefault(table, {})[name] = definition
    found: dict[str, Any] = {}
    owned = set(snapshot.get("constraints", {}))  # a key's own index is the key's (one difference, not two)
    for name, kind in snapshot.get("objects", {}).items():
        if kind == "index" and name in owned:
            continue
        if kind in _WITH_COLUMNS:
            found[f"{kind} {name}"] = {"columns": columns.get(name, []), "constraints": constraints.get(name, {})}
        else:
            found[f"{kind} {name}"] = kind
    return found


def describe(key: str, old: Any, new: Any) -> list[str]:
    """One object's difference: a table's column by column and constraint by constraint."""
    if old is None:
        return [f"{key} {ADDED}"]
    if new is None:
        return [f"{key} dropped"]
    if not (isinstance(old, Mapping) and isinstance(new, Mapping)):
        return [f"{key} changed"]
    table = key.split(" ")[-1]
    lines = _columns(table, old.get("columns", []), new.get("columns", []))
    lines += _constraints(table, old.get("constraints", {}), new.get("constraints", {}))
    return lines or [f"{key} changed (column order)"]


def _columns(table: str, old: list[list[Any]], new: list[list[Any]]) -> list[str]:
    before, after = {c[0]: c for c in old}, {c[0]: c for c in new}
    lines = []
    for name in sorted(before.keys() | after.keys()):
        a, b = before.get(name), after.get(name)
        if a == b:
            continue
        if a is None:
            lines.append(f"column {table}.{name} {ADDED}")
        elif b is None:
            lines.append(f"column {table}.{name} dropped")
        else:
            for label, x, y in zip(("type", "not null", "default"), a[1:], b[1:], strict=True):
                if x != y:
                    lines.append(f"column {table}.{name} {label} changed {x} -> {y}")
    return lines


def _constraints(table: str, old: dict[str, str], new: dict[str, str]) -> list[str]:
    lines = []
    for name in sorted(old.keys() | new.keys()):
        a, b = old.get(name), new.get(name)
        if a == b:
            continue
        if a is None:
            lines.append(f"constraint {name} on {table} {ADDED}: {b}")
        elif b is None:
            lines.append(f"constraint {name} on {table} dropped")
        else:
            lines.append(f"constraint {name} on {table} changed {a} -> {b}")
    return lines
