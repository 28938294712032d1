"""``polyalembic``: up, down, status, drift, validate, fresh, generate, stamp, repair, help.

Lazy imports: each command's own modules, when that command runs: `polyalembic --help` and the
reading commands load no Alembic, SQLAlchemy, driver or rich."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from polyalembic.cli.output import MigrationLines, echo, fail, mask, setup_logging
from polyalembic.cli.startup import defer_collection, resume
from polyalembic.errors import PolyalembicError, StoreUnavailable
from polyalembic.events.reporters import reporter_for
from polyalembic.events.stream import LOG_FORMATS, Events, silence_stdout
from polyalembic.stores import STORES

NOTHING_TO_APPLY = "Nothing to apply: the database is up to date."


def _project(ctx: click.Context) -> Any:
    from polyalembic.project import Project, find_config
    from polyalembic.request import RunRequest

    request = RunRequest(events=ctx.obj["events"], lock_timeout=ctx.obj["lock_timeout"], before_migrations=resume,
                         on_outcome=ctx.obj["lines"])
    return Project(find_config(ctx.obj["config"]), request=request, frozen_files=True)


class Group(click.Group):
    """Turns polyalembic's errors into one line and exit 1, wherever they are raised."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BrokenPipeError:  # the reader went away (`| head`): stop quietly
            silence_stdout()
            sys.exit(0)
        except KeyboardInterrupt:
            fail("interrupted")
        except Exception as exc:  # noqa: BLE001 - every error becomes one masked line
            if ctx.obj and ctx.obj.get("verbose"):  # the details, masked, above the one line
                import traceback

                click.echo(mask(traceback.format_exc()).rstrip(), err=True)
            fail(str(exc) if _says_what_and_where(exc) else f"{type(exc).__name__}: {exc}")


def _says_what_and_where(exc: Exception) -> bool:
    """polyalembic's errors and Alembic's CommandError are written for the user as they are
    (Alembic's checked without importing it: a reading command never needs it)."""

    alembic_util = sys.modules.get("alembic.util")
    return isinstance(exc, PolyalembicError) or (alembic_util is not None and
                                                 isinstance(exc, alembic_util.CommandError))


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-c", "--config", type=click.Path(dir_okay=False), default=None,
              help="alembic.ini to use (default: ./alembic.ini or the nearest one above).")
@click.option("-v", "--verbose", is_flag=True, help="Log what happens (connections, each step).")
@click.option("-q", "--quiet", is_flag=True, help="Print errors only.")
@click.option("--lock-timeout", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="Wait at most this long for the migration lock (default: as long as it takes).")
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default="text", show_default=True,
              envvar="POLYALEMBIC_LOG_FORMAT",
              help="json: up/down/fresh/repair print one JSON event per line on stdout (README, \"Events\").")
@click.pass_context
def main(ctx: click.Context, config: str | None, verbose: bool, quiet: bool, lock_timeout: float | None,
         log_format: str) -> None:
    """Migrate PostgreSQL, TimescaleDB, Neo4j and ChromaDB from one Alembic chain and one ledger."""
    setup_logging(verbose, quiet)
    defer_collection(ctx)
    as_json = log_format == "json"
    ctx.obj = {"config": config, "verbose": verbose, "quiet": quiet, "lines": MigrationLines(quiet or as_json),
               "lock_timeout": lock_timeout, "json": as_json, "events": reporter_for(log_format, quiet)}


def _echo(ctx: click.Context, text: str) -> None:
    if not ctx.obj["quiet"]:
        echo(text)


def _summary(ctx: click.Context, text: str) -> None:
    """A run's closing line: with ``--log-format json`` the events say it (stdout holds JSON only)."""
    if not ctx.obj["json"]:
        _echo(ctx, text)


def _show_plan(ctx: click.Context, project: Any, plan: Any, verb: str) -> None:
    from polyalembic import api

    if not plan.migrations:
        _echo(ctx, NOTHING_TO_APPLY if verb == "apply" else f"Nothing to {verb}.")
        return
    _echo(ctx, f"Would {verb} {len(plan.migrations)} migration(s) (dry run: nothing is changed):")
    for m in plan.migrations:
        _echo(ctx, f"  {m.store:<12} {m.migration_file:<40} {m.revision}")
    _echo(ctx, "")
    api.render(project, plan, lambda text: echo(text, nl=False))


