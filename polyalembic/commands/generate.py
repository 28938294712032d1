"""``polyalembic generate <store> <name>``: the next numbered migration, linked as the new head.

Lazy imports: the ledger's writes (SQLAlchemy), only when a new revision's number is checked against
the ledger."""

from __future__ import annotations

import re
from pathlib import Path

from polyalembic.errors import PolyalembicError, StoreUnavailable
from polyalembic.project import Project
from polyalembic.stores import get_store

NAME = re.compile(r"^[a-z0-9_]+$")
MAX_NAME = 100
NUMBER = re.compile(r"^(\d{3,})_")

BINDER = '''"""{title}

Revision ID: {revision}
Revises: {down_revision}
"""

from polyalembic.pairs import migration_files

revision = {revision!r}
down_revision = {down_revision!r}
branch_labels = None
depends_on = None
store = {store!r}

upgrade, downgrade = migration_files(__file__)
'''


def next_number(project: Project, store: str, folder: Path) -> int:
    """One after the highest NNN of ``store``'s numbered revisions in ``folder`` (``NNN_name.py``
    defining ``<store>_…``): an Alembic file name (a hex id of digits, a date) is no number."""
    chain = project.chain()
    target = folder.resolve()
    inside = {directory: directory.resolve() == target for directory in {m.directory for m in chain}}
    numbers = [int(match[1]) for m in chain
               if inside[m.directory] and m.store == store and m.revision.startswith(f"{store}_")
               and (match := NUMBER.match(m.filename))]
    return max(numbers, default=0) + 1


def new_revision(project: Project, store: str, name: str, folder: Path) -> tuple[str, str]:
    """(revision id, file stem) of the next migration of ``store`` named ``name`` in ``folder``:
    ``<store>_NNN`` and ``NNN_name``, refused when the name is invalid or taken."""
    if not NAME.match(name):
        raise PolyalembicError(f"invalid name {name[:60]!r}: use lowercase letters, digits and _ only")
    if len(name) > MAX_NAME:
        raise PolyalembicError(f"the name is {len(name)} characters long: keep it to {MAX_NAME} (it becomes a file "
                               "name)")
    if any(p.name.split(".", 1)[0].split("_", 1)[-1] == name for p in folder.glob("[0-9]*_*")):
        raise PolyalembicError(f"a {store} migration named {name!r} exists already: pick another name")
    number = next_number(project, store, folder)
    revision = f"{store}_{number:03d}"
    if any(m.revision == revision for m in project.chain()):
        raise PolyalembicError(f"revision id {revision!r} is taken: rename the existing one")
    _refuse_a_revision_the_ledger_knows(project, revision)
    return revision, f"{number:03d}_{name}"


def generate(project: Project, store: str, name: str, folder: Path | None = None) -> list[Path]:
    """Create the files of a new migration for ``store`` (in ``folder``, default
    ``migrations/<store>``) and return their paths."""
    spec = get_store(store)  # a clear error for an unknown store
    folder = folder or store_folder(project, store)
    revision, stem = new_revision(project, store, name, folder)
    head = project.single_head()
    folder.mkdir(parents=True, exist_ok=True)
    values = dict(title=name.replace("_", " ").capitalize(), revision=revision,
                  down_revision=head, store=store, name=name,
                  label="".join(w.capitalize() for w in name.split("_")))
    templates = spec.templates()
    created: list[Path] = []
    if spec.pair_suffix:
        up = folder / f"{stem}.up{spec.pair_suffix}"
        down = folder / f"{stem}.down{spec.pair_suffix}"
        files = {folder / f"{stem}.py": BINDER.format(**values),
                 up: templates.UP.format(filename=up.name, **values),
                 down: templates.DOWN.format(filename=down.name, up_filename=up.name, **values)}
    else:
        files = {folder / f"{stem}.py": templates.REVISION.format(**values)}
    for path, text in files.items():
        path.write_text(text)
        created.append(path)
    return created


def store_folder(project: Project, store: str) -> Path:
    """Where ``store``'s new revisions go: ``migrations/<store>``, unless it is missing and
    alembic.ini declares another folder for that store (an adopted project's ``versions``)."""
    named = project.migrations_dir / store
    declared = [folder for folder, declared_store in project.folder_stores.items() if declared_store == store]
    return project.migrations_dir / declared[0] if declared and not named.is_dir() else named


def _refuse_a_revision_the_ledger_knows(project: Project, revision: str) -> None:
    """A revision id whose file was deleted may still have a ledger row (a failed run): a new file
    with that id would inherit it. Checked when the ledger is reachable (generate needs no server)."""
    from polyalembic.ledger.writes import connect_ledger, read_rows

    try:
        with connect_ledger(project.settings) as conn:
            row = next((r for r in read_rows(conn) if r.revision == revision), None)
    except StoreUnavailable:
        return
    if row is not None:
        raise PolyalembicError(f"revision id {revision!r} is in the ledger already ({row.status} "
                               f"{row.migration_file}, its file is gone): `polyalembic repair forget {revision}` "
                               "clears that row, then generate again")
