"""Revision files as Alembic's own template writes them (annotated assignments), as teams write
them (no-op revisions, a downgrade that logs and raises, one defined under an ``if``), and what
``validate``, the index and ``rebase`` make of them. No server: the ledger is not configured."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from polyalembic.chain.index import reversal
from polyalembic.chain.migration import DECLARED_IRREVERSIBLE, NO_DOWNGRADE, REVERSIBLE
from polyalembic.commands.init import init_into
from polyalembic.commands.rebase import rebase
from polyalembic.commands.validate import check_project
from polyalembic.project import Project
from polyalembic.runtime import target_metadata
from polyalembic.settings import Settings
from tests.alembic_history import alembic_ini

TEMPLATE = '''"""{message}

Revision ID: {rev}
Revises: {revises}
Create Date: 2024-01-01 12:00:00.000000

"""
from typing import Sequence, Union

from alembic import op

# revision identifiers, used by Alembic.
revision: str = {rev!r}
down_revision: Union[str, Sequence[str], None] = {down!r}
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None
{extra}

def upgrade() -> None:
{up}


def downgrade() -> None:
{down_body}
'''


def revision(folder: Path, rev: str, down: object, up: str = "    op.execute('SELECT 1')",
             down_body: str = "    op.execute('SELECT 1')", extra: str = "", name: str | None = None) -> Path:
    path = folder / (name or f"{rev}_x.py")
    path.write_text(TEMPLATE.format(message=f"revision {rev}", rev=rev, revises=down, down=down, up=up,
                                    down_body=down_body, extra=extra))
    return path


@pytest.fixture
def alembic_project(tmp_path: Path) -> Project:
    folder = tmp_path / "migrations" / "versions"
    folder.mkdir(parents=True)
    revision(folder, "a1", None)
    revision(folder, "b2", "a1")
    revision(folder, "c3", "a1")
    revision(folder, "d4", ("b2", "c3"), up="    pass", down_body="    pass")
    revision(folder, "e5", "d4", up="    op.execute('INSERT INTO t VALUES (1)')", down_body="    pass")
    return Project(alembic_ini(tmp_path), settings=Settings({}))


def test_alembic_s_template_with_a_merge_validates_and_its_data_migration_needs_a_baseline_or_a_word(
        alembic_project: Project) -> None:
    problems = [str(p) for p in check_project(alembic_project)]
    assert problems == ["migrations/versions/e5_x.py: has no working downgrade() (missing, empty, or ending in "
                        "raise): write it, or declare irreversible = True if it can't be undone"]
    ini = alembic_project.config_path
    ini.write_text(ini.read_text().replace("[polyalembic]\n", "[polyalembic]\nbaseline = e5\n"))
    assert check_project(Project(ini, settings=Settings({}))) == []
    chain = {m.revision: m for m in Project(ini, settings=Settings({})).chain()}
    assert chain["d4"].is_merge and chain["e5"].reversal == NO_DOWNGRADE and chain["d4"].reversal == REVERSIBLE


def test_an_annotated_irreversible_declaration_counts_everywhere(alembic_project: Project) -> None:
    folder = alembic_project.migrations_dir / "versions"
    path = folder / "e5_x.py"
    path.write_text(path.read_text().replace("depends_on: Union[str, Sequence[str], None] = None\n",
                                             "depends_on: Union[str, Sequence[str], None] = None\n"
                                             "irreversible: bool = True\n"))
    assert check_project(Project(alembic_project.config_path, settings=Settings({}))) == []
    chain = {m.revision: m for m in Project(alembic_project.config_path, settings=Settings({})).chain()}
    assert chain["e5"].reversal == DECLARED_IRREVERSIBLE


@pytest.mark.parametrize(("source", "expected"), [
    ("def upgrade():\n    pass\ndef downgrade():\n    pass\n", REVERSIBLE),  # a no-op: nothing to undo
    ("def upgrade():\n    x()\ndef downgrade():\n    log('no')\n    raise NotImplementedError\n", NO_DOWNGRADE),
    ("def upgrade():\n    x()\nif True:\n    def downgrade():\n        y()\n", REVERSIBLE),  # Alembic decides
    ("# not migration_files(__file__)\ndef upgrade():\n    x()\n", NO_DOWNGRADE),
    ("from polyalembic.pairs import migration_files\nupgrade, downgrade = migration_files(__file__)\n", REVERSIBLE),
    ("irreversible = True\ndef upgrade():\n    x()\n", DECLARED_IRREVERSIBLE),
])
def test_what_counts_as_irreversible(source: str, expected: int) -> None:
    assert reversal(ast.parse(source), merge=False) == expected


def test_rebase_rewrites_annotated_ids_and_keeps_other_text_byte_for_byte(alembic_project: Project) -> None:
    folder = alembic_project.migrations_dir / "versions"
    revision(folder, "f6", "e5", extra="note = 'é, ü'  # non-ASCII before nothing")
    path = revision(folder, "c0ffee", "e5", name="c0ffee_other.py",
                    extra="label = 'é'; other: str = 'x'")  # the second head
    lines = rebase(alembic_project, ["c0ffee_other.py"])
    assert len(lines) == 1 and lines[0].startswith("rebased c0ffee_other.py (c0ffee) -> ")
    assert not path.exists()
    moved = next(folder.glob("*_other.py"))
    new_id = moved.name.removesuffix("_other.py")
    text = moved.read_text()
    assert f"revision: str = {new_id!r}" in text and "down_revision: Union[str, Sequence[str], None] = 'f6'" in text
    assert f"Revision ID: {new_id}\nRevises: f6\n" in text and "label = 'é'; other: str = 'x'" in text
    ast.parse(text)
    assert Project(alembic_project.config_path, settings=Settings({})).single_head() == new_id


def test_init_into_rewires_the_project_it_is_given_whatever_the_current_folder(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "p2"
    (project / "alembic" / "versions").mkdir(parents=True)
    (project / "alembic" / "env.py").write_text("from app.db import metadata\ntarget_metadata = metadata\n")
    (project / "alembic.ini").write_text("[alembic]\nscript_location = alembic\n")
    elsewhere = tmp_path / "other"
    (elsewhere / "alembic").mkdir(parents=True)
    (elsewhere / "alembic" / "env.py").write_text("# someone else's\n")
    monkeypatch.chdir(elsewhere)
    lines = init_into(project, "postgres")
    assert "polyalembic.runtime" in (project / "alembic" / "env.py").read_text()
    assert (elsewhere / "alembic" / "env.py").read_text() == "# someone else's\n"
    assert "rewired alembic/env.py (yours is kept as env.py.alembic)" in lines
    assert "target_metadata = app.db:metadata" in (project / "alembic.ini").read_text()


def test_a_target_metadata_in_a_submodule_its_package_does_not_import_loads(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "shop" / "models").mkdir(parents=True)
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "models" / "__init__.py").write_text(
        "import sqlalchemy as sa\nclass Base:\n    metadata = sa.MetaData()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        found = target_metadata.load("target_metadata", "shop:models.Base.metadata")
        assert type(found).__name__ == "MetaData"
    finally:
        for name in [n for n in sys.modules if n == "shop" or n.startswith("shop.")]:
            del sys.modules[name]
