"""One lookup the ledger and the SQL stores share, so both find their tables the same way.

PostgreSQL resolves an unqualified name along the search_path: a tenant's schema that has no
ledger yet would find ``public``'s. Bookkeeping tables are looked for in the current schema only.
"""


def in_current_schema(table: str) -> str:
    """SQL that is true when ``table`` is in the connection's current schema (not one further down
    its search_path), and false when that schema does not exist yet (``current_schema()`` NULL)."""
    return f"to_regclass(quote_ident(current_schema()) || '.{table}') IS NOT NULL"
