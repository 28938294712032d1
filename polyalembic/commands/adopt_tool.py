"""``polyalembic adopt <tool> DIR``: another migration tool's folder and history taken over
(``n4m``: neo4j-migrations, ``flyway``: Flyway), through the store that knows the tool
(``ForeignHistory``: it reads the tool's files and what the tool recorded in the store).

Each of the tool's versioned files becomes a revision of that store, appended after the head: a
binder ``NNN_name.py`` that says what it was adopted from, the file as its ``.up`` file and the
tool's undo file, or a stub that refuses a rollback until someone writes it, as its ``.down``
file. The ones the tool ran are recorded as applied (audited as ``adopt <tool>``, with the tool's
time and checksum) under the migration lock and in one transaction. Before anything is written:
every file the tool ran has the checksum it recorded, no file the tool ran is missing, the tool
ran a prefix of its files and recorded no failure, and what is recorded stands on what is
applied. A second run converts only files added since and records only what the tool ran since.

Lazy imports: none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyalembic.chain.positions import History
from polyalembic.commands.adoption import Adopted, record, refuse_holes
from polyalembic.commands.adoption import recorded as adoption_recorded
from polyalembic.commands.generate import BINDER, next_number, store_folder
from polyalembic.errors import PolyalembicError
from polyalembic.ledger.writes import connect_ledger, locked
from polyalembic.project import Project
from polyalembic.stores import STORES, get_store
from polyalembic.stores.contract import ForeignApplied, ForeignHistory, ForeignMigration, Store

#: the line of a binder that says which file of which tool it was adopted from
ADOPTED_FROM = re.compile(r'^adopted_from = "(?P<tool>[^"]+): (?P<source>[^"]+)"$', re.MULTILINE)


REVISION = re.compile(r"""^revision = ['"]([^'"]+)['"]$""", re.MULTILINE)


def offering(tool: str, store: str | None) -> ForeignHistory:
    """The store that reads ``tool``'s history (``store``: the one to take when several do)."""
    stores = [s for s in STORES.values() if isinstance(s, ForeignHistory) and s.tool == tool]
    if store is not None:
        stores = [s for s in stores if s.name == store]  # type: ignore[attr-defined]
        if not stores:
            get_store(store)  # an unknown store's own error
            raise PolyalembicError(f"adopt {tool}: store {store!r} has no {tool} history to adopt")
    if not stores:
        raise PolyalembicError(f"adopt {tool}: no registered store reads {tool}'s history")
    return stores[0]


@dataclass
class ToolPlan:
    """What adopting the tool's folder writes and records."""

    store: str
    tool: str
    folder: Path
    #: (file stem, revision id, its source) of each new revision, in order
    new: list[tuple[str, str, ForeignMigration]] = field(default_factory=list)
    #: source file -> revision id, for the files adopted already
    existing: dict[str, str] = field(default_factory=dict)
    #: (revision id, what the tool recorded) for each revision to record as applied
    stamped: list[tuple[str, ForeignApplied]] = field(default_factory=list)
    #: revision ids the tool never ran
    pending: list[str] = field(default_factory=list)
    #: what the ledger records already (and what its version table stands on)
    recorded: set[str] = field(default_factory=set)


def adopted_files(folder: Path, title: str) -> dict[str, str]:
    """Source file -> revision id of the binders in ``folder`` adopted from the tool ``title``."""
    found = {}
    for path in sorted(folder.glob("*.py")) if folder.is_dir() else ():
        text = path.read_text(errors="replace")
        revision = REVISION.search(text)
        for match in ADOPTED_FROM.finditer(text):
            if match["tool"] == title and revision:
                found[match["source"]] = revision[1]
    return found


