"""The events module without a server: the no-op default, the JSON lines, masking, and rich
imported only when a run starts on a terminal."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from polyalembic.events.reporters import reporter_for
from polyalembic.events.stream import Events, JsonReporter, Reporter
from polyalembic.settings import Settings

REPO = Path(__file__).resolve().parents[2]
SETTINGS = Settings({"TIMESCALE_DSN": "postgresql://app:s3cret-pw@db/app", "NEO4J_URI": "bolt://graph:7687",
                     "NEO4J_PASSWORD": "hunter22"})


def test_without_a_terminal_or_a_format_nothing_listens_and_a_counter_only_counts() -> None:
    reporter = reporter_for(None)  # pytest's stderr is not a terminal
    assert type(reporter) is Reporter and not reporter.active
    events = Events(reporter, SETTINGS)
    events.run_started("upgrade", 3)
    with events.progress_of("copy", 10, "records") as progress:
        progress.advance(4)
        progress.advance(6)
    assert progress.done == 10 and progress._events is None


def test_json_lines_carry_version_time_and_masked_fields() -> None:
    out = io.StringIO()
    events = Events(JsonReporter(out), SETTINGS)
    events.run_started("upgrade", 1)
    events.migration_started("neo4j_001", "neo4j", "001_graph.up.cql")
    events.step("CREATE USER x SET PASSWORD 'hunter22'")
    events.migration_failed("neo4j migration 001_graph.up.cql failed: auth hunter22 refused", "step", 12)
    events.run_finished(RuntimeError("cannot connect to postgresql://app:s3cret-pw@db/app\nsecond line"))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["event"] for e in lines] == ["run_started", "migration_started", "step", "failed", "run_finished"]
    assert all(e["v"] == 1 and e["ts"].endswith("Z") for e in lines)
    assert "s3cret-pw" not in out.getvalue() and "hunter22" not in out.getvalue()
    assert lines[0]["ledger"] == "postgresql://app:***@db/app"
    assert lines[1]["location"] == SETTINGS.location("neo4j") and (lines[1]["index"], lines[1]["of"]) == (1, 1)
    assert lines[3]["error"] == "neo4j migration 001_graph.up.cql failed: auth *** refused"
    assert lines[4] | {"ts": None, "ms": None} == {
        "v": 1, "ts": None, "event": "run_finished", "command": "upgrade", "ok": False, "migrations": 1,
        "applied": 0, "ms": None, "error": "cannot connect to postgresql://app:***@db/app"}


def test_a_bad_log_format_is_one_line_naming_the_choices() -> None:
    from polyalembic.errors import PolyalembicError

    with pytest.raises(PolyalembicError, match=r"log format must be one of text, json .*got 'yaml'"):
        reporter_for("yaml")


def test_a_terminal_gets_bars_but_rich_is_imported_only_when_a_run_starts() -> None:
    code = ("import sys\nfrom polyalembic.events.reporters import reporter_for\nr = reporter_for(None)\n"
            "print(type(r).__name__, 'rich' in sys.modules, file=sys.__stdout__)\n"
            "print(type(reporter_for(None, quiet=True)).__name__, file=sys.__stdout__)")
    master, slave = pty.openpty()
    try:
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO, stderr=slave, stdout=subprocess.PIPE,
                             text=True, check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    finally:
        os.close(slave)
        os.close(master)
    assert out.stdout.split() == ["TerminalReporter", "False", "Reporter"]
