"""The body of ``migrations/env.py``: connect, lock, bind revisions to their stores, migrate.

Lazy imports: ``alembic.context``, only when env.py does not hand its own."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from polyalembic.chain.index import Index
from polyalembic.chain.inifile import IniFile
from polyalembic.errors import PolyalembicError, StoreUnavailable, as_command_error
from polyalembic.events.reporters import reporter_for
from polyalembic.events.stream import Events
from polyalembic.ledger import schema as ledger_schema
from polyalembic.ledger.reads import current_heads, reading, sa_query
from polyalembic.ledger.row_status import RowStatus
from polyalembic.ledger.writes import Ledger, OnConnection, connect_ledger, read_rows
from polyalembic.masking import mask_dsn
from polyalembic.options import option, unread_x_arguments
from polyalembic.project import baseline_of, check_version_locations, folder_stores
from polyalembic.request import RunRequest, request_of
from polyalembic.runtime.alembic_internals import (
    HistoryCommand,
    history_command,
    load_revision_files_only,
    merging,
    planned_command,
    planned_revisions,
    revision_command,
)
from polyalembic.runtime.collection import start_up_uncollected
from polyalembic.runtime.history_steps import history_steps
from polyalembic.runtime.preconditions import file_problems, refuse_interrupted, refuse_invalid
from polyalembic.runtime.recording import Recorder
from polyalembic.runtime.revision import revise
from polyalembic.runtime.steps import StepExecutor
from polyalembic.settings import LEDGER_SCHEMA_VARIABLE, LEDGER_VARIABLE, Settings, settings_for
from polyalembic.stores import STORES, get_store, register_all_ops
from polyalembic.stores.connections import StoreConnections
from polyalembic.stores.current_run import OPTION, Run
from polyalembic.stores.sql.store import database_url, is_transactional

log = logging.getLogger("polyalembic")


def run(context: Any = None) -> None:
    """Run the migrations Alembic asked for, online or (``--sql``) offline."""
    if context is None:
        from alembic import context
    try:
        _run(context)
    except PolyalembicError as exc:
        raise as_command_error(exc).with_traceback(exc.__traceback__) from exc.__cause__


def _run(context: Any) -> None:
    register_all_ops()
    check_version_locations(context.config)
    load_revision_files_only(context.script)
    request = request_of(context.config)
    settings = request.settings or settings_for(context.config)
    handed_in = context.config.attributes.get("connection")
    if handed_in is not None:
        settings = _served_by(settings, handed_in)
    command = revision_command(context)
    if command is not None:  # alembic revision / alembic check

        revise(context, command, settings, handed_in)
        return
    if merging(context):  # Alembic writes the merge file itself: nothing to connect to
        return
    history = history_command(context)
    if history is not None:
        _show_history(history, settings)
        return
    state = Run(StoreConnections(settings))
    try:
        if context.is_offline_mode():
            _run_offline(context, state)
        else:
            _run_online(context, state)
    finally:
        state.connections.close()


def _show_history(command: HistoryCommand, settings: Settings) -> None:
    """``alembic history`` lists the chain from the files: the ledger database is read (no lock,
    nothing created) only for the current revision ``-i`` or a ``current`` range asks for."""
    current: tuple[str, ...] = ()
    if command.needs_current:
        with reading(settings) as query:
            current = current_heads(query)
    command.show(current)


def _configure_kwargs(context: Any, executor: StepExecutor, state: Run) -> dict[str, Any]:
    settings = state.connections.settings
    return {"transaction_per_migration": True, "on_version_apply": executor.on_version_apply,
            OPTION: state, "target_metadata": None,
            # the ledger's schema, spelled out: Alembic finds its table by visibility, and public's
            # would be visible from a schema that has none yet
            "version_table_schema": settings.ledger_store.schema_of(settings.ledger_dsn),
            **history_steps(context, executor.migrations, request_of(context.config).down_steps)}


def _run_offline(context: Any, state: Run) -> None:
    """``--sql``: render every store's work as text; connect to nothing."""
    settings = state.connections.settings
    ledger_dsn = settings.ledger_dsn
    executor = StepExecutor(state, Recorder(Ledger(settings.ledger_store), settings, state, status_execute=None))
    executor.bind(context.script, folder_stores=_folder_stores(context.config))
    url = settings.ledger_store.sqlalchemy_url(ledger_dsn) if ledger_dsn else settings.ledger_store.offline_url
    context.configure(url=url, literal_binds=True, **_configure_kwargs(context, executor, state))
    output = context.get_context().impl.static_output
    output(f"-- polyalembic: ledger schema_migrations on {mask_dsn(ledger_dsn) or '(ledger database)'}")
    for problem in file_problems(Path(context.script.dir), list(executor.migrations.values()), [], upgrade=False,
                                 **_project_files(context.config)):
        output(f"-- polyalembic: PROBLEM (a real run refuses): {problem}")
    with context.begin_transaction():
        for statement in settings.ledger_store.session_statements(ledger_dsn):  # where a session would be
            context.execute(statement)
        ledger_schema.render(context.execute, settings.ledger_store)
        context.run_migrations()


