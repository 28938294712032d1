"""Flyway (13.x) as the PostgreSQL stores read it, for ``polyalembic adopt flyway DIR``.

The folder: what Flyway's ``filesystem:`` location scan would run (every file below the folder,
recursively) is each ``V<version>__<description>.sql``; ``U<version>__<description>.sql`` is the
undo of that version (it becomes the down file). Versions compare as Flyway's ``MigrationVersion``
does: numbers part by part, ``_`` read as ``.``, trailing zeros ignored (``1`` = ``1.0`` =
``001``). A file Flyway would run outside a transaction (``CREATE INDEX CONCURRENTLY``,
``VACUUM``...) gets polyalembic's no-transaction marker as its first line. The checksum is
Flyway's: CRC-32 over the UTF-8 bytes of the file's lines without their line breaks (so LF and
CRLF agree), a leading BOM left out, as a signed 32-bit integer. What
Flyway would run differently from polyalembic is refused with one line naming the file:
repeatable (``R__``) and baseline (``B``) migrations, callbacks (``afterMigrate.sql``...), a
per-script ``.sql.conf``, placeholders (``${...}``, which Flyway replaces at run time).

The store: ``flyway_schema_history`` in the connection's current schema (Flyway's default
``table`` and ``schemas``): ``installed_rank, version, description, type, script, checksum,
installed_on, success``. A ``BASELINE`` row says every version up to it was in place before
Flyway; an ``UNDO_SQL`` or ``DELETE`` row (``flyway undo``, ``flyway repair`` of a missing file)
takes back the version's earlier row; repeatable (version-less) and ``SCHEMA`` rows are not
migrations to adopt. The table is Flyway's, never the store's schema: snapshots, drift and
``fresh`` leave it alone (``introspect.BOOKKEEPING``).

Lazy imports: none; the handle (a SQLAlchemy connection) brings the driver.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path
from typing import Any

from polyalembic.errors import PolyalembicError
from polyalembic.sql_lookups import in_current_schema
from polyalembic.stores.contract import ForeignApplied, ForeignMigration
from polyalembic.stores.foreign_files import read_utf8, snake_case, tool_files
from polyalembic.stores.postgres.transactions import NO_TRANSACTION

TOOL_TITLE = "Flyway"
HISTORY_TABLE = "flyway_schema_history"

# Flyway's default prefixes, separator and suffix: V1__x.sql, V1_1__x.sql, V1.1__x.sql, U1__x.sql
_NAME = re.compile(r"(?P<prefix>[VUB])(?P<version>\d+(?:[._]\d+)*)__(?P<description>.+)\.sql")
_REPEATABLE = re.compile(r"R__(?P<description>.+)\.sql")
_CALLBACKS = ("beforeMigrate", "beforeEachMigrate", "beforeEachMigrateStatement", "afterEachMigrateStatement",
              "afterEachMigrateStatementError", "afterEachMigrate", "afterEachMigrateError", "afterMigrate",
              "afterMigrateApplied", "afterVersioned", "afterMigrateError", "beforeUndo", "beforeEachUndo",
              "afterEachUndo", "afterEachUndoError", "afterUndo", "afterUndoError", "beforeClean", "afterClean",
              "afterCleanError", "beforeInfo", "afterInfo", "afterInfoError", "beforeValidate", "afterValidate",
              "afterValidateError", "beforeBaseline", "afterBaseline", "afterBaselineError", "beforeRepair",
              "afterRepair", "afterRepairError", "createSchema", "beforeConnect", "afterConnect")
_CALLBACK = re.compile(rf"(?P<event>{'|'.join(_CALLBACKS)})(?:__.*)?\.sql")
# what Flyway's PostgreSQL parser runs outside a transaction (detectCanExecuteInTransaction), at a
# statement's start: the adopted file gets polyalembic's no-transaction marker
_NON_TRANSACTIONAL = re.compile(
    r"^\s*(?:(?:CREATE|DROP)\s+(?:DATABASE|TABLESPACE|SUBSCRIPTION)|ALTER\s+SYSTEM|VACUUM|DISCARD\s+ALL"
    r"|(?:CREATE\s+(?:UNIQUE\s+)?INDEX|DROP\s+INDEX|REINDEX\s+\w+)\s+CONCURRENTLY)\b",
    re.IGNORECASE | re.MULTILINE)
_COMMENTS = re.compile(r"/\*.*?\*/|--[^\n]*", re.DOTALL)
_PLACEHOLDER = re.compile(r"\$\{[^}\n]*\}")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # Java's BufferedReader.readLine
_BOM = "\ufeff"
#: rows that take back the version's earlier row
_TAKEN_BACK = ("UNDO_SQL", "UNDO_JDBC", "UNDO_SCRIPT", "UNDO_CUSTOM", "DELETE")


def _refuse(name: str, why: str) -> PolyalembicError:
    return PolyalembicError(f"adopt flyway: {name}: {why}")


def version_key(version: str) -> tuple[int, ...]:
    """Flyway's ``MigrationVersion`` order and equality: ``1.10`` after ``1.9``, ``1`` = ``1.0`` = ``001``."""
    parts = [int(part) for part in re.split(r"[._]", version)]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def checksum(text: str) -> str:
    """Flyway's checksum of a SQL file (``ChecksumCalculator``): CRC-32 over each line's UTF-8
    bytes, line breaks left out, the BOM dropped, as Java's signed ``int``."""
    crc = 0
    for line in _LINE_BREAK.split(text.removeprefix(_BOM)):
        crc = zlib.crc32(line.encode("utf-8"), crc)
    return str(crc - (1 << 32) if crc >= 1 << 31 else crc)