def check_history(command: str, title: str, sources: list[ForeignMigration], applied: list[ForeignApplied],
                  version_key: Callable[[str], Any] = str) -> list[tuple[ForeignMigration, ForeignApplied]]:
    """The files the tool ran, each with what it recorded, in the tool's order; one line for a
    failure it recorded, a file it ran that is gone or changed, or a file skipped. ``version_key``:
    the tool's equality and order of versions. A baseline row stands for every file up to its
    version (in place before the tool ran: recorded as applied, no checksum to compare)."""
    by_version = {version_key(s.version): s for s in sources}
    ran: dict[Any, ForeignApplied] = {}
    for entry in applied:
        if not entry.success:
            raise PolyalembicError(f"{command}: {title} recorded version {entry.version} ({entry.recorded_as}) as "
                                   f"failed: finish or undo it with {title} first (its repair removes a failed row), "
                                   "then adopt; nothing was changed")
        key = version_key(entry.version)
        if entry.baseline:
            ran.update({k: entry for k in by_version if k <= key and k not in ran})
            continue
        source = by_version.get(key)
        if source is None:
            raise PolyalembicError(f"{command}: {title} recorded version {entry.version} ({entry.recorded_as}) as "
                                   "applied, but no file in the folder has that version: put the file back (version "
                                   "control has it), then adopt; nothing was changed")
        if entry.checksum is not None and entry.checksum != source.checksum:
            raise PolyalembicError(f"{command}: {source.source} has checksum {source.checksum}, but {title} recorded "
                                   f"{entry.checksum} when it applied version {entry.version}: the file changed "
                                   "since; restore it as it ran (or make the database match and run the tool's "
                                   "repair), then adopt; nothing was changed")
        ran[key] = entry
    done = [version_key(s.version) in ran for s in sources]
    if False in done and True in done[done.index(False):]:
        skipped = sources[done.index(False)]
        later = sources[len(done) - 1 - done[::-1].index(True)]
        raise PolyalembicError(f"{command}: {title} applied {later.source} but not {skipped.source}, which "
                               f"comes before it: polyalembic applies revisions in order: run it with {title} first "
                               "(or move the file after the last one applied), then adopt; nothing was changed")
    return [(s, ran[version_key(s.version)]) for s in sources if version_key(s.version) in ran]


def plan_adoption(project: Project, spec: ForeignHistory, folder: Path) -> ToolPlan:
    """Read the tool's folder and history and the ledger; decide, or refuse in one line."""
    assert project.settings is not None
    store: Store = spec  # type: ignore[assignment]
    command = f"adopt {spec.tool}"
    title = spec.tool_title
    sources = spec.foreign_migrations(folder)
    handle = store.connect(project.settings)
    try:
        applied = spec.foreign_applied(handle)
    finally:
        store.close(handle)
    ran = check_history(command, title, sources, applied, spec.foreign_version_key)
    target = store_folder(project, store.name)
    result = ToolPlan(store.name, spec.tool, target, existing=adopted_files(target, title))
    adopted_already = [s for s in sources if s.source in result.existing]
    if adopted_already and sources.index(adopted_already[-1]) >= len(adopted_already):
        first_new = next(s for s in sources if s.source not in result.existing)
        raise PolyalembicError(f"{command}: {first_new.source} comes before {adopted_already[-1].source}, which is "
                               f"a revision already ({result.existing[adopted_already[-1].source]}): a file added "
                               "in front of the adopted ones can't follow them; give it a version after the last "
                               "one, then adopt; nothing was changed")
    number = next_number(project, store.name, target)
    taken = {m.revision for m in project.chain()}
    for source in sources:
        if source.source not in result.existing:
            stem, revision = f"{number:03d}_{source.name}", f"{store.name}_{number:03d}"
            if revision in taken:
                raise PolyalembicError(f"{command}: revision id {revision!r} is taken: rename the existing one")
            result.new.append((stem, revision, source))
            number += 1
    revision_of = result.existing | {source.source: revision for _, revision, source in result.new}
    recorded = result.recorded = adoption_recorded(project.settings, History(project.chain()))
    result.stamped = [(revision_of[s.source], entry) for s, entry in ran if revision_of[s.source] not in recorded]
    stamped = {revision for revision, _ in result.stamped}
    result.pending = [revision_of[s.source] for s in sources
                      if revision_of[s.source] not in recorded and revision_of[s.source] not in stamped]
    return result


