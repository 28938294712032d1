"""What `polyalembic init` writes (the files beside this one; the repository's own migrations/ holds
the same, which tests/unit/test_scaffold.py checks)."""
