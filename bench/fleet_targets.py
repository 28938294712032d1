"""A fleet's targets on the local stack, of several kinds, for the fleet benches: what each kind
owns (made afresh and dropped here), the variables a fleet file gives it, where its tables and
its ledger are, and what its stores and ledger hold, read through those (so a comparison of two
targets of a kind needs nothing kind-specific).

A kind is a ``Target`` subclass. Three are built: a tenant's own PostgreSQL database holding its
tables and its ledger (tests/test_fleet.py's), one whose ledger (and lock) is a database of its
own, and a tenant's schema of a database the schema targets share (``POSTGRES_SCHEMA``: its
tables, ledger, version table and markers in its schema).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import chromadb  # noqa: E402
import psycopg  # noqa: E402
from psycopg.conninfo import conninfo_to_dict  # noqa: E402

from polyalembic.settings import Settings, Variables, load_settings  # noqa: E402
from polyalembic.stores import get_store  # noqa: E402
from polyalembic.stores.connections import StoreConnections  # noqa: E402
from polyalembic.stores.postgres.dsn import libpq_dsn  # noqa: E402

#: the database the schema targets of a run share
SHARED_DATABASE = "fleet_crash_schemas"


@dataclass(frozen=True)
class Place:
    """Where a target keeps something in PostgreSQL: a database, and a schema in it (None: its
    search path's default, public)."""

    database: str
    schema: str | None = None


class Server:
    """The stack's PostgreSQL and Chroma servers, as their admin: makes and drops what targets own."""

    def __init__(self) -> None:
        self.settings = load_settings(env_file=REPO / ".stack" / "stack.env")
        self.admin = self.settings.database_url("postgres")
        if not self.admin:
            sys.exit("bench: the local stack is not running (make services-up)")
        info = conninfo_to_dict(libpq_dsn(self.admin))
        self.password = str(info["password"])
        self.address = f"{info['user']}:{{password}}@{info['host']}:{info['port']}"
        self.chroma_host, self.chroma_port = self.settings.env["CHROMA_HOST"], self.settings.env["CHROMA_PORT"]
        self.chroma = chromadb.AdminClient(chromadb.Settings(
            chroma_api_impl="chromadb.api.fastapi.FastAPI", chroma_server_host=self.chroma_host,
            chroma_server_http_port=int(self.chroma_port)))
        # Chroma's own SQLite refuses a second database made or dropped at once ("database is locked")
        self._chroma_lock = threading.Lock()
        self._shared_lock = threading.Lock()
        self._shared_made = False

    def shared_database(self) -> str:
        """The database the schema targets share, made once (empty) the first time it is asked for."""
        with self._shared_lock:
            if not self._shared_made:
                self.remake_databases([SHARED_DATABASE])
                self._shared_made = True
        return SHARED_DATABASE

    def drop_shared(self) -> None:
        self.remake_databases([SHARED_DATABASE], fresh=False)

    def url(self, database: str, password: str | None = None) -> str:
        """A database's URL, with ``password`` (default: the real one; the fleet file gives ``${VAR}``)."""
        return f"postgresql://{self.address.format(password=password or self.password)}/{database}"

    @contextmanager
    def connect(self, place: Place) -> Iterator[psycopg.Connection[Any]]:
        options = {"options": f"-csearch_path={place.schema}"} if place.schema else {}
        with psycopg.connect(libpq_dsn(self.url(place.database)), autocommit=True, **options) as conn:
            yield conn

    def remake_databases(self, names: list[str], fresh: bool = True) -> None:
        """Drop ``names`` (PostgreSQL databases), and make them again empty when ``fresh``."""
        with psycopg.connect(libpq_dsn(self.admin), autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                if fresh:
                    conn.execute(f'CREATE DATABASE "{name}"')

    def remake_chroma(self, names: list[str], fresh: bool = True) -> None:
        """Drop the Chroma databases ``names``, and make them again empty when ``fresh``."""
        with self._chroma_lock:
            existing = {d["name"] for d in self.chroma.list_databases()}
            for name in names:
                if name in existing:
                    self.chroma.delete_database(name)
                if fresh:
                    self.chroma.create_database(name)


class Target:
    """A tenant's own PostgreSQL database (its tables, ledger and lock) and Chroma database."""

    kind = "database"

    def __init__(self, server: Server, name: str) -> None:
        self.server, self.name = server, name

    def databases(self) -> list[str]:
        """The PostgreSQL databases the target owns."""
        return [self.name]

    def remake(self, fresh: bool = True) -> None:
        """Drop what the target owns (its databases, its Chroma database) and, when ``fresh``,
        make it again, empty: a trial's target starts from nothing, as a new tenant does."""
        self.server.remake_databases(self.databases(), fresh)
        self.server.remake_chroma([self.name], fresh)

    def variables(self, password: str | None = None) -> dict[str, str]:
        """Its connection variables, as the fleet file gives them (``password``: the text that
        stands for the password there) or as its runs get them (the real one)."""
        return {"POSTGRES_DSN": self.server.url(self.name, password), "CHROMA_HOST": self.server.chroma_host,
                "CHROMA_PORT": self.server.chroma_port, "CHROMA_DATABASE": self.name}

    def connections(self) -> StoreConnections:
        """Its stores, reached with its variables only (as its fleet run reaches them)."""
        return StoreConnections(Settings(Variables(self.variables())))

    def tables(self) -> Place:
        """Where its PostgreSQL store's tables (and step markers) are."""
        return Place(self.name)

    def ledger(self) -> Place:
        return Place(self.name)


class LedgerApartTarget(Target):
    """As ``Target``, with its ledger (and lock) in a database of its own: each PostgreSQL
    migration commits with its step marker in the tenant's database, then the ledger hears."""

    kind = "ledger apart"

    def databases(self) -> list[str]:
        return [self.name, f"{self.name}_ledger"]

    def variables(self, password: str | None = None) -> dict[str, str]:
        return super().variables(password) | {"POLYALEMBIC_LEDGER_DSN": self.server.url(f"{self.name}_ledger",
                                                                                        password)}

    def ledger(self) -> Place:
        return Place(f"{self.name}_ledger")


class SchemaTarget(Target):
    """A tenant's schema of the database the schema targets share: its tables, ledger, Alembic
    version table, step markers and lock are its schema's; its Chroma database is its own."""

    kind = "schema"

    def databases(self) -> list[str]:
        return []

    def remake(self, fresh: bool = True) -> None:
        """Drop its schema (its first run makes it again) and its Chroma database."""
        with self.server.connect(Place(self.server.shared_database())) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')
        self.server.remake_chroma([self.name], fresh)

    def variables(self, password: str | None = None) -> dict[str, str]:
        return super().variables(password) | {"POSTGRES_DSN": self.server.url(SHARED_DATABASE, password),
                                               "POSTGRES_SCHEMA": self.name}

    def tables(self) -> Place:
        return Place(SHARED_DATABASE, self.name)

    def ledger(self) -> Place:
        return Place(SHARED_DATABASE, self.name)


#: the kinds of target a fleet holds, in turn
KINDS: tuple[type[Target], ...] = (Target, LedgerApartTarget, SchemaTarget)


def fleet_file(path: Path, targets: list[Target], options: str, password_variable: str) -> Path:
    """A fleet file with ``options`` (its ``[fleet]`` lines) and every target spelled out (each
    kind sets its own variables), the password read from ``${password_variable}``."""
    lines = [f"[fleet]\n{options}\n"]
    for target in targets:
        lines.append(f'[[target]]\nname = "{target.name}"')
        lines += [f'{key} = "{value}"' for key, value in target.variables("${" + password_variable + "}").items()]
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def has_table(conn: psycopg.Connection[Any], name: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]  # type: ignore[index]



def snapshots(connections: StoreConnections, stores: tuple[str, ...] = ("postgres", "chromadb")) -> dict[str, Any]:
    """Each store's own snapshot of a target (PostgreSQL's catalog queries of its schema,
    Chroma's collections and their configuration and metadata), on its ``connections``."""
    return {store: get_store(store).snapshot(connections.get(store)) for store in stores}


def ledger_state(target: Target) -> dict[str, Any]:
    """The target's ledger rows (revision, status), its audit's ``upgrade`` rows per revision, and
    the step markers left of migrations not applied (a marker may outlive its migration's row
    until the next run that touches its store: inert then; one of a migration not applied would
    not be)."""
    with target.server.connect(target.tables()) as conn:
        marked = {row[0] for row in conn.execute("SELECT DISTINCT revision FROM schema_migrations_steps")} \
            if has_table(conn, "schema_migrations_steps") else set()
    with target.server.connect(target.ledger()) as conn:
        rows = conn.execute("SELECT revision, status FROM schema_migrations ORDER BY revision").fetchall()
        upgrades = dict(conn.execute(  # type: ignore[arg-type]
            "SELECT revision, count(*) FROM schema_migrations_audit WHERE action = 'upgrade' GROUP BY revision"))
    applied = {revision for revision, status in rows if status == "applied"}
    return {"ledger": rows, "upgrades": upgrades, "markers of unapplied migrations": sorted(marked - applied)}


def running_stores(targets: list[Target]) -> list[str]:
    """The store of each migration the targets' ledgers hold ``running`` (what a kill left)."""
    stores = []
    for target in targets:
        with target.server.connect(target.ledger()) as conn:
            if has_table(conn, "schema_migrations"):
                stores += [r[0] for r in conn.execute(
                    "SELECT database_type FROM schema_migrations WHERE status = 'running'")]
    return sorted(stores)
