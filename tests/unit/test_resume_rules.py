"""What a resume runs, step by step, without a server: the ledger's recorded steps, the store's
markers and its live state are passed over and recorded; a step that may have partly run is
refused; past the interruption everything runs."""

from __future__ import annotations

import pytest

from polyalembic.errors import PolyalembicError
from polyalembic.settings import Settings
from polyalembic.stores.connections import StoreConnections
from polyalembic.stores.current_run import Run


def _run(resume_after: int = 0, marked: frozenset[int] = frozenset(), killed: bool = False) -> tuple[Run, list]:
    run = Run(StoreConnections(Settings({})))
    run.revision, run.resume_after, run.marked = "neo4j_002", resume_after, marked
    run.resuming, run.killed = True, killed
    recorded: list[int] = []
    run.on_progress = lambda position, _description: recorded.append(position)
    return run, recorded


def test_recorded_and_marked_steps_are_passed_over_and_the_ledger_catches_up() -> None:
    run, recorded = _run(resume_after=1, marked=frozenset({2, 3}))
    ran: list[int] = []
    for step in range(1, 6):
        run.checkpoint(f"step {step}", lambda step=step: ran.append(step))
    assert ran == [4, 5]
    assert recorded == [2, 3, 4, 5]  # 1 was recorded before the kill; 2 and 3 now, from the markers


def test_a_step_the_live_store_shows_done_is_passed_over() -> None:
    run, recorded = _run()
    ran: list[int] = []
    run.checkpoint("create constraint", lambda: ran.append(1), in_place=lambda: True)
    run.checkpoint("create node", lambda: ran.append(2))
    assert ran == [2] and recorded == [1, 2]


def test_a_step_that_may_have_partly_run_is_refused_naming_the_choices() -> None:
    run, _ = _run(resume_after=1)
    run.checkpoint("step 1", lambda: None)
    with pytest.raises(PolyalembicError, match=r"step 2 \[call in transactions\] may have partly run .*"
                                               r"repair retry neo4j_002.*repair mark-applied neo4j_002"):
        run.checkpoint("call in transactions", lambda: None, unsure="it commits in transactions of its own")


def test_a_statement_outside_a_transaction_is_refused_after_a_kill_only() -> None:
    for killed, refused in ((True, True), (False, False)):
        run, _ = _run(killed=killed)
        ran: list[int] = []

        def action(ran: list[int] = ran) -> None:
            ran.append(1)

        if refused:
            with pytest.raises(PolyalembicError, match="may have partly run"):
                run.checkpoint("create index concurrently", action, unsure_if_killed="outside a transaction")
        else:
            run.checkpoint("create index concurrently", action, unsure_if_killed="outside a transaction")
        assert ran == ([] if refused else [1])


def test_past_the_interruption_nothing_is_doubted() -> None:
    run, _ = _run(marked=frozenset({1}))
    ran: list[int] = []
    run.checkpoint("marked", lambda: ran.append(1))
    run.checkpoint("the one that never committed", lambda: ran.append(2))
    run.checkpoint("after it", lambda: ran.append(3), unsure="could not be told", in_place=lambda: True)
    assert ran == [2, 3]  # once a step ran, what follows never ran before: no check, no refusal


def test_a_step_its_store_records_writes_no_ledger_progress_and_the_next_recorded_one_counts_it() -> None:
    run, recorded = _run()
    run.resuming = False  # a first run
    run.checkpoint("marked write", lambda: None, store_records=True)
    assert recorded == [] and run.completed == 1  # its marker says it; a failure after it records 1
    run.checkpoint("call in transactions", lambda: None)
    assert recorded == [2]  # the count covers the marked step too


def test_a_single_write_takes_its_marker_as_the_last_clauses_of_its_own_query() -> None:
    from polyalembic.stores.neo4j.markers import with_marker

    query = with_marker("UNWIND range(1, 3) AS i CREATE (:Reading {n: i});")
    assert query is not None and query.startswith("UNWIND range(1, 3) AS i CREATE (:Reading {n: i})\nWITH count(*)")
    assert query.endswith("CREATE (:_PolyalembicStep {revision: $polyalembic_revision, step: $polyalembic_step})")
    for statement in ("CREATE (r:Reading) RETURN r", "MATCH (n) CALL (n) { SET n.x = 1 }",
                      "CREATE (:A) UNION CREATE (:B)", "PROFILE CREATE (:A)", "USE other CREATE (:A)"):
        assert with_marker(statement) is None, statement  # a clause after it would change or break it
