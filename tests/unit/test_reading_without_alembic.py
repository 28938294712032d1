"""Reading commands never import Alembic: alembic.ini is read as Alembic reads it (chain/inifile.py),
and validate's file checks are kept while the files are unchanged (chain/filecache.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.config import Config

from polyalembic.chain import filecache
from polyalembic.chain.inifile import IniFile
from polyalembic.commands.validate import check_files

REPO = Path(__file__).resolve().parents[2]

INIS = {
    "space": "version_locations = %(here)s/a %(here)s/b\npath_separator = space\nprepend_sys_path = . lib\n",
    "os": f"version_locations = %(here)s/a{os.pathsep}%(here)s/b\npath_separator = os\n"
          f"prepend_sys_path = .{os.pathsep}lib\n",
    "newline": "version_locations =\n    %(here)s/a\n    %(here)s/b\npath_separator = newline\n",
    "deprecated separator": "version_locations = %(here)s/a;%(here)s/b\nversion_path_separator = ;\n",
    "no version_locations": "",
}


@pytest.mark.parametrize("body", INIS.values(), ids=INIS.keys())
def test_the_ini_says_what_alembic_says(body: str, tmp_path: Path) -> None:
    ini = tmp_path / "alembic.ini"
    ini.write_text(f"[alembic]\nscript_location = %(here)s/migrations\n{body}")
    alembic = Config(str(ini))
    ours = IniFile(ini)
    expected = alembic.get_version_locations_list() or [f"{alembic.get_main_option('script_location')}/versions"]
    assert ours.version_folders() == [Path(p) for p in expected]
    assert ours.prepend_sys_path() == (alembic.get_prepend_sys_paths_list() or [])


def test_what_the_reader_cannot_say_is_left_to_alembic(tmp_path: Path) -> None:
    ini = tmp_path / "alembic.ini"
    for body in ("script_location = m\nversion_locations = a, b\n",  # the legacy split
                 "script_location = m\nrecursive_version_locations = true\n",
                 "script_location = mypackage:migrations\n",
                 "version_locations = a\n"):  # script_location elsewhere (pyproject.toml)
        ini.write_text(f"[alembic]\n{body}")
        assert IniFile(ini).version_folders() is None, body
    ini.write_text("not an ini at all [\n")
    assert IniFile(ini).version_folders() is None


def _pair(folder: Path, sql: str, age: float = 60.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "001_t.py").write_text('from polyalembic.pairs import migration_files\nrevision = "postgres_001"\n'
                                     'down_revision = None\nstore = "postgres"\n'
                                     'upgrade, downgrade = migration_files(__file__)\n')
    (folder / "001_t.up.sql").write_text(sql)
    (folder / "001_t.down.sql").write_text("DROP TABLE t;\n")
    past = time.time() - age
    for path in folder.iterdir():
        os.utime(path, (past, past))
    return folder / "001_t.up.sql"


def test_validate_keeps_a_files_verdict_only_while_the_file_is_unchanged(tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    up = _pair(migrations / "postgres", "CREATE TABLE t (a int,);\n")
    time.sleep(filecache._RACY_SECONDS + 0.1)  # a file changed just now (ctime) is not cached
    assert ["does not parse" in str(p) for p in check_files(migrations)] == [True]
    assert (migrations / "postgres" / "__pycache__" / "polyalembic-checks-postgres.marshal").is_file()
    assert ["does not parse" in str(p) for p in check_files(migrations)] == [True]  # from the cache
    up.write_text("CREATE TABLE t (a int);\n")  # fixed: the cached verdict no longer applies
    assert check_files(migrations) == []
    up.write_text("CREATE TABLE t (a int,);\n")  # same size as the first text, written just now
    assert ["does not parse" in str(p) for p in check_files(migrations)] == [True]


def test_validate_names_an_import_that_is_not_installed_without_running_the_revision(tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    folder = migrations / "postgres"
    folder.mkdir(parents=True)
    (folder / "001_x.py").write_text('import helpers_of_this_app\nimport no_such_module_here\nfrom alembic import op\n'
                                     'revision = "postgres_001"\ndown_revision = None\nraise SystemExit("ran")\n'
                                     'def upgrade():\n    op.execute("SELECT 1")\n'
                                     'def downgrade():\n    op.execute("SELECT 1")\n')
    (tmp_path / "helpers_of_this_app.py").write_text("")
    problems = [str(p) for p in check_files(migrations, [str(tmp_path)])]
    assert problems == ["migrations/postgres/001_x.py: imports no_such_module_here, which is not installed: "
                        "install no_such_module_here or remove the import"]


def test_validate_status_and_a_no_op_up_import_no_alembic(tmp_path: Path) -> None:
    """Checked in a process of its own: validate with an unreachable ledger (no server needed)."""
    code = ("import sys\nfrom polyalembic.cli import main\n"
            "try:\n    main(['-c', sys.argv[1], 'validate'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            "print('alembic' in sys.modules, 'polyalembic.chain.index' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": str(REPO), "POLYALEMBIC_LEDGER_DSN": "postgresql://u@127.0.0.1:1/x",
           "TIMESCALE_DSN": "postgresql://u@127.0.0.1:1/x"}
    result = subprocess.run([sys.executable, "-c", code, str(REPO / "alembic.ini")], env=env, capture_output=True,
                            text=True, check=True)
    assert "ledger not checked" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "False True"
