"""One env.py run as its caller asks for it, and what it did.

The CLI, the library (``polyalembic.api``), the pytest plugin and tests hand migrations/env.py one
typed ``RunRequest`` under one key of Alembic's ``config.attributes``; the run fills in its
``outcomes`` (what was really applied, reverted, stamped or failed) as it goes, so a caller reads
back what ran, not what it planned before the lock. Alembic's own CLI hands in nothing and gets
the defaults. (A caller's connection stays where Alembic's documentation puts it:
``config.attributes["connection"]``.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polyalembic.chain.migration import Migration
    from polyalembic.events.stream import Reporter
    from polyalembic.settings import Settings

KEY = "polyalembic_request"
OUTCOMES = ("applied", "reverted", "stamped", "unstamped", "failed")


@dataclass(frozen=True)
class Outcome:
    """One migration's end in this run: ``event`` is one of ``OUTCOMES``; ``ms`` its time, if run."""

    event: str
    migration: Migration
    ms: int | None


@dataclass
class RunRequest:
    """What one run is asked to do and with what, plus (``outcomes``, ``ran``) what it did."""

    settings: Settings | None = None  # None: from alembic.ini's env file and the environment
    events: Reporter | None = None  # None: as -x log_format / POLYALEMBIC_LOG_FORMAT say
    lock_timeout: float | str | None = None  # None: -x lock_timeout / POLYALEMBIC_LOCK_TIMEOUT, else wait
    release: dict[str, str] = field(default_factory=dict)  # `repair resume|retry REV`: REV -> how
    allow_backwards: bool = False  # `stamp --backwards`
    #: `polyalembic down N`: the last N applied, in the history's order (Alembic's relative
    #: downgrade can't walk past a merge)
    down_steps: int | None = None
    before_migrations: Callable[[], None] | None = None  # called once start-up is over
    on_outcome: Callable[[Outcome], None] | None = None  # told of each outcome as it happens
    outcomes: list[Outcome] = field(default_factory=list)
    ran: bool = False  # the run reached its migrations (under the lock)

    def record(self, event: str, migration: Migration, ms: int | None) -> None:
        outcome = Outcome(event, migration, ms)
        self.outcomes.append(outcome)
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    def migrations(self, *events: str) -> list[Migration]:
        """The migrations whose outcome is one of ``events``, in the order they ended."""
        return [o.migration for o in self.outcomes if o.event in events]


def request_of(config: Any) -> RunRequest:
    """The request a caller handed in with ``config``, else the defaults (Alembic's own CLI)."""
    request = config.attributes.get(KEY)
    if request is None:
        request = config.attributes[KEY] = RunRequest()
    return request
