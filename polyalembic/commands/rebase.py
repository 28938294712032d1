"""``polyalembic rebase FILE...``: move one team branch's revisions after the other's.

Two branches that each generated the next revision after the same head meet with the same id
(``postgres_008`` twice: Alembic would keep one and drop the other) or with two heads. Like
Atlas's ``migrate rebase``, this renumbers the named files after the rest of the history and
chains them there in their own order: new ids (the next ``NNN`` of their folder for a numbered
file, a fresh hex id for an Alembic one), file names (pair files too), ``down_revision`` and the
header lines that repeat them. It is for revisions not yet deployed anywhere: a file the ledger
it is pointed at has a row for is refused, and the new files are written beside their places
before anything is moved in.

Lazy imports: the ledger's writes module (SQLAlchemy), only when the ledger is asked.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import uuid
from pathlib import Path

from polyalembic.chain.index import Index
from polyalembic.chain.loader import migrations_of
from polyalembic.chain.migration import Migration
from polyalembic.chain.order import heads, in_order
from polyalembic.errors import PolyalembicError, StoreUnavailable
from polyalembic.project import Project

NUMBERED = re.compile(r"^(\d{3,})_(.+)$")


@dataclasses.dataclass(frozen=True)
class Move:
    """One revision's new id, file stem and parent."""

    migration: Migration
    revision: str
    stem: str
    down: str


def rebase(project: Project, files: list[str]) -> list[str]:
    """Move the revisions of ``files`` after the head of the others; the lines saying what moved."""
    folders = project.version_folders()
    entries = Index(folders, project.listing).entries() if folders is not None else None
    if entries is None:
        raise PolyalembicError("rebase reads the revision ids from the files' text, and one of them is computed or "
                               "unreadable: `polyalembic validate` names it")
    history = migrations_of(entries, project.folder_stores)
    moving = [_named(history, name) for name in files]
    staying = [m for m in history if m not in moving]
    staying_heads = heads(in_order(staying))
    if len(staying_heads) != 1:
        names = ", ".join(m.filename for m in staying_heads)
        raise PolyalembicError(f"rebase: without {', '.join(m.filename for m in moving)} the history still has "
                               f"{len(staying_heads)} heads ({names}): name every revision of the branch to move")
    _refuse_applied(project, moving)
    moves = _plan(_own_order(moving), staying, staying_heads[0].revision)
    _write(moves)
    return [f"rebased {m.migration.filename} ({m.migration.revision}) -> {m.stem}.py ({m.revision}), after {m.down}"
            for m in moves]


def _named(history: list[Migration], name: str) -> Migration:
    """The one revision file ``name`` (a file name, a path, or a stem) stands for."""
    stem = Path(name).name.removesuffix(".py")
    found = [m for m in history if m.filename.removesuffix(".py") == stem]
    if len(found) != 1:
        where = "no revision file" if not found else \
            f"{len(found)} revision files ({', '.join(str(m.path) for m in found)})"
        raise PolyalembicError(f"rebase: {name} names {where}: give the file name of one revision")
    return found[0]


def _own_order(moving: list[Migration]) -> list[Migration]:
    """The revisions to move in the order they chain among themselves (their parents outside the
    set are where they came from, and are left behind)."""
    ids = {m.revision for m in moving}
    if any(m.is_merge for m in moving):
        merge = next(m for m in moving if m.is_merge)
        raise PolyalembicError(f"rebase: {merge.filename} is a merge revision: rebase moves a line of revisions, "
                               "not a merge (`alembic merge heads` joins two heads instead)")
    inside = [dataclasses.replace(m, down=tuple(d for d in m.down if d in ids), depends=()) for m in moving]
    by_id = {m.revision: m for m in moving}
    return [by_id[m.revision] for m in in_order(inside)]


def _refuse_applied(project: Project, moving: list[Migration]) -> None:
    """One line naming a file to move that the ledger has a row for (applied, or begun)."""
    from polyalembic.ledger.writes import connect_ledger, read_rows

    try:
        with connect_ledger(project.settings) as conn:
            rows = {(r.revision, r.migration_file): r for r in read_rows(conn)}
    except StoreUnavailable:
        return  # no ledger configured or reachable: nothing to compare with
    for m in moving:
        row = rows.get((m.revision, m.migration_file))
        if row is not None:
            raise PolyalembicError(f"rebase: {m.filename} ({m.revision}) is {row.status} in the ledger: rebase is "
                                   "for revisions not deployed anywhere; write a new revision instead")


