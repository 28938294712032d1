"""The fleet's worker processes (no server): a worker that dies fails only its own task and is
replaced, while the other workers' tasks finish (a real SIGKILL-like exit, no mock)."""

from __future__ import annotations

import os
import time

from polyalembic.fleet.workers import WorkerPool


def echo(value: str, seconds: float = 0.0) -> str:
    time.sleep(seconds)
    return value


def die(code: int) -> None:
    os._exit(code)


def test_a_worker_that_dies_fails_its_task_alone_and_is_replaced() -> None:
    pool = WorkerPool(2)
    try:
        pool.submit("slow", echo, "slow done", 1.0)
        pool.submit("dies", die, 9)
        ended = []
        while pool.busy():
            ended += pool.finished(timeout=30)
        assert sorted(ended) == [("dies", None, 9), ("slow", "slow done", None)]
        assert pool.free() == 2
        pool.submit("after", echo, "still working")  # a new worker takes the dead one's place
        assert pool.finished(timeout=30) == [("after", "still working", None)]
    finally:
        pool.close()