def _folder_stores(config: Any) -> dict[str, str]:
    """alembic.ini's ``[polyalembic.folders]`` (none for a Config made without a file)."""
    return folder_stores(IniFile(Path(config.config_file_name))) if config.config_file_name else {}


def _project_files(config: Any) -> dict[str, Any]:
    """What validate's file checks take from alembic.ini: the folders' stores and the baseline."""
    if not config.config_file_name:
        return {}
    ini = IniFile(Path(config.config_file_name))
    return {"folder_stores": folder_stores(ini), "baseline": baseline_of(ini)}


def indexed_files(script_directory: Any) -> dict[Path, Any]:
    """What the index already knows of each revision file (its checksum and pair files): the
    run then reads neither again. The index is rebuilt where stale."""
    folders = [Path(location) for location in script_directory.version_locations]
    entries = Index(folders).entries() if all(folder.is_dir() for folder in folders) else None
    return {entry.path: entry for entry in entries or []}


def preflight(migration_context: Any, executor: StepExecutor, revisions: list[str] | None) -> None:
    """Connect to every store the coming steps (``revisions``; None: not an upgrade or downgrade)
    need, before the first one runs, so an unreachable store, wrong credentials or a missing
    extension stop the run with nothing applied."""
    if revisions is None:  # not an upgrade or downgrade: connect lazily
        return
    stores = list(dict.fromkeys(executor.migrations[r].store for r in revisions if r in executor.migrations))
    for store in stores:
        if executor.recorder.in_ledger_transaction(store):
            get_store(store).verify(migration_context.connection, executor.settings)
        else:
            executor.run.connections.get(store)


def lock_timeout(request: RunRequest) -> float | None:
    """Seconds to wait for the migration lock: ``--lock-timeout``, ``-x lock_timeout=``,
    ``POLYALEMBIC_LOCK_TIMEOUT``; None (the default) waits as long as it takes."""
    value = request.lock_timeout
    if value is None:
        value = option("lock_timeout")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        raise PolyalembicError(f"lock timeout (--lock-timeout, -x lock_timeout or POLYALEMBIC_LOCK_TIMEOUT) "
                               f"must be a number of seconds >= 0, got {value!r}")
    return seconds


def _served_by(settings: Settings, handed_in: Any) -> Settings:
    """The settings when a caller hands Alembic a connection (or engine) in
    ``config.attributes["connection"]``, as test suites and apps do: its database holds the
    ledger and the lock, and serves every SQL store whose database is the ledger's (or that has
    none configured). Other stores keep their configured servers."""
    engine = handed_in.engine if isinstance(handed_in, sa.Connection) else handed_in
    url = engine.url.render_as_string(hide_password=False)
    variables: dict[str, str | None] = {LEDGER_VARIABLE: url, LEDGER_SCHEMA_VARIABLE: None}
    for store in STORES.values():
        current = database_url(store, settings)
        if is_transactional(store) and (current is None or settings.same_database(current, settings.ledger_dsn)):
            variables |= store.variables_for(url)
    return settings.replace(**variables)


