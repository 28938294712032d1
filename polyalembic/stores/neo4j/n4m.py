"""neo4j-migrations (n4m, 2.19.2) as the Neo4j store reads it, for ``polyalembic adopt n4m DIR``.

The folder: what n4m's filesystem scan would run (``ResourceDiscoverer``: every regular file
below the folder, recursively) is each ``V<version>__<description>.cypher`` file, ordered by
n4m's default ``LEXICOGRAPHIC`` comparator (the version's string, ``_`` read as ``.``); the
checksum is its ``DefaultCypherResource.computeChecksum``, reproduced exactly (below). What n4m
would run differently from polyalembic, or skip without a word, is refused with one line naming
the file: repeatable (``R``), catalog (``.xml``) and Java-based migrations, callbacks
(``afterMigrate.cypher``...), preconditions (``// assume that ...``), ``:use`` database switches,
names n4m skips (``v1__x.cypher``, ``V1_x.cypher``, a non-ASCII or hyphenated description).

The store: n4m's chain, ``(:__Neo4jMigration {version: 'BASELINE'})-[:MIGRATED_TO {at, in, by,
connectedAs}]->(:__Neo4jMigration {version, description, checksum, type, repeatable, source})``
(``migrationTarget`` set only when n4m kept the chain in another "schema database"), a
``REPEATED`` self-relationship per re-run of a changed repeatable, and a
``:__Neo4jMigrationsLock`` node while it runs. Its constraints and index (``BOOKKEEPING``) are
never the store's schema: the snapshot leaves them out and ``drop_all`` keeps them with the
chain; :func:`drop_history` (tests only) removes it all.

Lazy imports: none; the graph handle (``GraphConnection``) brings the driver.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path
from typing import Any

from polyalembic.errors import PolyalembicError
from polyalembic.stores.contract import ForeignApplied, ForeignMigration
from polyalembic.stores.foreign_files import read_utf8, snake_case, tool_files
from polyalembic.stores.neo4j.cypher import CYPHER_VERSION_PREFIX, quote_name, split_statements

TOOL_TITLE = "neo4j-migrations"
#: n4m's labels, relationship types and schema objects (``Migrations``, ``MigrationsLock``)
CHAIN_LABEL = "__Neo4jMigration"
LOCK_LABEL = "__Neo4jMigrationsLock"
LABELS = (CHAIN_LABEL, LOCK_LABEL)
BOOKKEEPING = frozenset({
    "unique_version___Neo4jMigration",          # UNIQUE (version, migrationTarget) on :__Neo4jMigration
    "repeated_at__Neo4jMigration",              # RANGE index on [:REPEATED].at
    "__Neo4jMigrationsLock__has_unique_id",     # UNIQUE id on :__Neo4jMigrationsLock
    "__Neo4jMigrationsLock__has_unique_name",   # UNIQUE name on :__Neo4jMigrationsLock
})

# MigrationVersion.VERSION_PATTERN; Java's \w is ASCII: a "café" description is no match
_VERSION = re.compile(r"(?P<type>[VR])(?P<version>\d+(?:_\d+)*|\d+(?:\.\d+)*)__(?P<name>[\w ]+)(?:\.(?P<ext>\w+))?",
                      re.ASCII)
# LifecyclePhase.LIFECYCLE_PATTERN (found anywhere in the name, like n4m's ``find``)
_PHASES = ("beforeFirstUse", "beforeMigrate", "afterMigrate", "beforeClean", "afterClean",
           "beforeValidate", "afterValidate", "beforeInfo", "afterInfo")
_CALLBACK = re.compile(rf"({'|'.join(_PHASES)})(?:__([\w ]+))?(?:\.cypher)?", re.ASCII)
# DefaultCypherResource.CYPHER_STATEMENT_DELIMITER (``;`` then Strings.LINE_DELIMITER)
_DELIMITER = re.compile(r";(?:\r?\n|\r)")
# Precondition: ``// assume that ...``, ``// assert in target q' ...`` (case-insensitive)
_PRECONDITION = re.compile(r"(?i)// *(assume|assert)(?: in (?:schema|target))? (that|q')")
# DefaultCypherResource.USE_DATABASE_EXPRESSION, loosely: any ``:use <name>``
_USE = re.compile(r"(?i):use +\S")
# Java's String.trim(): every char <= U+0020 at either end
_JAVA_WHITESPACE = "".join(map(chr, range(0x21)))
# what Java's ``$`` (no MULTILINE) also matches before, at the very end of the input
_FINAL_TERMINATORS = ("\u0085", "\u2028", "\u2029")
_BOM = "\ufeff"


def _refuse(name: str, why: str) -> PolyalembicError:
    return PolyalembicError(f"adopt n4m: {name}: {why}")


# -- the folder ---------------------------------------------------------------------------------
def statements(text: str) -> list[str]:
    """n4m's ``DefaultCypherResource.readStatements`` with its defaults (autocrlf off): the text
    split on ``;`` + line break, each piece trimmed the Java way, one final ``;`` dropped, empty
    pieces left out. A comment-only piece counts (it is in the checksum, though never run); a
    leading BOM stays in the first piece, as n4m's UTF-8 ``Scanner`` keeps it."""
    found = []
    for piece in _DELIMITER.split(text):
        statement = piece.strip(_JAVA_WHITESPACE)
        if statement.endswith(";"):
            statement = statement[:-1]
        elif statement.endswith(_FINAL_TERMINATORS) and statement[:-1].endswith(";"):
            statement = statement[:-2] + statement[-1]
        statement = statement.strip(_JAVA_WHITESPACE)
        if statement:
            found.append(statement)
    return found


