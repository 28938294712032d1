"""alembic.ini read the way Alembic reads it, without importing Alembic (and one option written
back, keeping the file's text: ``set_option``).

``status``, ``up`` with nothing pending and ``validate`` only read files and the ledger; importing
Alembic alone costs them more than the rest of their work. This reader answers what they need
(the script location, the version folders, polyalembic's own section) and nothing else. Where an
ini says something it does not understand exactly as Alembic would (no ``script_location`` here,
which Alembic may find in pyproject.toml; the legacy way of splitting ``version_locations``),
it answers None and the caller asks Alembic.
"""

from __future__ import annotations

import os
import re
import tempfile
from configparser import ConfigParser, Error
from pathlib import Path

SECTION = "alembic"
# Alembic's path_separator values (alembic.config.Config._get_file_separator_char)
_SEPARATORS = {"space": " ", "newline": "\n", "os": os.pathsep, ":": ":", ";": ";"}


class IniFile:
    """The ``[alembic]`` and ``[polyalembic]`` options of one alembic.ini."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.here = path.absolute().parent
        self._parser = ConfigParser({"here": self.here.as_posix()})
        try:
            self._parser.read(path, encoding="utf-8")
            self.readable = self._parser.has_section(SECTION)
        except (Error, UnicodeDecodeError):
            self.readable = False

    def option(self, name: str, section: str = SECTION) -> str | None:
        if not self.readable or not self._parser.has_option(section, name):
            return None
        try:
            return self._parser.get(section, name)
        except Error:
            return None

    def section(self, section: str) -> dict[str, str]:
        """Every option of ``section`` (none when it is missing), without the ``here`` default."""
        if not self.readable or not self._parser.has_section(section):
            return {}
        try:
            return {name: value for name, value in self._parser.items(section) if name != "here"}
        except Error:
            return {}

    @property
    def script_location(self) -> Path | None:
        value = self.option("script_location")
        return Path(value) if value else None

    def prepend_sys_path(self) -> list[str]:
        """``prepend_sys_path`` split as Alembic splits it (where revisions may import from)."""
        value = self.option("prepend_sys_path")
        if not value:
            return []
        separator = self.option("path_separator")
        if separator in _SEPARATORS:
            return [x.strip() for x in value.split(_SEPARATORS[separator]) if x.strip()]
        return [x for x in re.split(r", *|(?: +)|\:", value) if x]

    def version_folders(self) -> list[Path] | None:
        """The folders Alembic reads revision files from, or None when this reader can't say
        exactly what Alembic would (then ask Alembic)."""
        script_location = self.script_location
        if script_location is None or ":" in str(script_location).split("/", 1)[0]:
            return None  # not here (pyproject.toml?) or a package resource ("pkg:folder")
        if any((self.option(flag) or "false").strip().lower() == "true"
               for flag in ("sourceless", "recursive_version_locations")):
            return None
        locations = self.option("version_locations")
        if not locations:
            return [script_location / "versions"]
        separator = self.option("path_separator") or self.option("version_path_separator")
        if separator not in _SEPARATORS:
            return None  # the legacy space/comma split, or an invalid value Alembic words itself
        return [Path(x.strip()) for x in locations.split(_SEPARATORS[separator]) if x.strip()]


def set_option(path: Path, section: str, name: str, value: str) -> None:
    """Set ``name = value`` in ``section`` of the ini at ``path``, keeping every other line (and
    its comments) as it is: the line replaced where it is, else added under the section's header,
    else the section added at the end. Written whole or not at all."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    setting = f"{name} = {value}\n"
    header = next((i for i, line in enumerate(lines) if line.strip() == f"[{section}]"), None)
    if header is None:
        lines += ["\n" if lines and lines[-1].strip() else "", f"[{section}]\n", setting]
    else:
        end = next((i for i in range(header + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
        found = next((i for i in range(header + 1, end) if re.match(rf"{re.escape(name)}\s*[=:]", lines[i])), None)
        if found is None:
            lines.insert(header + 1, setting)
        else:
            lines[found] = setting
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.writelines(lines)
        os.chmod(partial, path.stat().st_mode & 0o7777)
        os.replace(partial, path)
    except BaseException:
        os.unlink(partial)
        raise
