"""The ChromaDB store: an HTTP client (``CHROMA_HOST``/``CHROMA_PORT``) or an embedded
``PersistentClient`` (``CHROMA_PATH``); chromadb costs about half a second to import, so it is
imported when connecting only. Python revisions only (no plain pair files).

Lazy imports: chromadb and this store's own modules, when a revision for it runs: the registry
imports every store at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from polyalembic.errors import StoreUnavailable, cannot_connect
from polyalembic.masking import mask_text
from polyalembic.stores.contract import Store

if TYPE_CHECKING:
    from polyalembic.stores.contract import Settings


class ChromaStore(Store):
    """ChromaDB collections (configuration and metadata are the schema)."""

    name = "chromadb"
    env_keys = ("CHROMA_HOST", "CHROMA_PORT", "CHROMA_PATH", "CHROMA_TENANT", "CHROMA_DATABASE",
                "CHROMA_CLIENT_AUTH_PROVIDER", "CHROMA_CLIENT_AUTH_CREDENTIALS")
    op_modules = ("polyalembic.stores.chromadb.ops", "polyalembic.stores.chromadb.impl")
    templates_module = "polyalembic.stores.chromadb.templates"
    setup_hint = "set CHROMA_HOST and CHROMA_PORT, or CHROMA_PATH"

    def location(self, settings: Settings) -> str:
        env = settings.env
        if env.get("CHROMA_HOST"):
            where = f"http://{env['CHROMA_HOST']}:{env.get('CHROMA_PORT') or 8000}"
        elif env.get("CHROMA_PATH"):
            where = f"embedded:{env['CHROMA_PATH']}"
        else:
            return f"(not configured: {self.setup_hint})"
        named = [f"{kind} {env[key]}" for kind, key in (("tenant", "CHROMA_TENANT"), ("database", "CHROMA_DATABASE"))
                 if env.get(key)]
        return f"{where} ({', '.join(named)})" if named else where

    def source(self, settings: Settings) -> str:
        return "CHROMA_HOST / CHROMA_PORT" if settings.env.get("CHROMA_HOST") else "CHROMA_PATH"

    def secrets(self, settings: Settings) -> tuple[str, ...]:
        token = settings.env.get("CHROMA_CLIENT_AUTH_CREDENTIALS")
        return (token,) if token else ()

    def connect(self, settings: Settings) -> Any:
        """``HttpClient`` when CHROMA_HOST is set, else ``PersistentClient(CHROMA_PATH)``; the tenant,
        database and client credentials are read from the variables chromadb's own clients use."""

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
        auth = {key.lower(): env[key] for key in ("CHROMA_CLIENT_AUTH_PROVIDER", "CHROMA_CLIENT_AUTH_CREDENTIALS")
                if env.get(key)}
        if auth.keys() == {"chroma_client_auth_credentials"}:
            auth["chroma_client_auth_provider"] = "chromadb.auth.token_authn.TokenAuthClientProvider"
        chroma_settings = ChromaSettings(anonymized_telemetry=False, **auth)
        where = {"tenant": env.get("CHROMA_TENANT") or "default_tenant",
                 "database": env.get("CHROMA_DATABASE") or "default_database"}
        try:
            if env.get("CHROMA_HOST"):
                client = chromadb.HttpClient(host=env["CHROMA_HOST"], port=int(port), settings=chroma_settings,
                                             **where)
            else:
                client = chromadb.PersistentClient(path=env["CHROMA_PATH"], settings=chroma_settings, **where)
            client.heartbeat()
        except Exception as exc:  # noqa: BLE001 - any failure here means "unavailable"
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            reason = mask_text(reason, self.secrets(settings))
            raise cannot_connect("chromadb", self.location(settings), reason, _fix(reason, env)) from None
        return client

    def close(self, handle: Any) -> None:
        """Release the client and its HTTP connections. chromadb never closes an ``HttpClient``'s
        HTTP sessions (its own and its internal admin client's) and keeps the client's System in
        a class-level registry for the life of the process (``from_system`` registers it a second
        time, which ``close`` never releases): a fleet worker, migrating target after target,
        would hold every earlier target's connections to its Chroma server open, and chromadb
        reads the registry's clients for a Chroma Cloud key (another target's). An embedded
        client's System is shared by path between clients: ``close`` releases it by count."""
        from chromadb.api.shared_system_client import SharedSystemClient

        registry = SharedSystemClient._identifier_to_system
        system = registry.get(getattr(handle, "_identifier", None))
        handle.close()
        sessions = [getattr(getattr(client, "_server", None), "_session", None)
                    for client in (handle, getattr(handle, "_admin_client", None))]
        if not any(sessions):  # embedded (no HTTP): close() released it
            return
        for session in filter(None, sessions):
            session.close()
        for identifier in [i for i, registered in registry.items() if registered is system]:
            del registry[identifier]  # an HTTP client's System is its own (chromadb names it by a uuid)

    def snapshot(self, handle: Any) -> dict[str, Any]:
        from polyalembic.stores.chromadb import introspect

        return introspect.snapshot(handle)

    def snapshot_objects(self, snapshot: Mapping[str, Any]) -> dict[str, Any]:
        return {f"collection {name}": shape for name, shape in snapshot.get("collections", {}).items()}

    def describe_object(self, key: str, old: Any, new: Any) -> list[str]:
        """A collection's hnsw settings one by one (``hnsw space changed cosine -> l2``), its metadata."""
        if old is None or new is None:
            return super().describe_object(key, old, new)
        lines = []
        before, after = old.get("hnsw") or {}, new.get("hnsw") or {}
        for setting in sorted(before.keys() | after.keys()):
            if before.get(setting) != after.get(setting):
                lines.append(f"{key} hnsw {setting} changed {before.get(setting)} -> {after.get(setting)}")
        if old.get("metadata") != new.get("metadata"):
            lines.append(f"{key} metadata changed")
        return lines or [f"{key} changed"]

    def drop_all(self, handle: Any) -> list[str]:
        from polyalembic.stores.chromadb import reset

        return reset.drop_all(handle)


def _fix(reason: str, env: Mapping[str, str]) -> str:
    """What to change when the client could not connect."""
    if "tenant" in reason.lower():
        return "create the tenant or correct CHROMA_TENANT"
    if "database" in reason.lower():
        return "create the database or correct CHROMA_DATABASE"
    if env.get("CHROMA_HOST"):
        return "start the server or correct CHROMA_HOST and CHROMA_PORT"
    return "check that CHROMA_PATH is a folder this user may write"