@main.command()
@click.option("--dry-run", is_flag=True, help="Show what would run (each store's statements or plan); change nothing.")
@click.option("--to", "target", default="head", show_default=True, help="Stop at this revision.")
@click.pass_context
def up(ctx: click.Context, dry_run: bool, target: str) -> None:
    """Apply pending migrations, in chain order, across all stores."""
    from polyalembic import api

    project = _project(ctx)
    if dry_run:
        _show_plan(ctx, project, api.plan_up(project, target), "apply")
        return
    run = api.up(project, target)
    if not run.ran and ctx.obj["json"]:  # Alembic did not run: say it here
        events = Events(ctx.obj["events"], project.settings)
        events.run_started("upgrade", 0)
        events.run_finished()
    applied = len(run.migrations("applied"))  # after a lock wait, another run may have applied them all
    _summary(ctx, f"Applied {applied} migration(s)." if applied else NOTHING_TO_APPLY)


@main.command()
@click.argument("count", type=int, default=1)
@click.option("--dry-run", is_flag=True, help="Show what would be rolled back; change nothing.")
@click.pass_context
def down(ctx: click.Context, count: int, dry_run: bool) -> None:
    """Roll back the last COUNT applied migrations (default 1), newest first."""
    from polyalembic import api

    project = _project(ctx)
    if dry_run:
        _show_plan(ctx, project, api.plan_down(project, count), "roll back")
        return
    reverted = api.down(project, count).migrations("reverted")
    _summary(ctx, f"Rolled back {len(reverted)} migration(s).")


@main.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--check", is_flag=True, help="Exit 1 when anything is pending, failed, running or drifted.")
@click.option("--drift", "with_drift", is_flag=True,
              help="Also compare every store's live schema with its recorded snapshot (connects to the stores).")
@click.pass_context
def status(ctx: click.Context, fmt: str, check: bool, with_drift: bool) -> None:
    """Show every migration of every store: applied, pending, failed, drifted."""
    from polyalembic import api
    from polyalembic.commands import status as st

    project = _project(ctx)
    statuses, current = api.status(project)
    reports = _drift_reports(project) if with_drift else None
    if fmt == "json":
        locations = {s: project.settings.location(s) for s in STORES}
        document = st.as_json(statuses, list(current), locations)
        if reports is not None:
            from polyalembic.commands import drift

            document["drift"] = drift.as_json(reports)
            document["ok"] = document["ok"] and not drift.drifted(reports)
        echo(json.dumps(document, indent=2))
    else:
        echo(st.render_table(statuses))
        if reports is not None:
            echo(_drift_lines(reports))
    if check and (st.has_problems(statuses) or (reports is not None and _any_drift(reports))):
        sys.exit(1)


def _drift_reports(project: Any) -> list[Any]:
    from polyalembic.commands import drift

    return drift.check(project)


def _any_drift(reports: list[Any]) -> bool:
    from polyalembic.commands import drift

    return drift.drifted(reports)


def _drift_lines(reports: list[Any]) -> str:
    """``status --drift``: one line per store under the table."""
    lines = [""]
    for r in reports:
        detail = f" ({len(r.differences)} difference(s): `polyalembic drift` lists them)" if r.differences else ""
        lines.append(f"drift: {r.store}: {r.state}{detail}")
    return "\n".join(lines)


@main.command(name="drift")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--accept", is_flag=True, help="Record every store's live state as its new baseline (audited).")
@click.option("--all", "include_unmanaged", is_flag=True,
              help="Count objects no migration ever managed as drift (with --accept: adopt them).")
@click.option("--store", "stores", multiple=True, type=click.Choice(list(STORES)),
              help="Only this store (repeatable; default: every store the chain migrates).")