def parse_name(name: str) -> tuple[str, str, str] | None:
    """(prefix ``V`` or ``U``, version as Flyway records it, description) of a migration file's
    name; None for a file Flyway's scan never runs (a README, a .gitkeep); a PolyalembicError for
    one Flyway would run otherwise than once, in version order."""
    if name.endswith(".sql.conf"):
        raise _refuse(name, "a per-script configuration (Flyway reads it beside the script): polyalembic has "
                            "none; put `-- polyalembic: no-transaction` first in the file for "
                            "executeInTransaction=false, then move this one out of the folder")
    if not name.endswith(".sql"):
        return None
    match = _NAME.fullmatch(name)
    if match:
        if match["prefix"] == "B":
            raise _refuse(name, "a baseline migration (Flyway runs it instead of the V files up to its version on "
                                "an empty database): polyalembic has none; move it out of the folder")
        return match["prefix"], match["version"].replace("_", "."), match["description"].replace("_", " ")
    if _REPEATABLE.fullmatch(name):
        raise _refuse(name, "a repeatable migration (Flyway runs it again whenever it changes): polyalembic has "
                            "none; make it a V file or move it out of the folder")
    callback = _CALLBACK.fullmatch(name)
    if callback:
        raise _refuse(name, f"a Flyway callback (runs at every {callback['event']}, not once): polyalembic has "
                            "no callbacks; move it out of the folder (a revision can run its statements)")
    raise _refuse(name, "not a migration name Flyway runs (V<version>__<description>.sql, the version digits "
                        "with . or _): Flyway would skip it; rename it or move it out of the folder")


def _read(path: Path) -> str:
    text = read_utf8(path, "flyway", "Flyway reads SQL files as UTF-8 by default")
    placeholder = _PLACEHOLDER.search(text)
    if placeholder:
        line = text.count("\n", 0, placeholder.start()) + 1
        raise _refuse(path.name, f"line {line} has the placeholder {placeholder[0]}, which Flyway replaces when it "
                                 "runs the file and polyalembic would not: write the value in its place (then "
                                 "`flyway repair` records the file's new checksum), then adopt")
    return text


