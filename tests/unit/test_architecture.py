"""The layers hold by the imports themselves (import-linter's contracts in pyproject.toml), not by
words in the source: the core reaches a store only through the registry and the contract, a store
imports no command, CLI, run-driving module or ledger, the ledger imports no store (it is handed
the SQL store it lives in), and no subpackage imports one that imports it back. Shown failing on
planted imports."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` with the project's contracts over the ``polyalembic`` found in ``package_parent``."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run([str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml"), "--no-cache"], env=env,
                          capture_output=True, text=True, timeout=120, cwd=package_parent)


def test_the_contracts_hold() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "4 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(("module", "planted", "broken"), [
    ("commands/status.py", "import neo4j  # noqa", "polyalembic.commands is not allowed to import neo4j"),
    ("ledger/reads.py", "from polyalembic.stores.postgres import introspect  # noqa",
     "polyalembic.ledger is not allowed to import polyalembic.stores.postgres"),
    ("stores/neo4j/impl.py", "from polyalembic.commands import status  # noqa",
     "polyalembic.stores is not allowed to import polyalembic.commands"),
    ("ledger/reads.py", "from polyalembic.cli import main  # noqa", "No cycles are allowed in polyalembic."),
    ("ledger/writes.py", "from polyalembic.stores.sql import literals  # noqa",
     "polyalembic.ledger is not allowed to import polyalembic.stores"),
])
def test_a_planted_import_breaks_its_contract(tmp_path: Path, module: str, planted: str, broken: str) -> None:
    shutil.copytree(REPO / "polyalembic", tmp_path / "polyalembic", ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "polyalembic" / module
    target.write_text(target.read_text() + f"\n{planted}\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout[-3000:]
    assert broken in " ".join(result.stdout.split()), result.stdout[-3000:]


def test_only_the_stores_import_a_sql_dialect() -> None:
    """The ledger is written through the dialect facts of the SQL store it is handed (``SqlStore``:
    PostgreSQL's in stores/postgres/dialect.py); import-linter can't forbid a subpackage of an
    external package, so this reads the imports."""
    import ast

    package = REPO / "polyalembic"
    found = []
    for path in sorted(package.rglob("*.py")):
        if path.relative_to(package).parts[0] == "stores":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{path.relative_to(package)}: {n}" for n in names if n.startswith("sqlalchemy.dialects")]
    assert found == []


def lazy_imports_unexplained(package: Path) -> list[str]:
    """Modules of ``package`` that import inside a function without saying why in their
    docstring (a ``Lazy imports:`` sentence): such an import hides a dependency, so it must earn
    its place (start-up time, a cycle) and say so."""
    import ast

    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text())
        functions = [f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)]
        lazy = [node.lineno for function in functions for node in ast.walk(function)
                if isinstance(node, ast.Import | ast.ImportFrom)]
        if lazy and "Lazy imports: " not in (ast.get_docstring(tree) or ""):
            found.append(f"{path.relative_to(package)}:{lazy[0]}")
    return found


def test_every_import_inside_a_function_says_why() -> None:
    assert lazy_imports_unexplained(REPO / "polyalembic") == []


def test_the_check_finds_an_unexplained_lazy_import(tmp_path: Path) -> None:
    (tmp_path / "explained.py").write_text('"""x.\n\nLazy imports: json, for speed."""\n\ndef f():\n    import json\n')
    (tmp_path / "hidden.py").write_text('"""x."""\n\n\ndef f():\n    if True:\n        import json\n')
    assert lazy_imports_unexplained(tmp_path) == ["hidden.py:6"]
