"""Neo4j ops: run Cypher, create/drop named constraints and indexes (vector indexes included).

Every op renders Cypher text (``statements()``), so ``--sql`` prints it; the implementation in
``impl.py`` executes it with the driver. Names are required: Neo4j 5 drops schema by name only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.operations import MigrateOperation, Operations

from polyalembic.stores.neo4j.cypher import quote_name, split_statements


class CypherOp(MigrateOperation):
    """Base of the Neo4j ops. ``autocommit`` runs each statement in an auto-commit transaction.

    Every op says what it runs in ``statements()``: a subclass without it is refused when it is
    defined, not recorded as applied after running nothing."""

    autocommit = False
    parameters: dict[str, Any] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.statements is CypherOp.statements:
            raise TypeError(f"{cls.__qualname__}: a Neo4j op must define statements() (the Cypher it runs)")

    def statements(self) -> list[str]:
        raise TypeError(f"{type(self).__qualname__} defines no statements()")


def _pattern(label: str, relationship: bool, var: str = "n") -> str:
    return f"()-[{var}:{quote_name(label)}]-()" if relationship else f"({var}:{quote_name(label)})"


def _props(properties: list[str] | tuple[str, ...] | str, var: str = "n") -> str:
    props = [properties] if isinstance(properties, str) else list(properties)
    inner = ", ".join(f"{var}.{quote_name(p)}" for p in props)
    return inner if len(props) == 1 else f"({inner})"


@Operations.register_operation("run_cypher")
class RunCypherOp(CypherOp):
    """Run Cypher statements (``;``-separated). Schema statements and data writes never share a
    transaction: each schema statement runs alone, consecutive data writes share one."""

    def __init__(self, cypher: str, reverse_cypher: str | None = None,
                 parameters: dict[str, Any] | None = None, autocommit: bool = False) -> None:
        self.cypher, self.reverse_cypher = cypher, reverse_cypher
        self.parameters, self.autocommit = parameters, autocommit

    @classmethod
    def run_cypher(cls, operations: Operations, cypher: str, reverse_cypher: str | None = None,
                   parameters: dict[str, Any] | None = None, autocommit: bool = False) -> None:
        """Run ``cypher`` on the Neo4j store (``autocommit=True`` for CALL {} IN TRANSACTIONS)."""
        return operations.invoke(cls(cypher, reverse_cypher, parameters, autocommit))

    def statements(self) -> list[str]:
        return split_statements(self.cypher)

    def reverse(self) -> RunCypherOp:
        if self.reverse_cypher is None:
            raise ValueError("run_cypher needs reverse_cypher to be reversed")
        return RunCypherOp(self.reverse_cypher, self.cypher, self.parameters, self.autocommit)


@Operations.register_operation("run_cypher_file")
class RunCypherFileOp(CypherOp):
    """Run a ``.cql`` file (the plain-pair form of a Neo4j migration)."""

    def __init__(self, path: str, reverse_path: str | None = None) -> None:
        self.path, self.reverse_path = path, reverse_path

    @classmethod
    def run_cypher_file(cls, operations: Operations, path: str, reverse_path: str | None = None) -> None:
        """Run the Cypher file at ``path``."""
        return operations.invoke(cls(path, reverse_path))

    def statements(self) -> list[str]:
        return split_statements(Path(self.path).read_text(encoding="utf-8-sig"))  # a BOM is not Cypher

    def reverse(self) -> RunCypherFileOp:
        if not self.reverse_path:
            raise ValueError(f"{Path(self.path).name} has no down file to reverse it")
        return RunCypherFileOp(self.reverse_path, self.path)


@Operations.register_operation("create_graph_constraint")
class CreateGraphConstraintOp(CypherOp):
    """``CREATE CONSTRAINT name IF NOT EXISTS FOR (n:Label) REQUIRE n.prop IS UNIQUE``."""

    def __init__(self, name: str, label: str, properties: list[str] | str, require: str = "IS UNIQUE",
                 relationship: bool = False) -> None:
        self.name, self.label, self.properties = name, label, properties
        self.require, self.relationship = require, relationship

    @classmethod
    def create_graph_constraint(cls, operations: Operations, name: str, label: str,
                                properties: list[str] | str, require: str = "IS UNIQUE",
                                relationship: bool = False) -> None:
        """Create a named constraint (uniqueness by default) on a label or relationship type."""
        return operations.invoke(cls(name, label, properties, require, relationship))

    def statements(self) -> list[str]:
        return [f"CREATE CONSTRAINT {quote_name(self.name)} IF NOT EXISTS "
                f"FOR {_pattern(self.label, self.relationship)} "
                f"REQUIRE {_props(self.properties)} {self.require}"]

    def reverse(self) -> DropGraphConstraintOp:
        return DropGraphConstraintOp(self.name, self)


@Operations.register_operation("drop_graph_constraint")
class DropGraphConstraintOp(CypherOp):
    """``DROP CONSTRAINT name IF EXISTS``."""

    def __init__(self, name: str, original: CreateGraphConstraintOp | None = None) -> None:
        self.name, self.original = name, original

    @classmethod
    def drop_graph_constraint(cls, operations: Operations, name: str) -> None:
        """Drop the named constraint (if it exists)."""
        return operations.invoke(cls(name))

    def statements(self) -> list[str]:
        return [f"DROP CONSTRAINT {quote_name(self.name)} IF EXISTS"]

    def reverse(self) -> CreateGraphConstraintOp:
        if self.original is None:
            raise ValueError(f"dropping constraint {self.name} can't be reversed without its definition")
        return self.original


@Operations.register_operation("create_graph_index")
class CreateGraphIndexOp(CypherOp):
    """A named RANGE, TEXT, POINT or FULLTEXT index on a label (or relationship type)."""

    def __init__(self, name: str, label: str, properties: list[str] | str, index_type: str = "RANGE",
                 relationship: bool = False, options: str | None = None) -> None:
        self.name, self.label, self.properties = name, label, properties
        self.index_type, self.relationship, self.options = index_type.upper(), relationship, options

    @classmethod
    def create_graph_index(cls, operations: Operations, name: str, label: str, properties: list[str] | str,
                           index_type: str = "RANGE", relationship: bool = False) -> None:
        """Create a named index; ``index_type`` is RANGE, TEXT, POINT or FULLTEXT."""
        return operations.invoke(cls(name, label, properties, index_type, relationship))

    def statements(self) -> list[str]:
        target = _pattern(self.label, self.relationship)
        if self.index_type == "FULLTEXT":
            props = [self.properties] if isinstance(self.properties, str) else list(self.properties)
            on = "ON EACH [" + ", ".join(f"n.{quote_name(p)}" for p in props) + "]"
        else:
            on = f"ON ({_props(self.properties).strip('()')})"
        options = f" OPTIONS {self.options}" if self.options else ""
        return [f"CREATE {self.index_type} INDEX {quote_name(self.name)} IF NOT EXISTS FOR {target} {on}{options}"]

    def reverse(self) -> DropGraphIndexOp:
        return DropGraphIndexOp(self.name, self)


@Operations.register_operation("create_graph_vector_index")
class CreateGraphVectorIndexOp(CreateGraphIndexOp):
    """``CREATE VECTOR INDEX name IF NOT EXISTS FOR (m:Label) ON m.prop OPTIONS {indexConfig}``."""

    def __init__(self, name: str, label: str, property: str, dimensions: int,
                 similarity_function: str = "cosine") -> None:
        config = (f"{{indexConfig: {{`vector.dimensions`: {int(dimensions)}, "
                  f"`vector.similarity_function`: '{similarity_function}'}}}}")
        super().__init__(name, label, property, "VECTOR", False, config)
        self.dimensions, self.similarity_function = dimensions, similarity_function

    @classmethod
    def create_graph_vector_index(cls, operations: Operations, name: str, label: str, property: str,
                                  dimensions: int, similarity_function: str = "cosine") -> None:
        """Create a named vector index of ``dimensions`` on ``label.property``."""
        return operations.invoke(cls(name, label, property, dimensions, similarity_function))

    def statements(self) -> list[str]:
        return [f"CREATE VECTOR INDEX {quote_name(self.name)} IF NOT EXISTS "
                f"FOR (n:{quote_name(self.label)}) ON n.{quote_name(str(self.properties))} "
                f"OPTIONS {self.options}"]


@Operations.register_operation("drop_graph_index")
class DropGraphIndexOp(CypherOp):
    """``DROP INDEX name IF EXISTS``."""

    def __init__(self, name: str, original: CreateGraphIndexOp | None = None) -> None:
        self.name, self.original = name, original

    @classmethod
    def drop_graph_index(cls, operations: Operations, name: str) -> None:
        """Drop the named index (if it exists)."""
        return operations.invoke(cls(name))

    def statements(self) -> list[str]:
        return [f"DROP INDEX {quote_name(self.name)} IF EXISTS"]

    def reverse(self) -> CreateGraphIndexOp:
        if self.original is None:
            raise ValueError(f"dropping index {self.name} can't be reversed without its definition")
        return self.original
