"""The one checksum of a migration, the index's and a loaded revision's alike.

Line endings and a UTF-8 byte-order mark don't count (as in Flyway and neo4j-migrations'
``--autocrlf``): a checkout with CRLF line endings (git's ``autocrlf``) reads as unchanged. A file
of LF lines without a BOM, the usual case, has the checksum it had before line endings were
ignored; a row recorded from a CRLF checkout before then is still honoured (``matches``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_BOM = b"\xef\xbb\xbf"


def _text(data: bytes) -> bytes:
    """``data`` with a leading UTF-8 BOM dropped and every CRLF or lone CR made LF."""
    return data.removeprefix(_BOM).replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def revision_checksum(revision: bytes, up_file: Path | None) -> str:
    """SHA-256 of the revision file's text, then of its ``.up`` file's, if it has one that exists
    (line endings and a BOM ignored)."""
    digest = hashlib.sha256(_text(revision))
    if up_file is not None and up_file.exists():
        digest.update(_text(up_file.read_bytes()))
    return digest.hexdigest()


def byte_checksum(revision: bytes, up_file: Path | None) -> str:
    """The checksum of the files' bytes as they are: what polyalembic recorded before line
    endings were ignored (a row recorded from a CRLF checkout then holds it)."""
    digest = hashlib.sha256(revision)
    if up_file is not None and up_file.exists():
        digest.update(up_file.read_bytes())
    return digest.hexdigest()
