"""Cypher text handling: split a file into statements, tell schema statements from data writes."""

from __future__ import annotations

import re

# polyalembic's own queries name their Cypher version, so a server whose default language
# changes (Neo4j 2025.06+ adds Cypher 25) runs them unchanged.
CYPHER_VERSION_PREFIX = "CYPHER 5 "

_SCHEMA = re.compile(
    r"^\s*(CREATE|DROP)\s+(OR\s+REPLACE\s+)?"
    r"((RANGE|TEXT|POINT|LOOKUP|FULLTEXT|VECTOR|BTREE)\s+)?(CONSTRAINT|INDEX)\b",
    re.IGNORECASE)
_IN_TRANSACTIONS = re.compile(r"\bIN\s+(\d+\s+)?(CONCURRENT\s+)?TRANSACTIONS\b", re.IGNORECASE)
_CREATES_INDEX = re.compile(
    r"^\s*CREATE\s+(OR\s+REPLACE\s+)?((RANGE|TEXT|POINT|LOOKUP|FULLTEXT|VECTOR|BTREE)\s+)?INDEX\b",
    re.IGNORECASE)


def split_statements(text: str) -> list[str]:
    """Statements of a Cypher script, split on ``;`` outside strings, backticks and comments."""
    statements: list[str] = []
    buf: list[str] = []
    i, n = 0, len(text)
    quote: str | None = None
    while i < n:
        ch = text[i]
        if quote:
            buf.append(ch)
            if ch == "\\" and quote != "`" and i + 1 < n:
                buf.append(text[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
            buf.append(ch)
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end == -1 else end
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end == -1 else end + 2
            continue
        elif ch == ";":
            statements.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
        i += 1
    statements.append("".join(buf).strip())
    return [s for s in statements if s]


def is_schema(statement: str) -> bool:
    """True for CREATE/DROP of a constraint or index (these can't share a tx with data writes)."""
    return bool(_SCHEMA.match(statement))


def creates_index(statement: str) -> bool:
    """True for CREATE INDEX (of any type): the index populates in the background after the
    statement commits, so the run waits until it is ONLINE. Not for CREATE CONSTRAINT: Neo4j
    populates and checks a constraint's backing index before the statement returns (a violation
    or a value too large to index fails the statement itself), so it is ONLINE already."""
    return bool(_CREATES_INDEX.match(statement))


_CREATED_NAME = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:\w+\s+)?(?:CONSTRAINT|INDEX)\s+(`(?:[^`]|``)+`|\w+)",
    re.IGNORECASE)


def created_name(statement: str) -> str | None:
    """The name a CREATE CONSTRAINT/INDEX statement gives its object; None when unnamed."""
    match = _CREATED_NAME.match(statement)
    if not match:
        return None
    name = match[1]
    if name.upper() in ("IF", "FOR", "ON"):
        return None
    return name[1:-1].replace("``", "`") if name.startswith("`") else name


def needs_autocommit(statement: str) -> bool:
    """``CALL { ... } IN TRANSACTIONS`` only runs in an auto-commit transaction."""
    return bool(_IN_TRANSACTIONS.search(statement))


def quote_name(name: str) -> str:
    """A Cypher identifier in backticks."""
    return "`" + name.replace("`", "``") + "`"
