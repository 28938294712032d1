"""The ledger: its schema, every row it writes and reads, and the snapshots drift compares with."""
