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

    drawn = cli(project, settings, "graph", "--format", "dot")
    assert drawn.exit_code == 0, drawn.output[-2000:]
    svg = subprocess.run(["dot", "-Tsvg"], input=drawn.stdout, capture_output=True, text=True, timeout=120)
    assert svg.returncode == 0, svg.stderr
    parents = sum(len(p) for p in history.parents.values())
    assert svg.stdout.count('class="node"') == 300
    assert svg.stdout.count('class="edge"') == parents + 1  # and the one depends_on
    assert drawn.stdout.count("\\napplied") == 300 - after_last and drawn.stdout.count("\\npending") == after_last


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
    current = alembic(project, settings, "current")
    assert current.returncode == 0 and all(head in current.stdout for head in heads(settings)), current.stderr
    dry = cli(project, settings, "up", "--dry-run")
    assert dry.exit_code == 1 and "two branches applied, not yet joined" in dry.output
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


def test_two_branches_that_generated_the_same_revision_are_named_and_rebased(project_copy: Project,
                                                                            settings: Settings, tmp_path: Path) -> None:
    other = tmp_path / "teammate"
    shutil.copytree(project_copy.root, other, ignore=shutil.ignore_patterns("__pycache__", ".stack"))
    teammate = Project(other / "alembic.ini", settings=settings)
    for project, name in ((project_copy, "accounts"), (teammate, "invoices")):
        assert cli(project, settings, "generate", "postgres", name).exit_code == 0
        folder = project.root / "migrations" / "postgres"
        (folder / f"008_{name}.up.sql").write_text(f"CREATE TABLE t_{name} (id int);\n")
        (folder / f"008_{name}.down.sql").write_text(f"DROP TABLE t_{name};\n")
    for path in (other / "migrations" / "postgres").glob("008_invoices*"):
        shutil.copy(path, project_copy.root / "migrations" / "postgres" / path.name)  # the branches meet

    checked = cli(project_copy, settings, "validate")
    assert checked.exit_code == 1
    assert "both define revision 'postgres_008' (Alembic would keep one and drop the other)" in checked.output
    assert "number 008 is used by 008_accounts.py, 008_invoices.py" in checked.output
    refused = cli(project_copy, settings, "up")
    assert refused.exit_code == 1 and "both define revision 'postgres_008'" in refused.output
    assert ledger(settings) == []  # nothing ran

    rebased = cli(project_copy, settings, "rebase", "008_invoices.py")
    assert rebased.exit_code == 0, rebased.output
    assert "008_invoices.py (postgres_008) -> 009_invoices.py (postgres_009), after postgres_008" in rebased.output
    folder = project_copy.root / "migrations" / "postgres"
    assert sorted(p.name for p in folder.glob("009_*")) == ["009_invoices.down.sql", "009_invoices.py",
                                                             "009_invoices.up.sql"]
    assert not list(folder.glob("008_invoices*"))
    assert cli(project_copy, settings, "validate").exit_code == 0
    assert cli(project_copy, settings, "up").exit_code == 0
    assert {"t_accounts", "t_invoices"} <= tables(settings)
    assert [r.revision for r in ledger(settings)][-2:] == ["postgres_008", "postgres_009"]

    again = cli(project_copy, settings, "rebase", "009_invoices.py")
    assert again.exit_code == 1 and "is applied in the ledger: rebase is for revisions not deployed" in again.output


def test_two_heads_with_distinct_ids_are_named_and_joined_by_alembic_merge(tmp_path: Path,
                                                                           settings: Settings) -> None:
    project, history = hex_project(tmp_path, settings, count=12)
    assert cli(project, settings, "up").exit_code == 0
    versions = tmp_path / "migrations" / "versions"
    for rev in ("aaaa00000001", "bbbb00000002"):
        (versions / f"{rev}_branch.py").write_text(
            f'revision = "{rev}"\ndown_revision = "{history.head}"\nfrom alembic import op\n'
            f'def upgrade():\n    op.execute("CREATE TABLE t_{rev} (id int)")\n'
            f'def downgrade():\n    op.execute("DROP TABLE t_{rev}")\n')
    checked = cli(project, settings, "validate")
    assert checked.exit_code == 1 and "the history has 2 heads: aaaa00000001" in checked.output
    assert "`alembic merge heads` writes a merge revision" in checked.output
    refused = cli(project, settings, "up")
    assert refused.exit_code == 1 and "the history has 2 heads" in refused.output

    merged = alembic(project, settings, "merge", "heads", "-m", "join the branches")
    assert merged.returncode == 0, merged.stderr[-2000:]
    assert cli(project, settings, "validate").exit_code == 0
    applied = cli(project, settings, "up")
    assert applied.exit_code == 0, applied.output
    merge = project.chain()[-1]
    assert merge.is_merge and heads(settings) == [merge.revision]
    assert {"t_aaaa00000001", "t_bbbb00000002"} <= tables(settings)
    status = json.loads(cli(project, settings, "status", "--format", "json").output)
    assert {m["revision"]: m["state"] for m in status["migrations"]}[merge.revision] == "applied"


def test_graph_draws_stores_merges_and_states_as_mermaid_and_svg(tmp_path: Path, settings: Settings) -> None:
    project, history = hex_project(tmp_path, settings, count=12)
    assert cli(project, settings, "up", "--to", history.merges[0]).exit_code == 0
    mermaid = cli(project, settings, "graph")
    assert mermaid.exit_code == 0 and mermaid.stdout.startswith("flowchart BT")
    merge_node = f"r{[m.revision for m in project.chain()].index(history.merges[0])}"
    assert f'{merge_node}(("{history.merges[0]}' in mermaid.stdout  # a merge is drawn round
    assert mermaid.stdout.count("--> " + merge_node) == 2 and "-.->|depends_on|" not in mermaid.stdout
    assert "<br/>applied" in mermaid.stdout and "<br/>pending" in mermaid.stdout
    picture = tmp_path / "history.svg"
    assert cli(project, settings, "graph", "--format", "svg", "-o", str(picture)).exit_code == 0
    assert picture.read_text().count('class="node"') == 12
    offline = cli(project, Settings({}), "graph", "--format", "dot")
    assert offline.exit_code == 0 and "drawing the files only" in offline.stderr and "applied" not in offline.stdout