@click.pass_context
def drift_command(ctx: click.Context, fmt: str, accept: bool, include_unmanaged: bool, stores: tuple[str, ...]) -> None:
    """Compare every store's live schema with the snapshot its last migration run recorded.

    Exit 1 when anything drifted. Objects no migration ever managed are listed apart.
    """
    from polyalembic.commands import drift

    project = _project(ctx)
    if accept:
        reports = drift.accept(project, stores, include_unmanaged, lock_timeout=ctx.obj["lock_timeout"])
        if fmt == "json":
            echo(json.dumps(drift.as_json(reports, include_unmanaged) | {"accepted": True}, indent=2))
            return
        for r in reports:
            what = (f"{len(r.differences)} difference(s) accepted" if r.state != drift.NO_SNAPSHOT
                    else "first baseline")
            _echo(ctx, f"{r.store}: recorded the live state as the baseline ({what})")
        return
    reports = drift.check(project, stores, include_unmanaged)
    if fmt == "json":
        echo(json.dumps(drift.as_json(reports, include_unmanaged), indent=2))
    else:
        echo(drift.render(reports, include_unmanaged))
    if drift.drifted(reports):
        sys.exit(1)


@main.command()
@click.pass_context
def validate(ctx: click.Context) -> None:
    """Check migration files (pairs, numbering, one head, parse) and applied checksums."""
    from polyalembic.commands import validate as v

    project = _project(ctx)
    problems = v.check_project(project)
    ledger_note = ""
    if not problems:
        try:
            problems += v.check_ledger(project)
        except StoreUnavailable as exc:
            ledger_note = f" (ledger not checked: {str(exc).splitlines()[0]})"
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        fail(f"{len(problems)} problem(s) found, listed above with their fixes")
    _echo(ctx, f"OK: {len(project.chain())} migrations, one head{ledger_note}.")


@main.command()
@click.option("--confirm", default=None, help='Type the phrase "DELETE ALL DATA" non-interactively.')
@click.pass_context
def fresh(ctx: click.Context, confirm: str | None) -> None:
    """DROP EVERYTHING in every store, then run up (dev only; asks for "DELETE ALL DATA")."""
    from polyalembic import api

    api.production_guard()
    project = _project(ctx)
    if confirm is None:
        click.echo(f"This drops everything in every store ({', '.join(STORES)}).")
        try:
            confirm = click.prompt(f'Type "{api.CONFIRM_PHRASE}" to continue', default="", show_default=False)
        except click.Abort:  # no input (CI, closed stdin)
            confirm = ""
    dropped = api.drop_everything(project, confirm)
    for store, things in dropped.items():
        _summary(ctx, f"  dropped   {store:<12} {len(things)} object(s)")
    applied = api.up(project).migrations("applied")
    _summary(ctx, f"Fresh install done: {len(applied)} migration(s) applied.")


@main.command()
@click.argument("store", type=click.Choice(list(STORES)))
@click.argument("name")
@click.pass_context
def generate(ctx: click.Context, store: str, name: str) -> None:
    """Create the next migration of STORE named NAME (up/down pair or revision), as the new head."""
    from polyalembic.commands.generate import generate as make

    project = _project(ctx)
    for path in make(project, store, name):
        click.echo(f"created {Path(path).relative_to(project.root)}")


@main.command()
@click.argument("revision", default="head")
@click.option("--backwards", is_flag=True, help="Allow moving the ledger back (un-stamping applied migrations).")
@click.pass_context
def stamp(ctx: click.Context, revision: str, backwards: bool) -> None:
    """Record REVISION (and all before it) as applied without running them (baseline)."""
    from polyalembic import api

    project = _project(ctx)
    run = api.stamp(project, revision, backwards)
    position = {m.revision: i for i, m in enumerate(project.chain())}  # stamped in chain order, unstamped newest first
    changed = sorted(run.migrations("stamped"), key=lambda m: position[m.revision]) + \
        sorted(run.migrations("unstamped"), key=lambda m: -position[m.revision])
    if not changed:
        _echo(ctx, f"Nothing to stamp: the ledger is at {revision} already.")
    elif run.migrations("unstamped"):
        _echo(ctx, f"Un-stamped {len(changed)} migration(s): {', '.join(m.revision for m in changed)} "
                   "(recorded as not applied; nothing was run or reverted).")
    else:
        _echo(ctx, f"Stamped {len(changed)} migration(s) as applied: {', '.join(m.revision for m in changed)} "
                   "(nothing was run).")