def adopt_tool(project: Project, tool: str, folder: Path, store: str | None = None,
               dry_run: bool = False) -> list[str]:
    """Adopt ``tool``'s ``folder`` and the history it recorded; the report's lines."""
    assert project.settings is not None
    spec = offering(tool, store)
    command, title = f"adopt {tool}", spec.tool_title
    # the ledger is made (or upgraded) in the transaction that records, not before a refusal
    with locked(project.settings, project.request.lock_timeout, ensure=False):
        the_plan = plan_adoption(project, spec, folder)
        head = project.single_head()
        if not the_plan.new and not the_plan.stamped:
            return [f"nothing to adopt: every {title} file in {folder} is a revision already and every one it ran "
                    "is recorded"]
        applied_now = the_plan.recorded
        new_stamped = [r for r, _ in the_plan.stamped if r in {rev for _, rev, _ in the_plan.new}]
        if new_stamped and head is not None and head not in applied_now:
            raise PolyalembicError(f"{command}: the history's head {head} is not applied, so what {title} ran can't "
                                   "follow it as applied: `polyalembic up` first, then adopt; nothing was changed")
        report = _report(the_plan, title, dry_run)
        if dry_run:
            return report
        written = _write(the_plan, spec, head)
        try:
            history = History(Project(project.config_path, settings=project.settings).chain())
            stamped = {revision for revision, _ in the_plan.stamped}
            heads = refuse_holes(command, history, (history.by_id[r] for r in applied_now | stamped),
                                 f"run it with {title} or `polyalembic up`")
            entries = [Adopted(history.by_id[revision], entry.applied_at, entry.checksum)
                       for revision, entry in the_plan.stamped]
            with connect_ledger(project.settings) as conn, conn.begin():
                if entries:
                    record(conn, project.settings, entries, heads, f"adopt {tool}")
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
    return report


def _write(the_plan: ToolPlan, spec: ForeignHistory, head: str | None) -> list[Path]:
    """The new revisions' files (binder, up, down) in the store's folder, each after the one before."""
    store: Store = spec  # type: ignore[assignment]
    templates = store.templates()
    the_plan.folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for stem, revision, source in the_plan.new:
        up = the_plan.folder / f"{stem}.up{spec.adopted_suffix}"
        down = the_plan.folder / f"{stem}.down{spec.adopted_suffix}"
        binder = BINDER.format(title=f"{source.name.replace('_', ' ').capitalize()} (adopted from {spec.tool_title}: "
                                     f"{source.source}).", revision=revision, down_revision=head, store=store.name)
        binder = binder.replace("\nupgrade, downgrade", f'adopted_from = "{spec.tool_title}: {source.source}"\n\n'
                                                        "upgrade, downgrade")
        stub = templates.STUB.format(filename=down.name, tool=spec.tool_title, source=source.source,
                                     up_filename=up.name)
        for path, text in ((up, source.up), (down, source.down if source.down is not None else stub),
                           (the_plan.folder / f"{stem}.py", binder)):
            path.write_text(text, newline="")
            written.append(path)
        head = revision
    return written


def _report(the_plan: ToolPlan, title: str, dry_run: bool) -> list[str]:
    lines = []
    if the_plan.new:
        stubs = sum(source.down is None for _, _, source in the_plan.new)
        lines.append(f"{'would convert' if dry_run else 'converted'} {len(the_plan.new)} {title} file(s) into "
                     f"{the_plan.store} revisions in {the_plan.folder}" +
                     (f" ({stubs} down file(s) a stub that refuses a rollback until written)" if stubs else ""))
        lines += [f"  {source.source} -> {stem}.py ({revision})" for stem, revision, source in the_plan.new]
    if the_plan.stamped:
        lines.append(f"{'would record' if dry_run else 'recorded'} {len(the_plan.stamped)} revision(s) {title} ran "
                     f"as applied (audited as adopt {the_plan.tool}; {title}'s checksums in legacy_checksum): "
                     + ", ".join(revision for revision, _ in the_plan.stamped))
    if the_plan.pending:
        lines.append(f"never run by {title} (pending: `polyalembic up` applies them): " + ", ".join(the_plan.pending))
    return lines