def outside_transaction(text: str) -> bool:
    """True for a file Flyway runs outside a transaction (a statement that can't run in one)."""
    return bool(_NON_TRANSACTIONAL.search(_COMMENTS.sub("", text).replace(";", ";\n")))


def foreign_migrations(folder: Path) -> list[ForeignMigration]:
    """Flyway's versioned migrations in ``folder`` in version order, each with its undo file's text."""
    versioned: dict[tuple[int, ...], tuple[Path, str, str]] = {}
    undo: dict[tuple[int, ...], Path] = {}
    for path in tool_files(folder, "flyway", "Flyway's files (its filesystem: location)", "V...sql"):
        parsed = parse_name(path.name)
        if parsed is None:
            continue
        prefix, version, description = parsed
        key = version_key(version)
        other = versioned[key][0] if prefix == "V" and key in versioned else undo.get(key) if prefix == "U" else None
        if other is not None:
            raise _refuse(path.name, f"has version {version}, as {other.relative_to(folder)} has: Flyway refuses "
                                     "two migrations of one version; rename one")
        if prefix == "V":
            versioned[key] = (path, version, description)
        else:
            undo[key] = path
    for key, path in undo.items():
        if key not in versioned:
            raise _refuse(path.name, "undoes a version no V file has: rename it to its V file's version or move it "
                                     "out of the folder")
    if not versioned:
        raise PolyalembicError(f"adopt flyway: {folder}: no V<version>__<description>.sql file in it")
    found = []
    for key in sorted(versioned):
        path, version, description = versioned[key]
        text = _read(path)
        down = _read(undo[key]).removeprefix(_BOM) if key in undo else None
        up = text.removeprefix(_BOM)
        if outside_transaction(up):  # as Flyway runs it; its checksum stays the file's
            up = f"{NO_TRANSACTION}\n{up}"
        found.append(ForeignMigration(version=version, name=snake_case(description), source=path.name,
                                      up=up, down=down, checksum=checksum(text)))
    return found


_ELSEWHERE = """
SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = :name AND c.relkind IN ('r', 'p') ORDER BY 1
"""
_HISTORY = f"""
SELECT installed_rank, version, description, type, script, checksum, installed_on, success
FROM {HISTORY_TABLE} ORDER BY installed_rank
"""


def foreign_applied(connection: Any) -> list[ForeignApplied]:
    """What Flyway recorded in the current schema's ``flyway_schema_history``, in the order it ran:
    [] when there is none anywhere; one line when the only one is in another schema (Flyway's
    ``schemas`` set, which polyalembic does not read: taking it for none would run it all again);
    a successful undo or delete row takes back its version's earlier row, a failed one stays a
    failed row (refused)."""
    import sqlalchemy as sa

    if not connection.execute(sa.text(f"SELECT {in_current_schema(HISTORY_TABLE)}")).scalar():
        elsewhere = connection.execute(sa.text(_ELSEWHERE), {"name": HISTORY_TABLE}).scalars().all()
        if elsewhere:
            raise PolyalembicError(f"adopt flyway: Flyway's {HISTORY_TABLE} is in schema {', '.join(elsewhere)}, not "
                                   "in the current schema of the store's database (Flyway's `schemas` setting): "
                                   "point the store there (options=-csearch_path=<schema> in its DSN), then adopt; "
                                   "nothing was changed")
        return []
    rows = connection.execute(sa.text(_HISTORY)).all()
    applied: dict[tuple[int, ...], ForeignApplied] = {}
    for row in rows:
        if row.version is None:  # a repeatable migration's run, or the schema Flyway created
            continue
        key = version_key(row.version)
        if row.type in _TAKEN_BACK and row.success:
            applied.pop(key, None)
            continue
        applied[key] = ForeignApplied(version=row.version, checksum=None if row.checksum is None else str(row.checksum),
                                      applied_at=row.installed_on, success=bool(row.success),
                                      recorded_as=row.script or row.description or row.version,
                                      baseline=row.type.endswith("BASELINE"))
    return list(applied.values())
