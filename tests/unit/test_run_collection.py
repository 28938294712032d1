"""env.py's garbage collector handling in a caller's process (``alembic upgrade``): off while a run
starts, frozen start-up objects while it migrates, and the process left as it was."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from polyalembic.runtime.collection import start_up_uncollected


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()


def test_a_run_defers_collection_until_its_first_migration_and_restores_it() -> None:
    gc.enable()
    gc.unfreeze()
    with start_up_uncollected() as start_up_over:
        assert not gc.isenabled()  # loading the chain: nothing is collected
        start_up_over()
        assert gc.isenabled() and gc.get_freeze_count() > 0  # migrations: collected, start-up frozen out
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_run_that_fails_before_migrating_restores_collection() -> None:
    gc.enable()
    gc.unfreeze()
    with pytest.raises(RuntimeError), start_up_uncollected():
        raise RuntimeError("no ledger")
    assert gc.isenabled() and gc.get_freeze_count() == 0


@pytest.mark.parametrize("managed", ["disabled", "frozen"])
def test_a_process_that_manages_its_collector_is_left_alone(managed: str) -> None:
    gc.enable()
    gc.unfreeze()
    if managed == "disabled":
        gc.disable()  # the polyalembic CLI during its start-up
    else:
        gc.freeze()  # an app that froze its own objects
    before = (gc.isenabled(), gc.get_freeze_count())
    with start_up_uncollected() as start_up_over:
        assert (gc.isenabled(), gc.get_freeze_count()) == before
        start_up_over()
        assert (gc.isenabled(), gc.get_freeze_count()) == before
    assert (gc.isenabled(), gc.get_freeze_count()) == before


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_what_a_run_s_start_up_left_to_collect_does_not_outlive_the_next_run() -> None:
    """Run after run in one process (an app, a test suite): each start-up's garbage is frozen with
    it during its run; the next run collects it, so no more than one run's is ever about."""
    gc.enable()
    gc.unfreeze()
    gc.collect()
    for _ in range(5):
        with start_up_uncollected() as start_up_over:
            for _ in range(1000):
                _Cycle()  # garbage made while the run starts (a revision map, a dialect's caches)
            start_up_over()
    assert sum(isinstance(o, _Cycle) for o in gc.get_objects()) <= 1000
