"""``from polyalembic import op``: Alembic's ``op``, typed with polyalembic's ops (``op.pyi``).

Alembic's ``op`` proxy gains an attribute for every registered operation, but its stub knows only
Alembic's; a revision that imports ``op`` from here gets editor completion and type checks for
``op.create_graph_constraint``, ``op.create_collection``, ``op.create_hypertable``… Every
attribute is looked up on ``alembic.op`` when used, so this is the same object at run time.
"""

from __future__ import annotations

from typing import Any

from alembic import op as _alembic_op

from polyalembic.stores import register_all_ops

register_all_ops()


def __getattr__(name: str) -> Any:
    return getattr(_alembic_op, name)