@main.command()
@click.argument("action", type=click.Choice(["resume", "retry", "mark-applied", "forget", "accept-checksum"]))
@click.argument("revision")
@click.pass_context
def repair(ctx: click.Context, action: str, revision: str) -> None:
    """Decide about a failed, interrupted or edited migration (audited).

    \b
    resume REV           run a half-done migration again, skipping the steps it completed
    retry REV            run it again from its first step
    mark-applied REV     you finished it by hand: record it applied, run nothing
    forget REV           drop the row of a migration whose file is gone and that never applied
    accept-checksum REV  an applied file was edited on purpose: record its current checksum
    """
    from polyalembic.commands.repair import repair as decide

    message = decide(_project(ctx), action, revision)
    (_summary if action in ("resume", "retry") else _echo)(ctx, message)


@main.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--stores", default=",".join(STORES), show_default=True,
              help="The stores of a new project, comma-separated.")
@click.option("--into", is_flag=True, help="Rewire the existing Alembic project in DIRECTORY instead.")
@click.option("--store", default=next(iter(STORES)), show_default=True, type=click.Choice(list(STORES)),
              help="With --into: the store the project's versions folder holds.")
@click.pass_context
def init(ctx: click.Context, directory: Path, stores: str, into: bool, store: str) -> None:
    """Start a project in DIRECTORY, or (--into) turn an Alembic project into a polyalembic one."""
    from polyalembic.commands import init as scaffold

    if into:
        for line in scaffold.init_into(directory, store):
            _echo(ctx, line)
        return
    chosen = [name.strip() for name in stores.split(",") if name.strip()]
    for path in scaffold.init(directory, chosen):
        _echo(ctx, f"created {path}")
    _echo(ctx, f"next: set the stores' connection variables, then `polyalembic generate {chosen[0]} NAME` "
          "and `polyalembic up`")


@main.command()
@click.argument("files", nargs=-1, required=True)
@click.pass_context
def rebase(ctx: click.Context, files: tuple[str, ...]) -> None:
    """Move FILES (one branch's revisions, not yet deployed) after the rest of the history."""
    from polyalembic.commands.rebase import rebase as move

    for line in move(_project(ctx), list(files)):
        _echo(ctx, line)


@main.command()
@click.option("--format", "fmt", type=click.Choice(["dot", "mermaid", "svg", "png"]), default="mermaid",
              show_default=True, help="svg and png need Graphviz's dot.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of to standard output.")
@click.option("--no-ledger", is_flag=True, help="Draw the files only (no state from the ledger).")
@click.pass_context
def graph(ctx: click.Context, fmt: str, output: Path | None, no_ledger: bool) -> None:
    """Draw the history: stores, branches, merges and (from the ledger) each revision's state."""
    from polyalembic.commands import graph as picture

    project = _project(ctx)
    states, why = ({}, None) if no_ledger else picture.states_of(project)
    if why:
        click.echo(f"polyalembic: drawing the files only ({why})", err=True)
    text = picture.render(project.chain(), states, "mermaid" if fmt == "mermaid" else "dot")
    data = picture.drawn(text, fmt) if fmt in ("svg", "png") else text.encode()
    if output is not None:
        output.write_bytes(data)
        return
    click.echo(data, nl=False)  # bytes go to the binary stream


@main.group()
def adopt() -> None:
    """Take over a project another tool migrated, where its databases already are."""


@adopt.command(name="alembic")
@click.pass_context
def adopt_alembic(ctx: click.Context) -> None:
    """Record the revision alembic_version holds as the baseline, and the history up to it as applied."""
    from polyalembic.commands.adopt import adopt_alembic as run

    _echo(ctx, run(_project(ctx)))


@adopt.command(name="seed")
@click.option("--dry-run", is_flag=True, help="Say what would be recorded and renamed; change nothing.")
@click.option("--rename-to", default="schema_migrations_seed", show_default=True,
              help="The name the seed's table is kept under.")
@click.pass_context
def adopt_seed(ctx: click.Context, dry_run: bool, rename_to: str) -> None:
    """Record what the seed's migrate.sh ledger says was applied, and keep that table under a new name."""
    from polyalembic.commands.adopt_seed import adopt_seed as run

    for line in run(_project(ctx), dry_run=dry_run, renamed=rename_to):
        _echo(ctx, line)


