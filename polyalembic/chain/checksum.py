"""The one checksum of a migration, the index's and a loaded revision's alike."""

from __future__ import annotations

import hashlib
from pathlib import Path


def revision_checksum(revision: bytes, up_file: Path | None) -> str:
    """SHA-256 of the revision file's bytes, then of its ``.up`` file's, if it has one that exists."""
    digest = hashlib.sha256(revision)
    if up_file is not None and up_file.exists():
        digest.update(up_file.read_bytes())
    return digest.hexdigest()
