"""The places where polyalembic reaches into Alembic's internals, and nowhere else: the step
function of ``upgrade``/``downgrade``, the ``op`` proxy, for ``alembic revision`` and
``alembic check`` the command's arguments and the name of each file it writes, the work
functions ``alembic history`` and ``alembic merge`` hand to env.py, and the loading of the
revision map.

``tests/unit/test_alembic_internals.py`` checks them against the installed Alembic, so an Alembic
release that changes them fails that test loudly instead of a migration quietly; pyproject.toml
pins the range that was checked.

Lazy imports: Alembic's script modules, inside the functions that patch or read them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import op as op_proxy
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext

from polyalembic.errors import PolyalembicError

# Only Alembic's upgrade/downgrade commands compute their steps without side effects (`current`,
# `stamp` and others print or write from their function).
_PLANNING_COMMANDS = ("upgrade", "downgrade")


def planned_command(migration_context: MigrationContext) -> str | None:
    """``upgrade`` or ``downgrade`` when one of those commands is running; None otherwise."""
    name = getattr(getattr(migration_context, "_migrations_fn", None), "__name__", None)
    return name if name in _PLANNING_COMMANDS else None


def planned_revisions(migration_context: MigrationContext) -> list[str] | None:
    """The revisions the running ``upgrade``/``downgrade`` command is about to run, in order; None
    for any other command. Reads the command's step function (``MigrationContext._migrations_fn``)."""
    if planned_command(migration_context) is None:
        return None
    steps_fn = migration_context._migrations_fn
    revisions = []
    for step in steps_fn(migration_context.get_current_heads(), migration_context):
        script = getattr(step, "revision", None)  # a RevisionStep; a StampStep runs nothing
        if script is not None:
            revisions.append(script.revision)
    return revisions


@contextmanager
def operations_on(migration_context: MigrationContext) -> Iterator[Operations]:
    """Point ``alembic.op`` at ``migration_context`` for the block, then back at the outer context
    (``Operations.context`` removes the proxy on exit instead of restoring the previous one)."""
    outer = op_proxy._proxy  # type: ignore[attr-defined]
    try:
        with Operations.context(migration_context) as operations:
            yield operations
    finally:
        outer._install_proxy()


def current_context() -> Any:
    """The migration context of the revision being run."""
    return op_proxy.get_context()


@dataclass(frozen=True)
class RevisionCommand:
    """What a running ``alembic revision`` or ``alembic check`` asked for."""

    check: bool
    autogenerate: bool
    message: str | None
    version_path: str | None
    #: the options given that a chain of ``<store>_NNN`` revisions can't honour
    unsupported: tuple[str, ...]
    #: the MigrationScripts Alembic writes once env.py returns (the list its
    #: ``process_revision_directives`` hook is given); emptied, it writes none
    directives: list[Any]
    #: Alembic's RevisionContext, for the exception ``alembic check`` raises
    revision_context: Any


_UNSUPPORTED = {"rev_id": "--rev-id", "branch_label": "--branch-label", "depends_on": "--depends-on",
                "splice": "--splice"}


def revision_command(context: Any) -> RevisionCommand | None:
    """The ``revision``/``check`` command env.py runs under, None under any other command. Both pass
    their RevisionContext to the EnvironmentContext (``context_opts``); the work function each
    hands to env.py is local to the command (``check.<locals>.retrieve_migrations``)."""
    environment = getattr(context, "_proxy", context)  # the module alembic.context, or the object
    options = getattr(environment, "context_opts", {})
    revision_context = options.get("revision_context")
    if revision_context is None:
        return None
    args: Mapping[str, Any] = revision_context.command_args
    unsupported = tuple(flag for key, flag in _UNSUPPORTED.items() if args.get(key))
    if args.get("head") not in (None, "head"):
        unsupported += ("--head",)
    return RevisionCommand(
        check=getattr(options.get("fn"), "__qualname__", "").startswith("check."),
        autogenerate=bool(args.get("autogenerate")), message=args.get("message"),
        version_path=args.get("version_path"), unsupported=unsupported,
        directives=revision_context.generated_revisions, revision_context=revision_context)


class _FileNames(str):
    """A ``file_template`` naming each new revision file from a table (revision id -> file stem):
    Alembic names the file ``file_template % {"rev": ..., "slug": ...}``."""

    names: dict[str, str]

    def __mod__(self, values: Any) -> str:
        return self.names[values["rev"]]


def name_new_files(script_directory: Any, names: dict[str, str]) -> None:
    """Make ``script_directory`` write each revision it generates next under its own file stem
    (``names``: revision id -> stem, e.g. ``postgres_008`` -> ``008_add_accounts``)."""
    template = _FileNames("%(rev)s")
    template.names = dict(names)
    script_directory.file_template = template