def _adopt_tool(tool: str, title: str) -> None:
    """``polyalembic adopt <tool> DIR``, for a tool whose history a store reads."""

    @adopt.command(name=tool, help=f"Convert {title}'s migrations in DIR into revisions, and record the ones "
                                   f"{title} ran as applied.")
    @click.argument("folder", type=click.Path(path_type=Path))
    @click.option("--store", "store", default=None, help=f"The store {title}'s history is in (default: the first "
                                                         "store that reads it).")
    @click.option("--dry-run", is_flag=True, help="Say what would be written and recorded; change nothing.")
    @click.pass_context
    def command(ctx: click.Context, folder: Path, store: str | None, dry_run: bool) -> None:
        from polyalembic.commands.adopt_tool import adopt_tool

        for line in adopt_tool(_project(ctx), tool, folder, store=store, dry_run=dry_run):
            _echo(ctx, line)


_adopt_tool("n4m", "neo4j-migrations")
_adopt_tool("flyway", "Flyway")


@main.group()
def fleet() -> None:
    """Run the chain over many targets (tenants, environments) a fleet file (TOML) names."""


def _fleet_options(command: Callable[..., None]) -> Callable[..., None]:
    """The file and options every fleet command takes (``--workers``, ``--continue``, ``--shard``)."""
    for option in reversed((
            click.argument("fleet_file", type=click.Path(path_type=Path)),
            click.option("--workers", type=click.IntRange(min=1), default=None,
                         help="Worker processes (default: the file's, else the CPUs)."),
            click.option("--continue", "go_on", is_flag=True,
                         help="Start new targets after one failed (default: stop)."),
            click.option("--shard", "part", metavar="K/N", default=None,
                         help="Only the K-th of N shards of the targets (a CI matrix, a Kubernetes Indexed Job)."))):
        command = option(command)
    return command


def _fleet_command(action: str, text: str) -> None:
    """``polyalembic fleet <action> FILE``."""

    @fleet.command(name=action, help=text)
    @_fleet_options
    @click.option("--check", is_flag=True, help="Also fail when a target is not at head.")
    @click.pass_context
    def command(ctx: click.Context, fleet_file: Path, workers: int | None, go_on: bool, check: bool,
                part: str | None) -> None:
        _run_fleet(ctx, action, fleet_file, workers, go_on, part, check=check)


def _run_fleet(ctx: click.Context, action: str, fleet_file: Path, workers: int | None, go_on: bool, part: str | None,
               check: bool = False, decision: str = "resume") -> None:
    from polyalembic.fleet.command import fleet_run, load
    from polyalembic.project import find_config

    quiet = ctx.obj["quiet"] or ctx.obj["json"]
    fleet_run(find_config(ctx.obj["config"]), load(fleet_file, workers, go_on, part), action,
              json_events=ctx.obj["json"], say=None if quiet else echo, check=check,
              lock_timeout=ctx.obj["lock_timeout"], decision=decision)


_fleet_command("up", "Apply every pending migration on every target of the fleet file.")
_fleet_command("status", "Read every target's ledger: at head, pending or failed.")
_fleet_command("drift", "Compare every target's live schemas with the snapshots its runs recorded.")
_fleet_command("validate", "Check the migration files once, then every target's applied checksums.")


@fleet.command(name="repair")
@_fleet_options
@click.argument("decision", type=click.Choice(["resume", "retry"]), default="resume")
@click.pass_context
def fleet_repair(ctx: click.Context, fleet_file: Path, workers: int | None, go_on: bool, part: str | None,
                 decision: str) -> None:
    """Retry only the failed targets: `repair resume|retry REV` (default resume) on each failed or
    half-done ledger row, then `up`; a target with none is only read ("not failed")."""
    _run_fleet(ctx, "repair", fleet_file, workers, go_on, part, decision=decision)


@main.command(name="help")
@click.pass_context
def help_command(ctx: click.Context) -> None:
    """Show this help."""
    click.echo(ctx.parent.get_help() if ctx.parent else "")
