"""The Alembic internals polyalembic relies on, against the installed Alembic: if a release
changes them, these fail loudly (see polyalembic/runtime/alembic_internals.py)."""

from __future__ import annotations

from alembic import op as op_proxy
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext

from polyalembic.runtime.alembic_internals import operations_on, planned_revisions


def _offline_context(**opts: object) -> MigrationContext:
    return MigrationContext.configure(dialect_name="postgresql", opts={"as_sql": True, **opts})


def test_planned_revisions_reads_the_step_function_of_upgrade_and_downgrade_only() -> None:
    class Script:
        def __init__(self, revision: str) -> None:
            self.revision = revision

    class Step:
        def __init__(self, revision: str) -> None:
            self.revision = Script(revision)

    def upgrade(heads: object, context: object) -> list[Step]:
        return [Step("a_001"), Step("a_002")]

    def current(heads: object, context: object) -> list[Step]:
        raise AssertionError("`current` must not be called: it prints")

    context = _offline_context(fn=upgrade)
    assert context._migrations_fn is upgrade  # the attribute the adapter reads
    assert planned_revisions(context) == ["a_001", "a_002"]
    assert planned_revisions(_offline_context(fn=current)) is None
    assert planned_revisions(_offline_context()) is None


def test_operations_on_points_op_at_a_context_and_back_at_the_outer_one() -> None:
    outer, inner = _offline_context(), _offline_context()
    with Operations.context(outer):
        assert op_proxy.get_context() is outer
        with operations_on(inner) as operations:
            assert op_proxy.get_context() is inner
            assert operations.migration_context is inner
        assert op_proxy.get_context() is outer  # restored, not removed
        assert hasattr(op_proxy, "_proxy")
