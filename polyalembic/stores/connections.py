"""The open store connections of one command: opened on first use, closed together at the end."""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any, Protocol

from polyalembic.stores import get_store
from polyalembic.stores.contract import Settings as StoreSettings

log = logging.getLogger("polyalembic")


class Settings(StoreSettings, Protocol):
    """The run's settings as the connections read them (``polyalembic.settings.Settings``)."""

    def location(self, store: str) -> str:
        """A masked, printable location of ``store``."""
        ...


class StoreConnections:
    """Handles of the stores one command talks to (neo4j and chromadb are imported on first use)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._handles: dict[str, Any] = {}

    def get(self, store: str) -> Any:
        """The open handle of ``store``, connecting on first use."""
        if store not in self._handles:
            log.info("connecting to %s at %s", store, self.settings.location(store))
            self._handles[store] = get_store(store).connect(self.settings)
        return self._handles[store]

    def close(self) -> None:
        """Close every handle (errors while closing are logged, not raised)."""
        for store, handle in reversed(list(self._handles.items())):
            try:
                get_store(store).close(handle)
            except Exception as exc:  # noqa: BLE001 - closing must not hide the real outcome
                log.debug("closing %s failed: %s", store, exc)
        self._handles.clear()

    def __enter__(self) -> StoreConnections:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