@contextmanager
def _ledger_connections(settings: Settings, handed_in: Any) -> Iterator[tuple[sa.Connection, sa.Connection]]:
    """(the lock's autocommit connection, the migrations' connection) on the ledger database:
    from what the caller handed in, else from the settings."""
    if handed_in is None:
        with connect_ledger(settings, autocommit=True) as status:
            _ensure_schema(status, settings)  # before the migrations' session starts: it starts in it
            with connect_ledger(settings) as migrate:
                yield status, migrate
        return
    engine = handed_in.engine if isinstance(handed_in, sa.Connection) else handed_in
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as status:
        if isinstance(handed_in, sa.Connection):
            yield status, handed_in  # the caller's: theirs to close
        else:
            with engine.connect() as migrate:
                yield status, migrate


def _ensure_schema(connection: sa.Connection, settings: Settings) -> None:
    """The ledger's schema (when its DSN names one), or one line saying why it cannot be made."""
    try:
        settings.ledger_store.ensure_schema(connection)
    except sa.exc.DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StoreUnavailable(settings.mask(
            f"ledger: cannot create its schema in {mask_dsn(settings.ledger_dsn)}: {reason}: create it "
            f"or let this user create schemas (GRANT CREATE ON DATABASE …)")) from None


def _ensure_ledger(connection: sa.Connection, settings: Settings) -> None:
    """The ledger's tables, or one line saying why the user can't have them and what to do."""
    try:
        ledger_schema.ensure(connection, settings.ledger_store, settings.committing_as_they_go())
    except sa.exc.DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StoreUnavailable(settings.mask(
            f"ledger: cannot create or upgrade schema_migrations in {mask_dsn(settings.ledger_dsn)}: {reason}: "
            f"let this user create tables there (GRANT CREATE ON SCHEMA …), or set {LEDGER_VARIABLE} to a "
            "database it may write")) from None


def events_for(request: RunRequest, settings: Settings) -> Events:
    """The run's events: to the reporter the CLI hands in, else as ``-x log_format=json`` or
    ``POLYALEMBIC_LOG_FORMAT`` say (``alembic upgrade``), else progress bars on a terminal."""
    reporter = request.events
    return Events(reporter if reporter is not None else reporter_for(option("log_format")), settings)


def _run_online(context: Any, state: Run) -> None:
    """Events around the run: ``run_finished`` (with the error, if any) ends every online run."""
    state.events = events_for(request_of(context.config), state.connections.settings)
    try:
        with start_up_uncollected() as start_up_over:
            _migrate_online(context, state, start_up_over)
    except BaseException as exc:
        state.events.run_finished(exc)
        raise
    state.events.run_finished()


def _migrate_online(context: Any, state: Run, start_up_over: Callable[[], None]) -> None:
    """Under the advisory lock (held on its own connection; the migrations run on a second one):
    prepare, preflight, run, record. ``start_up_over`` is called before the first migration
    (``polyalembic/runtime/collection.py``)."""
    settings = state.connections.settings
    request = request_of(context.config)
    handed_in = context.config.attributes.get("connection")
    on_wait = lambda msg: log.warning("%s", msg)  # noqa: E731
    with _ledger_connections(settings, handed_in) as (status_connection, connection), \
            settings.ledger_store.migration_lock(status_connection, on_wait=on_wait, timeout=lock_timeout(request)):
        executor, planned, revisions = _prepare(context, state, request, status_connection, connection,
                                                prepare_statements=handed_in is None)
        preflight(context.get_context(), executor, revisions)
        if planned and revisions is not None:
            state.events.run_started(planned, len(revisions))
        start_up_over()
        if request.before_migrations is not None:  # the CLI's: its start-up is over (cli/startup.py)
            request.before_migrations()
        request.ran = True
        succeeded = False
        try:
            with context.begin_transaction(), _early_commits_seen(connection, state):
                context.run_migrations()
            succeeded = True
        finally:
            _record_snapshots(context, executor, connection, status_connection, quietly=not succeeded)
    if revisions:
        _warn_unread_options()


