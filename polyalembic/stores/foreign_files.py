"""What every other tool's folder is read with (``ForeignHistory``: neo4j-migrations', Flyway's):
every regular file below it, each read as UTF-8, and the snake_case name an adopted file takes.
Each store's reader decides what those files mean to its tool."""

from __future__ import annotations

import re
from pathlib import Path

from polyalembic.errors import PolyalembicError


def tool_files(folder: Path, tool: str, files_of: str, versioned: str) -> list[Path]:
    """Every regular file below ``folder`` (links followed), sorted; one line when it is no folder.
    ``tool``: the command's word (``n4m``); ``files_of``: whose files, where they are set
    ("neo4j-migrations' files (its --location)"); ``versioned``: their names ("V...cypher")."""
    if not folder.exists():
        raise PolyalembicError(f"adopt {tool}: {folder}: no such folder: give the folder of {files_of}")
    if not folder.is_dir():
        raise PolyalembicError(f"adopt {tool}: {folder}: not a folder (give the folder of the {versioned} files)")
    return sorted(path for path in folder.rglob("*") if path.is_file())


def read_utf8(path: Path, tool: str, reads_as: str) -> str:
    """The file's text; one line naming it and the first byte that is no UTF-8."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolyalembicError(f"adopt {tool}: {path.name}: not UTF-8 (byte {exc.start}): {reads_as}; "
                               "convert it") from None


def snake_case(description: str) -> str:
    """``Create Person`` -> ``create_person``: the adopted files' name."""
    return re.sub(r"[^0-9a-z]+", "_", description.lower()).strip("_") or "migration"
