"""Targets shared out between fleet runs on several machines, through a database they all reach
(``[fleet] claims = DSN``): a run migrates a target only while it holds that target's claim, a
session lock in that database (``SqlStore.try_claim``). So no target ever runs in two places at
once, and the claims of a run that dies (its machine, its process) go with its session: another
run takes those targets up. With no claims database every target is this run's."""

from __future__ import annotations

from typing import Any

from polyalembic.errors import PolyalembicError
from polyalembic.stores import ledger_home

PREFIX = "polyalembic fleet target "


class Claims:
    """The claims of one fleet run (held on one connection, opened by ``open``)."""

    def __init__(self, dsn: str | None) -> None:
        self.dsn = dsn
        self._store: Any = None
        self._connection: Any = None

    def open(self) -> Claims:
        if self.dsn is not None:
            self._store = ledger_home()
            if self._store is None:
                raise PolyalembicError("fleet: [fleet] claims needs a SQL store to hold the claims")
            self._connection = self._store.connect_to(self.dsn, "fleet claims database", "[fleet] claims",
                                                      autocommit=True)
        return self

    def take(self, target: str) -> bool:
        """True when this run may migrate ``target`` now (no other run holds it)."""
        return self._connection is None or self._store.try_claim(self._connection, PREFIX + target)

    def give_back(self, target: str) -> None:
        if self._connection is not None:
            self._store.release_claim(self._connection, PREFIX + target)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