def _work_function(context: Any) -> Any:
    """The function the running command hands to env.py (``EnvironmentContext(..., fn=...)``)."""
    environment = getattr(context, "_proxy", context)  # the module alembic.context, or the object
    return getattr(environment, "context_opts", {}).get("fn")


def command_steps(context: Any) -> Callable[..., Any] | None:
    """The step function of the running ``upgrade``/``downgrade`` command (what env.py may wrap
    and hand back to ``configure(fn=...)``); None under any other command."""
    fn = _work_function(context)
    return fn if getattr(fn, "__name__", None) in _PLANNING_COMMANDS else None


def downgrade_steps(script_directory: Any, revisions: list[str]) -> list[Any]:
    """Alembic's downgrade steps for exactly ``revisions``, in that order (each a head of what is
    applied when its turn comes: Alembic's head bookkeeping then does the rest)."""
    from alembic.runtime.migration import MigrationStep

    return [MigrationStep.downgrade_from_script(script_directory.revision_map, script_directory.get_revision(rev))
            for rev in revisions]


def merging(context: Any) -> bool:
    """True under ``alembic merge``: its work function does nothing; Alembic writes the merge file
    itself once env.py returns."""
    return getattr(_work_function(context), "__qualname__", "") == "merge.<locals>.nothing"


def _closure(fn: Any) -> dict[str, Any]:
    return {name: cell.cell_contents for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=True)}


@dataclass(frozen=True)
class HistoryCommand:
    """What a running ``alembic history`` asked for."""

    #: ``-i/--indicate-current`` or a range naming ``current``: the listing needs the current revision
    needs_current: bool
    #: Alembic's ``_display_current_history(rev, context)``: prints the listing; reads only ``rev``
    display: Callable[[Any, Any], Any]

    def show(self, currents: tuple[str, ...]) -> None:
        """Print the history, marking ``currents`` (the revisions the database is at)."""
        self.display(currents, None)


_HISTORY = "history.<locals>._display_history_w_current.<locals>._display_current_history"


def history_command(context: Any) -> HistoryCommand | None:
    """The ``history`` command env.py runs under (``revision_environment = true`` runs env.py for
    it), None under any other. Its arguments are in the closure of the function it hands to env.py:
    ``base``/``head`` (the range), and ``indicate_current`` in that of ``_display_history``."""
    fn = _work_function(context)
    if getattr(fn, "__qualname__", "") != _HISTORY:
        return None
    outer = _closure(fn)
    indicate_current = _closure(outer["_display_history"])["indicate_current"]
    return HistoryCommand(needs_current=bool(indicate_current) or "current" in (outer["base"], outer["head"]),
                          display=fn)


def load_revision_files_only(script_directory: Any) -> None:
    """Make ``script_directory`` load its revision map without looking twice at a file whose name
    is not a revision's. Alembic resolves the real path of every file of a version folder before
    its name rules it out; a folder of pairs holds three files per revision (``.py``, ``.up.sql``,
    ``.down.sql``), so on a long chain that was a third of Alembic's loading time. The revisions
    loaded, their order, paths and the "loaded twice" warning are Alembic's own
    (``ScriptDirectory._load_revisions``); nothing changes when the map was already loaded."""
    from alembic.script import base as script_base
    from alembic.script.revision import RevisionMap

    if "_revision_map" in vars(script_directory.revision_map):
        return
    name_rule = script_base._sourceless_rev_file if script_directory.sourceless else script_base._only_source_rev_file
    script_class = script_base.Script

    def load() -> Iterator[Any]:
        seen: set[Path] = set()
        defined: dict[str, Path] = {}  # revision id -> its file: Alembic keeps one of two and warns
        real_folders: dict[Path, Path] = {}
        for folder in script_directory._version_locations:
            if not folder.exists():
                continue
            for file_path in script_class._list_py_dir(script_directory, folder):
                if not name_rule.match(file_path.name):
                    continue
                real_path = _real_path(file_path, real_folders)
                if real_path in seen:
                    script_base.util.warn(f"File {real_path} loaded twice! ignoring. "
                                          "Please ensure version_locations is unique.")
                    continue
                seen.add(real_path)
                script = script_class._from_path(script_directory, real_path)
                if script is not None:
                    first = defined.setdefault(script.revision, real_path)
                    if first != real_path:
                        raise PolyalembicError(
                            f"{first} and {real_path} both define revision {script.revision!r} (Alembic would keep "
                            f"one and drop the other): `polyalembic rebase {real_path.name}` moves the second "
                            "after the first")
                    yield script

    script_directory.revision_map = RevisionMap(load)


def _real_path(file_path: Path, real_folders: dict[Path, Path]) -> Path:
    """``file_path.resolve()``, resolving each folder once: a file that is not a link is its real
    folder's child."""
    if os.path.islink(file_path):
        return file_path.resolve()
    folder = file_path.parent
    real = real_folders.get(folder)
    if real is None:
        real = real_folders[folder] = folder.resolve()
    return real / file_path.name
