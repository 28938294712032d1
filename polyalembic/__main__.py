"""``python -m polyalembic``: the CLI (guarded: a fleet's spawned workers import this module again)."""

from polyalembic.cli import main

if __name__ == "__main__":
    main()
