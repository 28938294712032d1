"""Ready tests for a project's own migrations: import them into a test module to run them.

    from polyalembic.testing.tests import *  # noqa: F403 - or name the ones you want

Each takes the plugin's ``polyalembic_migrator`` fixture (fresh stores per test), so each starts at base.
"""

from __future__ import annotations

import re
from typing import Any

from polyalembic.commands.status import APPLIED, has_problems
from polyalembic.testing.migrator import Migrator

__all__ = [
    "test_downgrade_to_base_leaves_stores_empty",
    "test_ledger_agrees_after_upgrade",
    "test_single_head_revision",
    "test_sql_render_offline",
    "test_up_down_up_every_revision",
    "test_upgrade_base_to_head",
]


def test_single_head_revision(polyalembic_migrator: Migrator) -> None:
    """The chain has exactly one head (two heads: `upgrade head` can't choose)."""
    assert polyalembic_migrator.project.single_head() == polyalembic_migrator.revisions[-1]


def test_upgrade_base_to_head(polyalembic_migrator: Migrator) -> None:
    """Every migration applies, in one run, from empty stores."""
    applied = polyalembic_migrator.up("head")
    assert [m.revision for m in applied] == polyalembic_migrator.revisions
    assert polyalembic_migrator.current() == polyalembic_migrator.revisions[-1]


def test_up_down_up_every_revision(polyalembic_migrator: Migrator) -> None:
    """Each revision after the last irreversible one, one at a time: its downgrade gives back
    exactly its store's schema from before its upgrade, and it applies again after (a downgrade
    that leaves or drops too much fails here)."""
    migrator = polyalembic_migrator
    start = migrator.reversible_from
    previous = migrator.chain[start].revision if start >= 0 else "base"
    migrator.up_through(start)
    for migration in migrator.chain[start + 1:]:
        before = migrator.snapshot([migration.store])
        migrator.up(migration.revision)
        migrator.down(previous)
        after = migrator.snapshot([migration.store])
        assert after == before, f"{migration.store}: downgrading {migration.migration_file} ({migration.revision}) " \
                                f"does not restore the schema from before its upgrade: {difference(before, after)}"
        migrator.up(migration.revision)
        previous = migration.revision


def test_downgrade_to_base_leaves_stores_empty(polyalembic_migrator: Migrator) -> None:
    """base → head → base leaves every store's snapshot as it was before the first migration (with
    an irreversible revision: as it was right after the last one, down to which the test walks)."""
    migrator = polyalembic_migrator
    start = migrator.reversible_from
    floor = migrator.chain[start].revision if start >= 0 else "base"
    empty = migrator.empty_snapshot
    if start >= 0:
        migrator.up_through(start)
        empty = migrator.snapshot()
    migrator.up("head")
    migrator.down(floor)
    after = migrator.snapshot()
    left = [store for store in after if after[store] != empty[store]]
    assert not left, f"downgrading to {floor} leaves objects in {', '.join(left)}: {difference(empty, after)}"
    assert migrator.current() == (None if start < 0 else floor)


def test_ledger_agrees_after_upgrade(polyalembic_migrator: Migrator) -> None:
    """After upgrading, `status` is clean: every migration has its `applied` row, with its store and
    its file's checksum, nothing pending, failed or running; and every store that has migrations
    holds what they created."""
    migrator = polyalembic_migrator
    migrator.up("head")
    statuses = migrator.status()
    assert not has_problems(statuses), [(s.revision, s.state, s.error) for s in statuses if s.state != APPLIED]
    assert [(s.revision, s.store, s.state) for s in statuses] == [(m.revision, m.store, APPLIED)
                                                                  for m in migrator.chain]
    assert [s.checksum for s in statuses] == [m.checksum() for m in migrator.chain]
    assert migrator.current() == migrator.revisions[-1]
    live = migrator.snapshot()
    unchanged = [store for store in live if live[store] == migrator.empty_snapshot[store]]
    assert not unchanged, f"the ledger says applied, but nothing is in {', '.join(unchanged)}"


def test_sql_render_offline(polyalembic_migrator: Migrator) -> None:
    """`--sql` renders the whole chain, up and down, without connecting to any store (what a DBA
    reviews before a deploy), and every migration renders some work of its own each way: Alembic's
    header and the ledger's rows alone are a migration that renders nothing."""
    for direction in ("upgrade", "downgrade"):
        sections = rendered_work(polyalembic_migrator.render(direction), direction)
        start = polyalembic_migrator.reversible_from if direction == "downgrade" else -1
        for migration in polyalembic_migrator.chain[start + 1:]:
            if migration.is_merge:
                continue  # joins two branches: it has no work of its own
            assert migration.revision in sections, f"{migration.revision} is missing from the --sql {direction}"
            assert sections[migration.revision], f"{migration.migration_file} ({migration.revision}) renders " \
                                                 f"nothing of its own in the --sql {direction}"
        problems = [line for work in sections.values() for line in work if "PROBLEM" in line]
        assert not problems, problems


#: a line of a store's rendered work: ``-- [chromadb] delete collection 'x'``, or ``--   <cypher>``
_STORE_WORK = re.compile(r"^-- \[\w+\] (?!the statements of )\S|^--   \S")
_BOOKKEEPING = ("alembic_version", "schema_migrations", "WITH ledger_change", "BEGIN;", "COMMIT;")


def rendered_work(text: str, direction: str) -> dict[str, list[str]]:
    """Revision -> the lines of its own work in ``--sql`` output (statements, a store's rendered
    ops), without Alembic's header and version row, the ledger's rows or the file-name notes."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        header = re.match(rf"^-- Running {direction} (\S*(?:, \S*)*) -> (\S*(?:, \S*)*)$", line)
        if header:
            current = sections.setdefault(header.group(2 if direction == "upgrade" else 1), [])
        elif current is not None and line.strip() and not any(word in line for word in _BOOKKEEPING) \
                and (not line.startswith("--") or _STORE_WORK.match(line) or "PROBLEM" in line):
            current.append(line)
    return sections


def difference(before: dict[str, Any], after: dict[str, Any], path: str = "") -> str:
    """What changed between two snapshots, as short ``path: +added -removed`` parts (for failure messages)."""
    parts = []
    for key in sorted(set(before) | set(after), key=str):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        where = f"{path}{key}"
        if isinstance(old, dict) and isinstance(new, dict):
            parts.append(difference(old, new, where + "."))
        elif isinstance(old, list) and isinstance(new, list):  # a list of names (Neo4j's constraints, indexes)
            parts += [f"+{where}.{item}" for item in new if item not in old]
            parts += [f"-{where}.{item}" for item in old if item not in new]
        elif old is None or new is None:
            parts.append(f"{'+' if old is None else '-'}{where}")
        else:
            parts.append(f"{where} changed")
    return "; ".join(parts)
