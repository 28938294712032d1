"""Fixtures over the real local stack (started by the stack manager if it isn't running).

``tests/unit`` needs no server and starts none (``pytest tests/unit``, a few seconds). Every
other test runs against the stack. Every engine test gets fresh databases on the stack's
PostgreSQL server (one for the postgres store and the ledger, one with the timescaledb
extension: shape (b) of the README; tests/test_shapes.py covers the others) and starts from
empty Neo4j and ChromaDB stores. ``POLYALEMBIC_NEO4J=newest`` runs the tests against the newest
Neo4j release line instead of 5.26 LTS; ``POLYALEMBIC_TEST_<VAR>`` points a store at another
(disposable) server.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from polyalembic.project import Project  # noqa: E402
from polyalembic.settings import Settings, load_settings  # noqa: E402
from polyalembic.stores import STORES  # noqa: E402
from tests.scratch import create_database, drop_database, reset_stores  # noqa: E402

# a user's project of its own, with its own conftest: tests/test_plugin.py runs its pytest
collect_ignore = ["plugin_project"]

_SETTINGS: dict[str, str] = {}
TEST_VARIABLES = ("TIMESCALE_DSN", "NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "NEO4J_DATABASE")


def _stack_settings() -> dict[str, str]:
    """Start (or reuse) every stack service; the settings of PostgreSQL, the Neo4j line picked
    by ``POLYALEMBIC_NEO4J`` and ChromaDB."""
    from stack.manager import neo4j_service_name, service, up

    if not _SETTINGS:
        up(["all"], write_env=False)
        for name in ("postgres", neo4j_service_name(), "chromadb"):
            state = service(name).load_state()
            assert state, f"the stack did not start {name}"
            _SETTINGS.update(state.settings)
    return _SETTINGS


UNIT = REPO / "tests" / "unit"


def _unit_only(config: pytest.Config) -> bool:
    """True when pytest runs only the server-less layer (`pytest tests/unit`)."""
    paths = [Path(arg.split("::")[0]).resolve() for arg in config.args] or [Path.cwd()]
    return all(path.is_relative_to(UNIT) for path in paths)


def pytest_report_header(config: pytest.Config) -> list[str]:
    from stack.manager import SERVICES, neo4j_service_name, service

    if _unit_only(config):
        return ["stack: not needed (tests/unit runs without servers)"]
    _stack_settings()
    lines = []
    for name in SERVICES:
        state = service(name).load_state()
        if state:
            used = " <- these tests" if name == neo4j_service_name() else ""
            lines.append(f"stack: {name} {state.version} on 127.0.0.1:{state.port} (pid {state.pid}){used}")
    return lines


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    """The stack's settings; ``POLYALEMBIC_TEST_<VAR>`` points a store at another (disposable!)
    server: the tests empty it. The plain TIMESCALE_DSN etc. are ignored on purpose, so that a
    deployment's environment can never be wiped by `make test`."""
    env = dict(_stack_settings())
    for key in TEST_VARIABLES:
        if os.environ.get(f"POLYALEMBIC_TEST_{key}"):
            env[key] = os.environ[f"POLYALEMBIC_TEST_{key}"]
    return load_settings(env=env)


@pytest.fixture
def admin_dsn() -> str:
    """The stack's PostgreSQL database, from which tests create their own databases."""
    return _stack_settings()["TIMESCALE_DSN"]


@pytest.fixture
def settings(base_settings: Settings, admin_dsn: str) -> Iterator[Settings]:
    """New databases for the postgres store (with the ledger) and the timescaledb store (unless
    POLYALEMBIC_TEST_TIMESCALE_DSN names a server: then that one is emptied); empty other stores."""
    created = [create_database(admin_dsn, prefix="pa_test")]
    if os.environ.get("POLYALEMBIC_TEST_TIMESCALE_DSN"):
        timescale = base_settings.database_url("timescaledb")
        reset_stores(base_settings, ("timescaledb",))
    else:
        timescale = create_database(admin_dsn, prefix="pa_ts", extensions=("timescaledb",))
        created.append(timescale)
    reset_stores(base_settings)
    yield base_settings.replace(POSTGRES_DSN=created[0], TIMESCALE_DSN=timescale)
    _scan_ledger(created[0])
    for dsn in created:
        drop_database(admin_dsn, dsn)


