"""The revision index: the chain read from the files' text, cached by size and mtime, never
trusted when stale, and None (Alembic decides) whenever the text does not say for certain."""

from __future__ import annotations

import os
import time
from pathlib import Path

from polyalembic.chain import filecache
from polyalembic.chain.index import Index
from polyalembic.chain.loader import indexed_chain, script_chain
from polyalembic.project import Project
from polyalembic.settings import Settings

REPO = Path(__file__).resolve().parents[2]
CACHE = Path("__pycache__") / "polyalembic-index.marshal"
REVISION = 'revision = "{rev}"\ndown_revision = {down!r}\nstore = "postgres"\n{extra}\ndef upgrade():\n    pass\n'


def _write(folder: Path, name: str, text: str, age: float = 60.0) -> Path:
    path = folder / name
    path.write_text(text)
    past = time.time() - age
    os.utime(path, (past, past))
    return path


def _three(folder: Path) -> None:
    for i, down in ((1, None), (2, "p_1"), (3, "p_2")):
        _write(folder, f"00{i}_x.py", REVISION.format(rev=f"p_{i}", down=down, extra=""))


def _three_with_pair(tmp_path: Path, up: str, down: str) -> Path:
    """A settled postgres folder of three revisions, the second with a pair of ``up``/``down`` files."""
    folder = tmp_path / "postgres"
    folder.mkdir()
    _three(folder)
    _write(folder, "002_x.up.sql", up)
    _write(folder, "002_x.down.sql", down)
    _settle()
    return folder


def _settle() -> None:
    """Wait out the window in which a changed file is not cached (its ctime is now, whatever its mtime)."""
    time.sleep(filecache._RACY_SECONDS + 0.1)


def test_the_chain_is_read_in_order_and_cached(tmp_path: Path) -> None:
    folder = tmp_path / "postgres"
    folder.mkdir()
    _three(folder)
    _settle()
    chain_ = indexed_chain([folder])
    assert [m.revision for m in chain_ or []] == ["p_1", "p_2", "p_3"]
    cached = filecache.load(folder / CACHE)
    assert set(cached) == {"001_x.py", "002_x.py", "003_x.py"}


def test_an_edited_file_is_read_again_and_a_fresh_one_is_not_cached(tmp_path: Path) -> None:
    folder = tmp_path / "postgres"
    folder.mkdir()
    _three(folder)
    before = {m.revision: m.checksum() for m in indexed_chain([folder]) or []}
    _write(folder, "002_x.py", REVISION.format(rev="p_2", down="p_1", extra="# edited"), age=0)
    after = {m.revision: m.checksum() for m in indexed_chain([folder]) or []}
    assert after["p_2"] != before["p_2"] and after["p_1"] == before["p_1"]
    cached = filecache.load(folder / CACHE)
    assert "002_x.py" not in cached  # written just now: its next edit might keep the mtime


def test_a_corrupt_cache_is_rebuilt(tmp_path: Path) -> None:
    folder = tmp_path / "postgres"
    folder.mkdir()
    _three(folder)
    (folder / "__pycache__").mkdir(exist_ok=True)
    (folder / CACHE).write_bytes(b"{not marshal")
    assert [m.revision for m in indexed_chain([folder]) or []] == ["p_1", "p_2", "p_3"]


def test_what_the_text_cannot_vouch_for_goes_to_alembic(tmp_path: Path) -> None:
    cases = {
        "computed id": 'revision = make_id()\ndown_revision = None\n',
        "computed down": 'revision = "p_9"\ndown_revision = parent()\n',
        "no revision": 'down_revision = None\n',
        "rebound": 'revision = "p_9"\nrevision += "x"\ndown_revision = None\n',
    }
    for what, text in cases.items():
        folder = tmp_path / what.replace(" ", "_")
        folder.mkdir()
        _write(folder, "001_x.py", text)
        assert Index([folder]).entries() is None, what


def test_merges_branch_labels_and_depends_on_are_read_from_the_text(tmp_path: Path) -> None:
    folder = tmp_path / "postgres"
    folder.mkdir()
    _three(folder)
    _write(folder, "004_x.py", REVISION.format(rev="p_4", down="p_2", extra='branch_labels = ("side",)'))
    _write(folder, "005_x.py", 'revision = "p_5"\ndown_revision = ("p_3", "p_4")\ndepends_on = "side"\n'
           'def upgrade():\n    pass\ndef downgrade():\n    pass\n')
    entries = {e.revision: e for e in Index([folder]).entries() or []}
    assert entries["p_5"].down == ("p_3", "p_4") and entries["p_5"].depends == ("side",)
    assert entries["p_4"].labels == ("side",) and entries["p_1"].down == ()
    order = [m.revision for m in indexed_chain([folder]) or []]
    assert order.index("p_5") == 4 and order.index("p_2") < order.index("p_4")