def _plan(moving: list[Migration], staying: list[Migration], head: str) -> list[Move]:
    """New ids and stems, numbered after the highest NNN of each folder."""
    numbers: dict[Path, int] = {}
    for m in staying:
        match = NUMBERED.match(m.filename)
        if match and m.revision.startswith(f"{m.store}_"):
            numbers[m.directory] = max(numbers.get(m.directory, 0), int(match[1]))
    moves, down = [], head
    taken = {m.revision for m in staying}
    for m in moving:
        match = NUMBERED.match(m.filename.removesuffix(".py"))
        if match and m.revision.startswith(f"{m.store}_"):
            number = numbers[m.directory] = numbers.get(m.directory, 0) + 1
            revision, stem = f"{m.store}_{number:03d}", f"{number:03d}_{match[2]}"
        else:
            revision = uuid.uuid4().hex[-12:]
            old_stem = m.filename.removesuffix(".py")
            stem = revision + old_stem[len(m.revision):] if old_stem.startswith(m.revision) else old_stem
        if revision in taken:
            raise PolyalembicError(f"rebase: the new id {revision} of {m.filename} is taken: rename that revision")
        taken.add(revision)
        moves.append(Move(m, revision, stem, down))
        down = revision
    return moves


def _rewritten(move: Move) -> str:
    """The revision file's text with its new id and parent (the assignments, annotated or not,
    and the header lines that repeat them)."""
    text = move.migration.path.read_text(encoding="utf-8")
    data = text.encode("utf-8")
    starts = [0]
    for line in data.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    edits = []
    for node in ast.parse(text).body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else \
            node.target if isinstance(node, ast.AnnAssign) and node.value is not None else None
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            value = node.value  # type: ignore[union-attr]
            assert value is not None and value.end_lineno is not None and value.end_col_offset is not None
            new = move.revision if target.id == "revision" else move.down
            # ast's columns count UTF-8 bytes
            edits.append((starts[value.lineno - 1] + value.col_offset,
                          starts[value.end_lineno - 1] + value.end_col_offset, repr(new).encode()))
    for begin, end, replacement in sorted(edits, reverse=True):
        data = data[:begin] + replacement + data[end:]
    text = data.decode("utf-8")
    text = re.sub(rf"^Revision ID: {re.escape(move.migration.revision)}$", f"Revision ID: {move.revision}", text,
                  count=1, flags=re.M)
    return re.sub(r"^Revises: .*$", f"Revises: {move.down}", text, count=1, flags=re.M)


def _write(moves: list[Move]) -> None:
    """Every new file checked free and written beside its place first; then the pair files
    renamed and the revisions put in place, undone on a failure; the old revisions removed last."""
    renames: list[tuple[Path, Path]] = []
    texts: dict[Path, str] = {}
    for move in moves:
        m = move.migration
        texts[m.directory / f"{move.stem}.py"] = _rewritten(move)
        for pair_file in m.pair or ():
            renames.append((pair_file, m.directory / (move.stem + pair_file.name[len(m.filename) - 3:])))
    leaving = {m.migration.path for m in moves} | {old for old, _ in renames}
    for target in [*texts, *(new for _, new in renames)]:
        if target.exists() and target not in leaving:
            raise PolyalembicError(f"rebase: {target} exists: move it away first; nothing was changed")
    staged = [(path.with_name(f".{path.name}.rebasing"), path) for path in texts]
    renamed: list[tuple[Path, Path]] = []
    try:
        for temporary, path in staged:
            temporary.write_text(texts[path], encoding="utf-8")
        for old, new in renames:
            old.rename(new)
            renamed.append((old, new))
        for temporary, path in staged:
            os.replace(temporary, path)
    except BaseException:
        for old, new in reversed(renamed):
            new.rename(old)
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise
    for move in moves:
        if move.migration.path not in texts:
            move.migration.path.unlink()
