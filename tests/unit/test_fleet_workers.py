"""The fleet's worker processes (no server): a worker that dies fails only its own task and is
replaced, while the other workers' tasks finish (a real SIGKILL-like exit, no mock)."""

from __future__ import annotations

import os
import signal
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


def test_an_idle_worker_killed_while_it_waits_is_replaced_when_work_comes() -> None:
    pool = WorkerPool(1)
    try:
        pool.submit("first", echo, "first done")
        assert pool.finished(timeout=30) == [("first", "first done", None)]
        idle = pool._idle[0].process
        os.kill(idle.pid, signal.SIGKILL)  # killed between two targets (an OOM killer, an operator)
        idle.join(timeout=10)
        pool.submit("next", echo, "next done")
        assert pool.finished(timeout=30) == [("next", "next done", None)]
    finally:
        pool.close()