@contextmanager
def _early_commits_seen(connection: sa.Connection, state: Run) -> Iterator[None]:
    """A commit on the migrations' connection while a migration's function runs (a revision's own
    ``op.get_context().autocommit_block()``, ``op.get_bind().commit()``) is an early commit: the
    ledger gets the migration's ``running`` row before it (recording.py, rule 3). Alembic's own
    commit after the function is not one (the recorder has cleared the hook by then)."""
    def before_commit(_connection: sa.Connection) -> None:
        state.committing_early()

    sa.event.listen(connection, "commit", before_commit)
    try:
        yield
    finally:
        sa.event.remove(connection, "commit", before_commit)


def _prepare(context: Any, state: Run, request: RunRequest, status_connection: sa.Connection,
             connection: sa.Connection, prepare_statements: bool) -> tuple[StepExecutor, str | None, list[str] | None]:
    """The ledger brought up to date and read; the revisions bound to their stores; the run
    refused (nothing applied) when a file is invalid or an interrupted migration waits for
    ``repair``. Returns the executor, the command Alembic plans and the revisions it will run
    (None: not an upgrade or downgrade). ``prepare_statements``: the ledger's statement may be
    prepared on ``connection`` (not on a caller's session)."""
    settings = state.connections.settings
    _ensure_ledger(status_connection, settings)
    rows = read_rows(status_connection)
    # `polyalembic repair resume|retry REV` releases one half-done migration for this run
    resume = {rev: (next((r.completed_steps or 0 for r in rows if r.revision == rev), 0) if how == "resume" else 0)
              for rev, how in request.release.items()}
    retry = {rev for rev, how in request.release.items() if how == "retry"}
    killed = {r.revision for r in rows if r.revision in request.release and r.status == RowStatus.RUNNING}
    recorder = Recorder(Ledger(settings.ledger_store), settings, state, status_execute=OnConnection(status_connection),
                        resume=resume, retry=retry, killed=killed)
    executor = StepExecutor(state, recorder, request)
    executor.bind(context.script, indexed_files(context.script), _folder_stores(context.config))
    context.configure(connection=connection, **_configure_kwargs(context, executor, state))
    migration_context = context.get_context()
    planned = planned_command(migration_context)
    if planned:
        refuse_invalid(file_problems(Path(context.script.dir), list(executor.migrations.values()), rows,
                                     upgrade=planned == "upgrade", **_project_files(context.config)))
    if planned == "upgrade":
        heads = migration_context.get_current_heads()
        applied = {script.revision for script in context.script.iterate_revisions(heads, "base")} if heads else set()
        refuse_interrupted(rows, set(request.release), applied)
    revisions = planned_revisions(migration_context)
    if planned == "upgrade" and revisions and all(r in executor.migrations for r in revisions):
        coming = [executor.migrations[r] for r in revisions]
        recorder.plan(coming)
        if prepare_statements:
            recorder.prepare(connection, coming)
    return executor, planned, revisions


def _record_snapshots(context: Any, executor: StepExecutor, connection: sa.Connection,
                      status_connection: sa.Connection, quietly: bool) -> None:
    """Recording's rules 9 (step markers removed) and 8, still under the lock: the touched stores'
    live snapshots. A store in the
    ledger's database is read on the migrations' connection, the others on the run's own handles."""
    recorder = executor.recorder
    recorder.clear_marks([*executor.touched, *executor.failed_stores], sa_query(status_connection))
    used = list(dict.fromkeys(m.store for m in executor.migrations.values()))
    stores = recorder.stores_to_snapshot(executor.touched, executor.failed_stores, used)
    if not stores:
        return
    try:
        heads = context.get_context().get_current_heads()
    except Exception:  # noqa: BLE001 - the revision is a note on the record, not a reason to skip it
        heads = ()
    handle_of = lambda store: (connection if recorder.in_ledger_transaction(store)  # noqa: E731
                               else executor.run.connections.get(store))
    recorder.record_snapshots(stores, handle_of, sa_query(status_connection), heads[0] if heads else None,
                              quietly=quietly)


def _warn_unread_options() -> None:
    """``-x`` names that neither polyalembic nor any migration that ran asked for (Alembic passes
    anything through, so a misspelt option would do nothing silently)."""
    for name in unread_x_arguments():
        log.warning("-x %s was not read by polyalembic or by any migration that ran: check its spelling", name)
