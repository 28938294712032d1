"""The registry's static side of the store contract (the live side: tests/test_store_contract.py)."""

from __future__ import annotations

import inspect
import subprocess
import sys

from polyalembic.settings import Settings, connection_keys
from polyalembic.stores import STORES, Store, ledger_home, pair_ops
from tests.conftest import REPO


def test_every_registered_store_is_a_complete_store_under_its_own_name() -> None:
    for name, store in STORES.items():
        assert isinstance(store, Store) and store.name == name
        assert not inspect.isabstract(type(store)), name
        assert store.templates(), name
        store.register_ops()
        if store.pair_suffix:
            assert pair_ops()[store.pair_suffix] == store.pair_op


def test_each_variable_belongs_to_one_store_and_settings_read_only_those() -> None:
    keys = [key for store in STORES.values() for key in store.env_keys]
    assert len(keys) == len(set(keys))
    assert set(connection_keys()) == {"POLYALEMBIC_LEDGER_DSN", "POLYALEMBIC_LEDGER_SCHEMA", *keys}


def test_the_registry_declares_the_defaults_of_one_server_for_both_sql_stores() -> None:
    only_timescale = Settings({"TIMESCALE_DSN": "postgresql://u:p@db/app"})
    assert only_timescale.database_url("postgres") == "postgresql://u:p@db/app"
    assert only_timescale.ledger_dsn == "postgresql://u:p@db/app"
    assert only_timescale.shares_ledger_database("timescaledb")
    assert ledger_home() is STORES["postgres"]
    separate = only_timescale.replace(POLYALEMBIC_LEDGER_DSN="postgresql://u:p@db/ledger")
    assert separate.ledger_dsn.endswith("/ledger") and not separate.shares_ledger_database("postgres")
    assert not separate.shares_ledger_database("neo4j")


def test_importing_the_package_and_the_cli_loads_no_driver_no_alembic_and_no_rich() -> None:
    code = ("import sys, polyalembic.cli, polyalembic.stores; print(sorted({m.split('.')[0] for m in sys.modules} "
            "& {'alembic', 'sqlalchemy', 'neo4j', 'chromadb', 'rich'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


CORE = REPO / "polyalembic"


def test_the_core_names_no_store_outside_docstrings_and_comments() -> None:
    import ast

    names = {"postgres", "timescaledb", "neo4j", "chromadb", "chroma", "cypher", "hypertable"}
    found = []
    for path in sorted(CORE.rglob("*.py")):
        if path.is_relative_to(CORE / "stores"):
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body
                      and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            text = (node.value if isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in docstrings else node.id if isinstance(node, ast.Name) else
                    node.attr if isinstance(node, ast.Attribute) else "")
            words = set(text.lower().replace("_", " ").replace(".", " ").split())
            if words & names:
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {text[:60]!r}")
    assert found == []


def test_every_template_writes_the_typed_op_the_readme_recommends() -> None:
    """`from polyalembic import op` (README, "Installing"): the same op, with completion and types."""
    for name, store in STORES.items():
        for template in vars(store.templates()).values():
            if isinstance(template, str) and "import op" in template:
                assert "from polyalembic import op" in template and "from alembic import op" not in template, name


def test_the_core_imports_no_private_module_of_the_standard_library() -> None:
    """A private module (``_blake2``) may be renamed or gone in the next Python: use its public face."""
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parents[2] / "polyalembic"
    private = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            private += [f"{path.relative_to(package)}: {n}" for n in names if n.startswith("_") and n != "__future__"]
    assert private == []


def test_entry_points_are_read_only_for_a_store_the_registry_lacks() -> None:
    """Reading the seed's chain (built-in stores only) scans no installed package's metadata."""
    probe = ("import sys\n"
             "from polyalembic import stores\n"
             "from polyalembic.project import Project\n"
             "from polyalembic.settings import Settings\n"
             "Project(__import__('pathlib').Path(sys.argv[1]), settings=Settings({})).chain()\n"
             "before = stores._loaded['entry points']\n"
             "found = type(stores.get_store('analytics')).__module__\n"
             "print(before, stores._loaded['entry points'], found)\n")
    result = subprocess.run([sys.executable, "-c", probe, str(REPO / "alembic.ini")], capture_output=True,
                            text=True, timeout=60, cwd=REPO)
    assert result.stdout.split() == ["False", "True", "polyalembic_analytics.store"], result.stderr


def test_register_adds_a_store_and_refuses_a_name_taken_by_another_class() -> None:
    import pytest

    from polyalembic.errors import PolyalembicError
    from polyalembic.stores import STORES, get_store, register, unregister
    from polyalembic.stores.postgres.store import PostgresStore

    class Reports(PostgresStore):
        name = "reports"
        dsn_variables = env_keys = ("REPORTS_DSN",)

    class Impostor(PostgresStore):
        name = "reports"

    register(Reports())
    try:
        assert get_store("reports").name == "reports" and list(STORES)[:4] == ["postgres", "timescaledb", "neo4j",
                                                                                 "chromadb"]
        assert "REPORTS_DSN" in connection_keys()
        with pytest.raises(PolyalembicError, match=r"store .reports. is registered twice: .*Reports and .*Impostor"):
            register(Impostor())
        with pytest.raises(PolyalembicError, match=r"is not a polyalembic\.stores\.contract\.Store"):
            register("reports")  # type: ignore[arg-type]
    finally:
        unregister("reports")
    assert "reports" not in STORES
    unregister("postgres")  # a built-in store stays
    assert "postgres" in STORES


def test_settings_read_a_later_registered_store_s_variables_from_the_environment() -> None:
    from polyalembic.settings import load_settings
    from polyalembic.stores import register, unregister
    from polyalembic.stores.postgres.store import PostgresStore

    class Reports(PostgresStore):
        name = "reports"
        dsn_variables = env_keys = ("REPORTS_DSN",)

    settings = load_settings(env={"TIMESCALE_DSN": "postgresql://u@h/a", "REPORTS_DSN": "postgresql://u@h/r",
                                  "UNRELATED": "x"})
    assert "REPORTS_DSN" not in settings.env and "UNRELATED" not in settings.env
    register(Reports())
    try:
        assert settings.env["REPORTS_DSN"] == "postgresql://u@h/r"
        assert settings.database_url("reports") == "postgresql://u@h/r"
        assert "UNRELATED" not in settings.env
    finally:
        unregister("reports")
    assert dict(settings.env) == {"TIMESCALE_DSN": "postgresql://u@h/a"}