def checksum(text: str) -> str:
    """n4m's checksum of a Cypher file: CRC-32 over the UTF-8 bytes of its statements (as
    :func:`statements` reads them) one after the other, nothing between them, as an unsigned
    decimal (``Long.toString(crc32.getValue())``)."""
    crc = 0
    for statement in statements(text):
        crc = zlib.crc32(statement.encode("utf-8"), crc)
    return str(crc)


def parse_name(name: str) -> tuple[str, str] | None:
    """(version as n4m prints it, description) of a versioned migration file's name; None for a
    file n4m's scan never looks at (a README, a .gitkeep); a PolyalembicError for one it would run
    otherwise than as a versioned Cypher migration, or skip though it looks like one."""
    match = _VERSION.fullmatch(name)
    if match:
        ext = match["ext"]
        if match["type"] == "R":
            raise _refuse(name, "a repeatable migration (n4m runs it again whenever it changes): polyalembic "
                                "has none; make it a V file or move it out of the folder")
        if ext == "cypher":
            return match["version"].replace("_", "."), match["name"].replace("_", " ")
        if ext == "xml":
            raise _refuse(name, "a catalog-based (XML) migration: polyalembic adopts only .cypher files; "
                                "write it as Cypher or move it out of the folder")
        if ext in ("java", "class", "kt"):
            raise _refuse(name, "a Java-based migration (n4m runs compiled classes from --package, never "
                                "this file): polyalembic can't adopt one; move it out of the folder")
        raise _refuse(name, f"n4m runs only V<version>__<description>.cypher files and would skip this one "
                            f"({'no extension' if ext is None else f'.{ext}'}): rename it or move it out")
    if not name.lower().endswith(".cypher"):
        return None
    callback = _CALLBACK.search(name)
    if callback:
        raise _refuse(name, f"a neo4j-migrations callback (runs at every {callback[1]}, not once): polyalembic "
                            "has no callbacks; move it out of the folder (a revision can run its statements)")
    raise _refuse(name, "not a migration name n4m runs (V<version>__<description>.cypher; the version digits "
                        "with . or _, the description ASCII letters, digits, _ and spaces): n4m would skip or "
                        "refuse it; rename it or move it out of the folder")


def _read(path: Path) -> str:
    return read_utf8(path, "n4m", "n4m reads Cypher files as UTF-8")


def _leading_comments(statement: str) -> list[str]:
    """The ``//`` lines a statement starts with (``DefaultCypherResource.getSingleLineComments``):
    where n4m looks for preconditions."""
    found = []
    for line in re.split(r"\r?\n|\r", statement.removeprefix(_BOM)):
        if not line.strip().startswith("//"):
            break
        found.append(line.strip())
    return found


def _check_statements(name: str, text: str) -> None:
    """Refuse what n4m decides at run time and polyalembic can't (a precondition, a ``:use``) and
    a file with nothing to run."""
    for statement in statements(text):
        for comment in _leading_comments(statement):
            if _PRECONDITION.match(comment):
                raise _refuse(name, f"has a precondition ({comment[:60]}): n4m skips or fails the migration by "
                                    "the server's edition or version, polyalembic always runs it; remove the "
                                    "precondition (or the file)")
        if _USE.search(statement):
            raise _refuse(name, "switches database (:use): a polyalembic neo4j store runs in one database "
                                "(NEO4J_DATABASE); move those statements to the other database's project")
    if not split_statements(text.removeprefix(_BOM)):
        raise _refuse(name, "has no statement: write one or move the file out of the folder")


