"""What ``polyalembic init`` writes is what this repository's own migrations/ holds, and what
``init --into`` carries over from an Alembic env.py."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from polyalembic.chain.inifile import IniFile, set_option
from polyalembic.commands.init import SCAFFOLD, target_metadata_of

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", SCAFFOLD)
def test_the_scaffold_is_this_repository_s_migrations(name: str) -> None:
    shipped = resources.files("polyalembic.scaffold").joinpath(name).read_text(encoding="utf-8")
    assert shipped == (REPO / "migrations" / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(("env", "expected"), [
    ("target_metadata = None\n", ""),
    ("from app.models import Base\ntarget_metadata = Base.metadata\n", "app.models:Base.metadata"),
    ("from app import models as m\ntarget_metadata = m.metadata\n", "app:models.metadata"),
    ("import app.db\ntarget_metadata = app.db.metadata\n", "app:db.metadata"),
    ("from app.models import metadata\ntarget_metadata = metadata\n", "app.models:metadata"),
    ("target_metadata = make_metadata()\n", None),
])
def test_init_into_carries_target_metadata_over_as_module_attribute(env: str, expected: str | None) -> None:
    assert target_metadata_of(env) == expected


def test_set_option_keeps_every_other_line_and_comment(tmp_path: Path) -> None:
    ini = tmp_path / "alembic.ini"
    ini.write_text("# top\n[alembic]\nscript_location = x  # here\n\n[polyalembic]\n# keep me\nenv_file = .env\n")
    set_option(ini, "polyalembic", "baseline", "abc")
    set_option(ini, "polyalembic", "baseline", "def")
    set_option(ini, "polyalembic.folders", "versions", "postgres")
    text = ini.read_text()
    assert text.startswith("# top\n[alembic]\nscript_location = x  # here\n\n"
                           "[polyalembic]\nbaseline = def\n# keep me\n")
    assert text.count("baseline") == 1 and text.endswith("[polyalembic.folders]\nversions = postgres\n")
    parsed = IniFile(ini)
    assert parsed.option("baseline", "polyalembic") == "def" and parsed.section("polyalembic.folders") == {
        "versions": "postgres"}
