"""An existing Alembic history works as it is: hex ids, branches closed by merge revisions,
``depends_on``, a branch label and data migrations that can't be undone, in a ``versions`` folder
alembic.ini declares as the postgres store. What each command did is read back from PostgreSQL."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from polyalembic.project import Project
from polyalembic.settings import Settings
from tests.alembic_history import History, alembic_ini, write_history
from tests.conftest import REPO, settings_env
from tests.support import ledger
from tests.test_recovery import cli


def hex_project(root: Path, settings: Settings, count: int = 300, **kw: object) -> tuple[Project, History]:
    """A plain Alembic project layout under ``root`` holding a generated history."""
    (root / "migrations").mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        shutil.copy(REPO / "migrations" / name, root / "migrations" / name)
    history = write_history(root / "migrations" / "versions", count, **kw)  # type: ignore[arg-type]
    return Project(alembic_ini(root), settings=settings), history


def tables(settings: Settings) -> set[str]:
    engine = sa.create_engine(settings.ledger_store.sqlalchemy_url(settings.ledger_dsn))
    try:
        with engine.connect() as conn:
            return {row[0] for row in conn.execute(sa.text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 't\\_%'"))}
    finally:
        engine.dispose()


def heads(settings: Settings) -> list[str]:
    engine = sa.create_engine(settings.ledger_store.sqlalchemy_url(settings.ledger_dsn))
    try:
        with engine.connect() as conn:
            return sorted(row[0] for row in conn.execute(sa.text("SELECT version_num FROM alembic_version")))
    finally:
        engine.dispose()


def alembic(project: Project, settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "alembic", "-c", str(project.config_path), *args],
                          env=settings_env(settings), capture_output=True, text=True, timeout=300,
                          cwd=project.root)


@pytest.fixture
def history_project(tmp_path: Path, settings: Settings) -> tuple[Project, History]:
    return hex_project(tmp_path, settings)


def test_a_hex_history_with_merges_validates_renders_upgrades_and_downgrades_to_its_last_irreversible_one(
        history_project: tuple[Project, History], settings: Settings) -> None:
    project, history = history_project
    checked = cli(project, settings, "validate")
    assert checked.exit_code == 0 and "OK: 300 migrations, one head" in checked.output, checked.output

    rendered = alembic(project, settings, "upgrade", "head", "--sql")
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    assert all(f"CREATE TABLE {table} (id int)" in rendered.stdout for table in history.tables)
    dry = cli(project, settings, "up", "--dry-run")
    assert dry.exit_code == 0 and f"CREATE TABLE t_{history.head}" in dry.output
    assert tables(settings) == set()  # rendering touched nothing

    applied = cli(project, settings, "up")
    assert applied.exit_code == 0, applied.output[-3000:]
    assert tables(settings) == set(history.tables)
    assert heads(settings) == [history.head]
    rows = ledger(settings)
    assert len(rows) == 300 and {r.status for r in rows} == {"applied"}
    assert {r.revision for r in rows} >= set(history.merges) | set(history.irreversible)
    order = [r.revision for r in sorted(rows, key=lambda r: r.applied_at)]
    assert all(order.index(parent) < order.index(rev) for rev, parents in history.parents.items()
               for parent in parents), "a revision ran before one it stands on"
    assert order.index(history.labelled) < order.index(history.depending)  # depends_on the labelled branch
    status = cli(project, settings, "status", "--check", "--format", "json")
    assert status.exit_code == 0 and json.loads(status.output)["ok"]

    chain = [m.revision for m in project.chain()]
    after_last = len(chain) - chain.index(history.irreversible[-1]) - 1
    reverted = cli(project, settings, "down", str(after_last))
    assert reverted.exit_code == 0, reverted.output[-2000:]
    assert heads(settings) == [history.irreversible[-1]]
    assert tables(settings) == {f"t_{rev}" for rev in chain[:-after_last]} & set(history.tables)

    refused = cli(project, settings, "down", "1")
    name = history.files[history.irreversible[-1]]
    assert refused.exit_code == 1
    assert f"cannot roll back postgres {name} ({history.irreversible[-1]}): it is irreversible" in refused.output
    assert heads(settings) == [history.irreversible[-1]]  # nothing was reverted
    stock = alembic(project, settings, "downgrade", "-1")
    assert stock.returncode != 0 and "it is irreversible" in stock.stderr
    assert heads(settings) == [history.irreversible[-1]]


def test_down_walks_back_through_a_merge_one_revision_at_a_time(tmp_path: Path, settings: Settings) -> None:
    project, history = hex_project(tmp_path, settings, count=40)
    merge = history.merges[-1]
    assert cli(project, settings, "up", "--to", merge).exit_code == 0
    assert heads(settings) == [merge]
    chain = [m.revision for m in project.chain()]
    assert {r.revision for r in ledger(settings)} == set(chain[:chain.index(merge) + 1])

    unjoined = cli(project, settings, "down", "1")
    assert unjoined.exit_code == 0, unjoined.output[-2000:]
    assert heads(settings) == sorted(history.parents[merge])  # both branches applied, not joined
    tip = chain[chain.index(merge) - 1]  # the branch the history orders second
    one = cli(project, settings, "down", "1")
    assert one.exit_code == 0, one.output
    assert tip not in heads(settings) and len(heads(settings)) == 2
    assert f"t_{tip}" not in tables(settings)
    status = json.loads(cli(project, settings, "status", "--format", "json").output)
    assert status["current_revisions"] == heads(settings)

    assert cli(project, settings, "up").exit_code == 0
    assert heads(settings) == [history.head] and tables(settings) == set(history.tables)


def test_the_plugin_s_ready_tests_pass_on_a_history_with_merges_and_irreversible_revisions(
        tmp_path: Path, base_settings: Settings) -> None:
    from tests.test_plugin import READY_TESTS, outcomes, run_pytest

    _, history = hex_project(tmp_path, base_settings, count=30)
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["polyalembic.pytest_plugin"]\n')
    (tmp_path / "test_migrations.py").write_text("from polyalembic.testing.tests import *  # noqa: F403\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\ntestpaths = .\n")
    result = run_pytest(tmp_path, base_settings)
    assert outcomes(result.stdout) == dict.fromkeys(READY_TESTS, "PASSED"), result.stdout[-4000:]
    assert len(history.merges) == 2 and len(history.irreversible) == 2
