"""The Alembic internals polyalembic relies on, against the installed Alembic: if a release
changes them, these fail loudly (see polyalembic/runtime/alembic_internals.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from alembic import command
from alembic import op as op_proxy
from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from polyalembic.runtime.alembic_internals import (
    load_revision_files_only,
    name_new_files,
    operations_on,
    planned_revisions,
)


def _offline_context(**opts: object) -> MigrationContext:
    return MigrationContext.configure(dialect_name="postgresql", opts={"as_sql": True, **opts})


def test_planned_revisions_reads_the_step_function_of_upgrade_and_downgrade_only() -> None:
    class Script:
        def __init__(self, revision: str) -> None:
            self.revision = revision

    class Step:
        def __init__(self, revision: str) -> None:
            self.revision = Script(revision)

    def upgrade(heads: object, context: object) -> list[Step]:
        return [Step("a_001"), Step("a_002")]

    def current(heads: object, context: object) -> list[Step]:
        raise AssertionError("`current` must not be called: it prints")

    context = _offline_context(fn=upgrade)
    assert context._migrations_fn is upgrade  # the attribute the adapter reads
    assert planned_revisions(context) == ["a_001", "a_002"]
    assert planned_revisions(_offline_context(fn=current)) is None
    assert planned_revisions(_offline_context()) is None


def test_operations_on_points_op_at_a_context_and_back_at_the_outer_one() -> None:
    outer, inner = _offline_context(), _offline_context()
    with Operations.context(outer):
        assert op_proxy.get_context() is outer
        with operations_on(inner) as operations:
            assert op_proxy.get_context() is inner
            assert operations.migration_context is inner
        assert op_proxy.get_context() is outer  # restored, not removed
        assert hasattr(op_proxy, "_proxy")


# --- alembic revision / alembic check --------------------------------------------------------------------

ENV_PY = '''
from alembic import context
from polyalembic.runtime.alembic_internals import history_command, merging, revision_command

command = revision_command(context)
context.config.attributes["seen"] = command
if command is not None and not command.check:
    command.directives[:] = []  # Alembic then writes nothing
history = history_command(context)
context.config.attributes["history"] = history
context.config.attributes["merging"] = merging(context)
if history is not None:
    history.show(("one_001",))
'''


def _script_directory(tmp_path: Path, stdout: io.StringIO | None = None) -> Config:
    (tmp_path / "env.py").write_text(ENV_PY)
    (tmp_path / "script.py.mako").write_text(
        'revision = ${repr(up_revision)}\ndown_revision = ${repr(down_revision)}\n')
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
    config = Config(stdout=stdout or io.StringIO())
    config.set_main_option("script_location", str(tmp_path))
    config.set_main_option("version_locations", f"{tmp_path / 'one'} {tmp_path / 'two'}")
    config.set_main_option("path_separator", "space")
    config.set_main_option("revision_environment", "true")
    return config


def test_revision_command_reads_the_arguments_of_alembic_revision_and_check(tmp_path: Path) -> None:
    config = _script_directory(tmp_path)
    assert command.revision(config, message="Add x", version_path=str(tmp_path / "one"), rev_id="abc") == []
    seen = config.attributes["seen"]
    assert (seen.check, seen.autogenerate, seen.message, seen.version_path) == (
        False, False, "Add x", str(tmp_path / "one"))
    assert seen.unsupported == ("--rev-id",)
    assert not list((tmp_path / "one").glob("*.py")), "emptied directives: Alembic wrote nothing"

    command.revision(config, message="y", autogenerate=True, splice=True, head="base")
    seen = config.attributes["seen"]
    assert (seen.check, seen.autogenerate, seen.unsupported) == (False, True, ("--splice", "--head"))

    command.check(config)  # the default (empty) directive is left: no difference
    seen = config.attributes["seen"]
    assert (seen.check, seen.autogenerate, seen.message, seen.unsupported) == (True, True, None, ())
    assert seen.revision_context.generated_revisions is seen.directives

    command.history(config)  # runs env.py too (revision_environment), as another command
    assert config.attributes["seen"] is None


def test_name_new_files_names_each_generated_revision_file(tmp_path: Path) -> None:
    config = _script_directory(tmp_path)
    script = ScriptDirectory.from_config(config)
    name_new_files(script, {"one_001": "001_first", "two_001": "001_second"})
    first = script.generate_revision("one_001", "first", version_path=str(tmp_path / "one"))
    second = script.generate_revision("two_001", "second", head="one_001", version_path=str(tmp_path / "two"))
    assert first is not None and second is not None
    assert Path(first.path) == tmp_path / "one" / "001_first.py"
    assert Path(second.path) == tmp_path / "two" / "001_second.py"
    assert second.down_revision == "one_001"


def test_history_command_reads_whether_alembic_history_needs_the_current_revision(tmp_path: Path) -> None:
    shown = io.StringIO()
    config = _script_directory(tmp_path, shown)
    script = ScriptDirectory.from_config(config)
    script.generate_revision("one_001", "first", version_path=str(tmp_path / "one"))
    script.generate_revision("two_001", "second", head="one_001", version_path=str(tmp_path / "two"))
    for args, needs_current in (({}, False), ({"verbose": True}, False), ({"indicate_current": True}, True),
                                ({"rev_range": "current:"}, True), ({"rev_range": ":current"}, True),
                                ({"rev_range": "one_001:"}, False)):
        command.history(config, **args)  # type: ignore[arg-type]
        history = config.attributes["history"]
        assert history is not None and history.needs_current is needs_current, args
        assert config.attributes["seen"] is None and not config.attributes["merging"]
    # the function Alembic handed over printed the listing, marking the currents it was given
    assert "one_001 -> two_001 (head), \n<base> -> one_001, \n" in shown.getvalue()
    assert "one_001 -> two_001 (head), \n<base> -> one_001 (current), \n" in shown.getvalue()  # -i

    command.merge(config, "heads", message="join")  # one head: Alembic writes a plain revision after it
    assert config.attributes["merging"] and config.attributes["history"] is None
    command.revision(config, message="x", version_path=str(tmp_path / "one"))
    assert not config.attributes["merging"] and config.attributes["history"] is None


# --- the revision map -----------------------------------------------------------------------------------


def _chain_folder(tmp_path: Path) -> Config:
    """Two version folders: revisions, pair files beside them, other files, a linked revision."""
    config = _script_directory(tmp_path)
    one, two = tmp_path / "one", tmp_path / "two"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    down = None
    for i, folder in enumerate((one, one, two, two), start=1):
        text = f"revision = 'r{i}'\ndown_revision = {down!r}\n"
        if i == 3:  # a revision file that is a link to one kept elsewhere
            (elsewhere / "003_linked.py").write_text(text)
            (folder / "003_linked.py").symlink_to(elsewhere / "003_linked.py")
        else:
            (folder / f"00{i}_r.py").write_text(text)
        for extra in (f"00{i}_r.up.sql", f"00{i}_r.down.sql"):
            (folder / extra).write_text("SELECT 1;\n")
        down = f"r{i}"
    (one / "README.md").write_text("not a revision\n")
    (one / "notes.txt").write_text("not a revision\n")
    return config


def _loaded(script: ScriptDirectory) -> list[tuple[str, str]]:
    return [(s.revision, s.path) for s in script.walk_revisions()]


def test_load_revision_files_only_loads_what_alembic_loads(tmp_path: Path) -> None:
    config = _chain_folder(tmp_path)
    alembic_own = _loaded(ScriptDirectory.from_config(config))
    script = ScriptDirectory.from_config(config)
    load_revision_files_only(script)
    assert _loaded(script) == alembic_own
    assert [r for r, _ in alembic_own] == ["r4", "r3", "r2", "r1"]
    assert dict(alembic_own)["r3"] == str(tmp_path / "elsewhere" / "003_linked.py")  # resolved, as Alembic does


def test_load_revision_files_only_keeps_alembics_warning_and_a_loaded_map(tmp_path: Path) -> None:
    config = _chain_folder(tmp_path)
    config.set_main_option("version_locations", f"{tmp_path / 'one'} {tmp_path / 'two'} {tmp_path / 'one'}")
    script = ScriptDirectory.from_config(config)
    load_revision_files_only(script)
    with pytest.warns(UserWarning, match="loaded twice") as caught:
        assert [r for r, _ in _loaded(script)] == ["r4", "r3", "r2", "r1"]
    assert sorted(Path(str(w.message).split()[1]).name for w in caught) == ["001_r.py", "002_r.py"]
    loaded = script.revision_map
    load_revision_files_only(script)  # already loaded: left as it is
    assert script.revision_map is loaded
