"""SQL string literals, written once: the plain standard form for statements a user reads
(rendered ops, ``--sql``), and PostgreSQL's escape form for values polyalembic writes itself."""

from __future__ import annotations

from typing import Any


def quoted(value: str) -> str:
    """``value`` as a standard SQL string literal (quotes doubled): what a session with
    ``standard_conforming_strings`` on (PostgreSQL's default) reads back unchanged."""
    return "'" + value.replace("'", "''") + "'"


def escaped(value: Any) -> str:
    """``value`` as a PostgreSQL literal that reads the same whatever ``standard_conforming_strings``
    says (an escape string, ``E'...'``); NULL for None, a number as it is."""
    if value is None:
        return "NULL"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return "E'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"
