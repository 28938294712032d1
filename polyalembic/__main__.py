"""``python -m polyalembic``: the CLI."""

from polyalembic.cli import main

main()
