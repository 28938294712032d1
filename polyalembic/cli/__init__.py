"""The ``polyalembic`` command line (click). It only parses, calls polyalembic.api and prints."""

from polyalembic.cli.main import main

__all__ = ["main"]