@pytest.fixture(autouse=True)
def _registry_as_built() -> Iterator[None]:
    """Each test starts with the built-in stores only: a store an entry point brought in (the
    packaged one a test names) is unregistered after it, and the entry points read afresh."""
    from polyalembic import stores

    yield
    for name in [n for n in stores.STORES if n not in stores._BUILT_IN]:
        stores.unregister(name)
    stores._loaded["entry points"] = False


# --- the session-wide secret scan ------------------------------------------------------------------
# Everything the tests captured (stdout, stderr, log records) and every ledger error text is scanned
# for the passwords of the stack and of the tests; the session fails if one appears anywhere.
TEST_SECRETS = ("hunter22", "secret-pw", "hunter2-catalogue")
_SCANNED: list[tuple[str, str]] = []


def _scan_ledger(dsn: str) -> None:
    import psycopg

    from polyalembic.stores.postgres.dsn import libpq_dsn

    with psycopg.connect(libpq_dsn(dsn)) as conn:
        for table, wanted in (("schema_migrations", ("error", "failed_step")), ("schema_migrations_audit", ("error",))):
            present = {r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns WHERE "
                                                  "table_name = %s", (table,))}
            columns = ", ".join(c for c in wanted if c in present)  # another tool's table of that name: none
            if columns:
                for row in conn.execute(f"SELECT concat_ws(' ', {columns}) FROM {table}"):
                    _SCANNED.append((f"{table} of {dsn.rsplit('/', 1)[1]}", row[0] or ""))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for section, text in report.sections:
        _SCANNED.append((f"{report.nodeid} {section}", text))


def _secrets() -> set[str]:
    from polyalembic.stores.postgres.dsn import password_of

    found = set(TEST_SECRETS)
    for key, value in _SETTINGS.items():
        if key.endswith("PASSWORD"):
            found.add(value)
        elif key.endswith("_DSN") and password_of(value):
            found.add(password_of(value))
    return {s for s in found if s and len(s) >= 6}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    secrets = _secrets()
    leaks = sorted({where for where, text in _SCANNED for secret in secrets if secret in text})
    if leaks:
        print(f"\nsecret scan: a password appears in {len(leaks)} captured output(s): {'; '.join(leaks[:10])}")
        session.exitstatus = 1
    elif _SCANNED:
        print(f"\nsecret scan: {len(_SCANNED)} captured outputs and ledger texts, no password in any")


@pytest.fixture
def project(settings: Settings) -> Project:
    """The repository's own migrations (the seed's set) against the test stores."""
    return Project(REPO / "alembic.ini", settings=settings)


@pytest.fixture
def project_copy(settings: Settings, tmp_path: Path) -> Project:
    """A copy of the migrations and alembic.ini in tmp_path, free to edit."""
    shutil.copytree(REPO / "migrations", tmp_path / "migrations",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "alembic.ini", tmp_path / "alembic.ini")
    return Project(tmp_path / "alembic.ini", settings=settings)


@pytest.fixture
def ops_project(project_copy: Project) -> Project:
    """The project copy without the seed's revisions: the chain holds only what a test writes."""
    for path in project_copy.migrations_dir.glob("*/[0-9]*"):
        path.unlink()
    return project_copy


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as the environment variables a subprocess (CLI, alembic) reads."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("POSTGRES_", "TIMESCALE_", "NEO4J_", "CHROMA_", "POLYALEMBIC_"))}
    env.update(settings.env)
    env["PYTHONPATH"] = str(REPO)
    return env


def plugin_test_env(settings: Settings) -> dict[str, str]:
    """The environment of a subprocess whose polyalembic pytest plugin uses ``settings``' servers,
    through the ``POLYALEMBIC_TEST_*`` variables (and no deployment variable)."""
    env = settings_env(Settings({}))
    env.update({f"POLYALEMBIC_TEST_{key}": value for key, value in settings.env.items()})
    return env


__all__ = ["REPO", "STORES", "reset_stores", "settings_env"]