def test_the_index_agrees_with_alembic_on_the_seed_set() -> None:
    project = Project(REPO / "alembic.ini", settings=None)
    indexed = project.indexed_chain()
    loaded = script_chain(project.script())
    assert indexed is not None
    assert [(m.revision, m.store, m.path, m.checksum()) for m in indexed] == \
        [(m.revision, m.store, m.path, m.checksum()) for m in loaded]


def test_a_project_reads_the_files_anew_unless_they_are_frozen_for_one_command(tmp_path: Path) -> None:
    folder = tmp_path / "migrations" / "postgres"
    folder.mkdir(parents=True)
    _three(folder)
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/migrations\n"
                                          "version_locations = %(here)s/migrations/postgres\npath_separator = space\n")
    living, command = (Project(tmp_path / "alembic.ini", settings=Settings({}), frozen_files=frozen)
                       for frozen in (False, True))
    assert len(living.chain()) == len(command.chain()) == 3
    _write(folder, "004_x.py", REVISION.format(rev="p_4", down="p_3", extra=""))
    assert [m.revision for m in living.chain()][-1] == "p_4"  # a test or an app that writes a revision
    assert len(command.chain()) == 3  # one CLI command: read once


def test_an_edit_that_keeps_size_and_mtime_is_still_seen(tmp_path: Path) -> None:
    """cp -p, rsync -a and archives restore an mtime; the ctime (and an editor's new inode) still
    tell the cache the file changed."""
    folder = tmp_path / "postgres"
    folder.mkdir()
    _three(folder)
    _settle()
    before = {m.revision: m.checksum() for m in indexed_chain([folder]) or []}
    path = folder / "002_x.py"
    old = path.stat()
    path.write_text(path.read_text().replace("pass", "PASS"))  # same size
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))
    assert path.stat().st_size == old.st_size and path.stat().st_mtime_ns == old.st_mtime_ns
    after = {m.revision: m.checksum() for m in indexed_chain([folder]) or []}
    assert after["p_2"] != before["p_2"] and after["p_1"] == before["p_1"]


def test_an_unchanged_folder_is_read_whole_and_any_change_to_it_is_seen(tmp_path: Path) -> None:
    """The folder's chain is kept whole while no file in it changed: an edited pair file, a file
    that appeared or one that went away is read again."""
    folder = _three_with_pair(tmp_path, "CREATE TABLE a (id int);\n", "DROP TABLE a;\n")
    first = {m.revision: m.checksum() for m in indexed_chain([folder]) or []}
    assert (folder / "__pycache__" / "polyalembic-chain.marshal").is_file()
    assert {m.revision: m.checksum() for m in indexed_chain([folder]) or []} == first
    _write(folder, "002_x.up.sql", "CREATE TABLE b (id int);\n")  # a pair file's content
    edited = {m.revision: m.checksum() for m in indexed_chain([folder]) or []}
    assert edited["p_2"] != first["p_2"] and edited["p_3"] == first["p_3"]
    _write(folder, "004_x.py", REVISION.format(rev="p_4", down="p_3", extra=""))  # a new revision
    assert [m.revision for m in indexed_chain([folder]) or []][-1] == "p_4"
    (folder / "004_x.py").unlink()  # and gone again
    assert [m.revision for m in indexed_chain([folder]) or []][-1] == "p_3"


def test_the_index_knows_which_pair_files_run_outside_a_transaction(tmp_path: Path) -> None:
    folder = _three_with_pair(tmp_path, "-- polyalembic: no-transaction\nCREATE INDEX CONCURRENTLY i ON t (c);\n",
                              "DROP INDEX i;\n")
    first = {m.revision: m for m in indexed_chain([folder]) or []}
    assert (first["p_2"].commits_early(), first["p_2"].commits_early(upgrade=False)) == (True, False)
    assert first["p_2"].known_early == (True, False) and first["p_1"].known_early is None
    _write(folder, "002_x.up.sql", "CREATE INDEX i ON t (c);\n")  # the marker removed: read again
    _settle()
    again = {m.revision: m for m in indexed_chain([folder]) or []}
    assert again["p_2"].known_early == (False, False) and not again["p_2"].commits_early()
