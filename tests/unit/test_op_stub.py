"""polyalembic/op.pyi against the ops the stores register: same names, same parameters.

The stub is generated (``python -m tests.unit.op_stub``) and committed; these tests fail while it
is stale, and check the generator itself against the classmethods' own signatures.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

from alembic.operations import Operations

import polyalembic
from polyalembic.stores import STORES, register_all_ops

STUB = Path(polyalembic.__file__).with_name("op.pyi")


def _registered() -> dict[str, ast.FunctionDef]:
    """Every op classmethod of the stores' ``ops`` modules, as its source AST, keyed by op name."""
    register_all_ops()
    modules = dict.fromkeys(m for store in STORES.values() for m in store.op_modules if m.endswith(".ops"))
    found: dict[str, ast.FunctionDef] = {}
    for name in modules:
        tree = ast.parse(inspect.getsource(importlib.import_module(name)))
        for cls in (node for node in tree.body if isinstance(node, ast.ClassDef)):
            for fn in cls.body:
                if (isinstance(fn, ast.FunctionDef) and hasattr(Operations, fn.name)
                        and any(getattr(d, "id", "") == "classmethod" for d in fn.decorator_list)):
                    found[fn.name] = fn
    return found


def _stubbed() -> dict[str, ast.FunctionDef]:
    tree = ast.parse(STUB.read_text())
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def _parameters(fn: ast.FunctionDef, skip: int) -> list[tuple[str, str, str | None]]:
    """(name, annotation, default) per parameter; ``...`` stands for any default, as stubs write it."""
    args = fn.args.args[skip:]
    defaults = [None] * (len(args) - len(fn.args.defaults)) + fn.args.defaults
    assert not (fn.args.vararg or fn.args.kwarg or fn.args.kwonlyargs), f"{fn.name}: only positional-or-keyword"
    return [(a.arg, ast.unparse(a.annotation) if a.annotation else "", ast.unparse(d) if d else None)
            for a, d in zip(args, defaults, strict=True)]


def test_the_stub_is_what_the_generator_writes_from_the_registered_ops() -> None:
    from tests.unit.op_stub import render

    assert STUB.read_text() == render(), "polyalembic/op.pyi is stale: run python -m tests.unit.op_stub"


def test_every_registered_op_is_in_the_stub_and_nothing_else() -> None:
    registered, stubbed = _registered(), _stubbed()
    assert len(registered) >= 27
    assert sorted(registered) == sorted(stubbed), "update polyalembic/op.pyi to the registered ops"


def test_stub_signatures_match_the_classmethods() -> None:
    stubbed = _stubbed()
    for name, fn in _registered().items():
        want = _parameters(fn, skip=2)  # cls, operations
        got = _parameters(stubbed[name], skip=0)
        assert [(n, a) for n, a, _ in got] == [(n, a) for n, a, _ in want], f"op.pyi: {name} parameters"
        for (param, _, stub_default), (_, _, default) in zip(got, want, strict=True):
            assert stub_default in (default, "..." if default else None), f"op.pyi: {name}({param}=…) default"
        assert ast.unparse(stubbed[name].returns) == ast.unparse(fn.returns), f"op.pyi: {name} return type"


def test_runtime_module_is_alembics_op() -> None:
    from alembic import op as alembic_op

    from polyalembic import op

    assert op.create_graph_constraint is alembic_op.create_graph_constraint
    assert op.create_table is alembic_op.create_table
    assert (STUB.parent / "py.typed").exists()
