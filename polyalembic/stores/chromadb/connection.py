"""The ChromaDB store's connection: an HTTP client or an embedded PersistentClient.

chromadb costs about half a second to import, so it is imported here, on first use only.
"""

from __future__ import annotations

import os
from typing import Any

from polyalembic.errors import StoreUnavailable
from polyalembic.settings import Settings


def connect(settings: Settings) -> Any:
    """``HttpClient`` when CHROMA_HOST is set, else ``PersistentClient(CHROMA_PATH)``."""
    if not settings.chroma_host and not settings.chroma_path:
        raise StoreUnavailable("chromadb: no server configured (set CHROMA_HOST/CHROMA_PORT or CHROMA_PATH)")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    try:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
    except ImportError:
        raise StoreUnavailable("chromadb: the client is not installed (pip install 'polyalembic[chroma]')") from None
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if settings.chroma_host:
            client = chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port,
                                         settings=chroma_settings)
        else:
            client = chromadb.PersistentClient(path=settings.chroma_path, settings=chroma_settings)
        client.heartbeat()
    except Exception as exc:  # noqa: BLE001 - any failure here means "unavailable"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreUnavailable(f"chromadb: cannot connect to {settings.describe('chromadb')}: {reason}") from None
    return client


def describe(settings: Settings) -> str:
    if settings.chroma_host:
        return f"http://{settings.chroma_host}:{settings.chroma_port}"
    return f"embedded:{settings.chroma_path}" if settings.chroma_path else "(not configured)"


def close(client: Any) -> None:
    """Chroma clients hold no socket that needs closing; drop caches of the embedded system."""
    del client
