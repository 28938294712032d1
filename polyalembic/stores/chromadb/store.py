"""The ChromaDB store: an HTTP client (``CHROMA_HOST``/``CHROMA_PORT``) or an embedded
``PersistentClient`` (``CHROMA_PATH``); chromadb costs about half a second to import, so it is
imported when connecting only. Python revisions only (no plain pair files)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from polyalembic.stores.contract import Store

if TYPE_CHECKING:
    from polyalembic.stores.contract import Settings


class ChromaStore(Store):
    """ChromaDB collections (configuration and metadata are the schema)."""

    name = "chromadb"
    env_keys = ("CHROMA_HOST", "CHROMA_PORT", "CHROMA_PATH")
    op_modules = ("polyalembic.stores.chromadb.ops", "polyalembic.stores.chromadb.impl")
    templates_module = "polyalembic.stores.chromadb.templates"
    setup_hint = "set CHROMA_HOST and CHROMA_PORT, or CHROMA_PATH"

    def location(self, settings: Settings) -> str:
        env = settings.env
        if env.get("CHROMA_HOST"):
            return f"http://{env['CHROMA_HOST']}:{env.get('CHROMA_PORT') or 8000}"
        return f"embedded:{env['CHROMA_PATH']}" if env.get("CHROMA_PATH") else f"(not configured: {self.setup_hint})"

    def connect(self, settings: Settings) -> Any:
        """``HttpClient`` when CHROMA_HOST is set, else ``PersistentClient(CHROMA_PATH)``."""
        from polyalembic.errors import StoreUnavailable

        env = settings.env
        if not env.get("CHROMA_HOST") and not env.get("CHROMA_PATH"):
            raise StoreUnavailable(f"chromadb: no server configured ({self.setup_hint})")
        port = env.get("CHROMA_PORT") or "8000"
        if not port.isdigit():
            raise StoreUnavailable(f"chromadb: CHROMA_PORT must be a number, got {port!r}")
        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
        try:
            import chromadb
            from chromadb.config import Settings as ChromaSettings
        except ImportError:
            raise StoreUnavailable("chromadb: the client is not installed "
                                   "(pip install 'polyalembic[chroma]')") from None
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        try:
            if env.get("CHROMA_HOST"):
                client = chromadb.HttpClient(host=env["CHROMA_HOST"], port=int(port), settings=chroma_settings)
            else:
                client = chromadb.PersistentClient(path=env["CHROMA_PATH"], settings=chroma_settings)
            client.heartbeat()
        except Exception as exc:  # noqa: BLE001 - any failure here means "unavailable"
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreUnavailable(f"chromadb: cannot connect to {self.location(settings)}: {reason}") from None
        return client

    def snapshot(self, handle: Any) -> dict[str, Any]:
        from polyalembic.stores.chromadb import introspect

        return introspect.snapshot(handle)

    def drop_all(self, handle: Any) -> list[str]:
        from polyalembic.stores.chromadb import reset

        return reset.drop_all(handle)
