"""A reader that goes away never aborts a run: with stdout closed after a few lines, in every
output mode, ``polyalembic up`` finishes every migration and the ledger says so."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading

import pytest

from polyalembic.project import Project
from polyalembic.settings import Settings
from tests.conftest import settings_env
from tests.support import ledger, store_connection

MODES = {
    "text": ((), False),
    "json events": (("--log-format", "json"), False),
    "terminal progress": ((), True),  # stderr is a terminal: rich's bars run
}


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 65536):
            pass
    except OSError:  # the terminal's other side is closed: the run is over
        pass


def up_read_by(project: Project, settings: Settings, options: tuple[str, ...], on_a_terminal: bool,
               lines: int) -> tuple[int, list[bytes]]:
    """``polyalembic up`` whose stdout reader exits after ``lines`` lines; (its exit code, the lines read)."""
    terminal = pty.openpty() if on_a_terminal else None
    process = subprocess.Popen(
        [sys.executable, "-m", "polyalembic", "-c", str(project.config_path), *options, "up"],
        stdout=subprocess.PIPE, stderr=terminal[1] if terminal else subprocess.DEVNULL,
        env={**settings_env(settings), "COLUMNS": "100"})
    drain = None
    if terminal:
        os.close(terminal[1])
        drain = threading.Thread(target=_drain, args=(terminal[0],), daemon=True)
        drain.start()
    assert process.stdout is not None
    read = [process.stdout.readline() for _ in range(lines)]
    process.stdout.close()  # the reader is gone, as `| head -n N` leaves it
    code = process.wait(timeout=300)
    if terminal:
        drain.join(timeout=10)
        os.close(terminal[0])
    return code, read


@pytest.mark.parametrize("mode", MODES)
def test_a_reader_that_goes_away_never_aborts_a_run(project_copy: Project, settings: Settings, mode: str) -> None:
    options, on_a_terminal = MODES[mode]
    code, read = up_read_by(project_copy, settings, options, on_a_terminal, lines=2)
    assert all(read), read  # the reader did see the run start before it left
    assert code == 0
    rows = ledger(settings)
    assert len(rows) == 12 and {row.status for row in rows} == {"applied"}
    with store_connection(settings, "neo4j") as graph:  # the stores late in the chain really changed
        records = graph.driver.execute_query("SHOW CONSTRAINTS YIELD name", database_=graph.database).records
    assert "memory_id_unique" in {record["name"] for record in records}
    with store_connection(settings, "chromadb") as client:
        assert "episodic_memories" in {c.name for c in client.list_collections()}