def foreign_migrations(folder: Path) -> list[ForeignMigration]:
    """n4m's versioned migrations in ``folder``, in the order n4m runs them."""
    found: dict[str, tuple[Path, ForeignMigration]] = {}
    for path in tool_files(folder, "n4m", "neo4j-migrations' files (its --location)", "V...cypher"):
        parsed = parse_name(path.name)
        if parsed is None:
            continue
        version, description = parsed
        if version in found:
            other = found[version][0]
            raise _refuse(path.name, f"has version {version}, as {other.relative_to(folder)} has: n4m refuses "
                                     "two migrations of one version; rename one")
        text = _read(path)
        _check_statements(path.name, text)
        found[version] = (path, ForeignMigration(version=version, name=snake_case(description), source=path.name,
                                                 up=text.removeprefix(_BOM), down=None, checksum=checksum(text)))
    if not found:
        raise PolyalembicError(f"adopt n4m: {folder}: no V<version>__<description>.cypher file in it")
    return [found[version][1] for version in sorted(found)]


# -- the store ----------------------------------------------------------------------------------
# every node of the chain that a MIGRATED_TO reaches, with the relationship that reached it and
# the latest re-run of a repeatable; the chain of the database itself (no migrationTarget) or the
# one n4m keeps for it from another schema database
_APPLIED = CYPHER_VERSION_PREFIX + f"""
MATCH (:{CHAIN_LABEL})-[r:MIGRATED_TO]->(m:{CHAIN_LABEL})
WHERE m.migrationTarget IS NULL OR m.migrationTarget = $database
OPTIONAL MATCH (m)-[again:REPEATED]->(m)
WITH m, r, again ORDER BY again.at DESC
WITH m, r, collect(again)[0] AS last
RETURN m.version AS version, coalesce(last.checksum, m.checksum) AS checksum,
       coalesce(last.at, r.at) AS at, r.at AS first, m.source AS source, m.description AS description
"""


def foreign_applied(graph: Any) -> list[ForeignApplied]:
    """What n4m recorded in the store's database, in the order it ran (the time of the
    ``MIGRATED_TO`` that reached each: an out-of-order migration n4m rewires into the chain by
    version keeps its own time). n4m records a migration only once it succeeded."""
    records, _, _ = graph.driver.execute_query(_APPLIED, database=graph.database.lower(), database_=graph.database)
    rows = sorted(records, key=lambda r: (r["first"] is None, _instant(r["first"]), str(r["version"])))
    return [ForeignApplied(version=str(r["version"]), checksum=r["checksum"], applied_at=_native(r["at"]),
                           success=True, recorded_as=r["source"] or r["description"] or str(r["version"]))
            for r in rows]


def _native(value: Any) -> Any:
    """A driver DateTime as Python's datetime (what the ledger holds)."""
    return value.to_native() if hasattr(value, "to_native") else value


def _instant(value: Any) -> Any:
    return _native(value) if value is not None else 0


def is_bookkeeping(name: str, labels: list[str] | None) -> bool:
    """True for one of n4m's constraints or indexes (by name, or on one of its labels)."""
    return name in BOOKKEEPING or any(label in LABELS for label in labels or ())


def drop_history(graph: Any) -> list[str]:
    """Remove n4m's chain, lock and schema objects (a test's reset: ``drop_all`` keeps them)."""
    dropped = []
    for kind, listing in (("constraint", "CONSTRAINTS"), ("index", "INDEXES")):
        records, _, _ = graph.driver.execute_query(f"{CYPHER_VERSION_PREFIX}SHOW {listing} YIELD name, labelsOrTypes",
                                                   database_=graph.database)
        for record in records:
            if is_bookkeeping(record["name"], record["labelsOrTypes"]):
                graph.driver.execute_query(f"DROP {kind.upper()} {quote_name(record['name'])} IF EXISTS",
                                           database_=graph.database)
                dropped.append(f"{kind} {record['name']}")
    _, summary, _ = graph.driver.execute_query(
        f"{CYPHER_VERSION_PREFIX}MATCH (n) WHERE n:{CHAIN_LABEL} OR n:{LOCK_LABEL} DETACH DELETE n",
        database_=graph.database)
    if summary.counters.nodes_deleted:
        dropped.append(f"{summary.counters.nodes_deleted} {TOOL_TITLE} nodes")
    return dropped
