"""The first run says what it is doing: each phase's name when it starts, its time when it ends,
downloads told apart from work; and it runs in the project environment, not the machine's Python."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from stack.environment import VENV
from stack.phases import phase
from tests.conftest import REPO


def test_a_phase_prints_its_name_at_the_start_and_its_time_at_the_end(capsys: pytest.CaptureFixture[str]) -> None:
    with phase("fetch Neo4j jars", "download"):
        print("inside")
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["==> fetch Neo4j jars [download]", "inside"]
    assert lines[2].startswith("<== fetch Neo4j jars [download]: ") and lines[2].endswith(" s")
    float(lines[2].rsplit(": ", 1)[1].removesuffix(" s"))


def test_a_failed_phase_says_so_with_its_time_and_the_error_goes_on(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RuntimeError, match="make failed"), phase("build TimescaleDB"):
        raise RuntimeError("make failed")
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("<== build TimescaleDB [work]: FAILED after ")


def test_a_phase_is_a_download_or_work() -> None:
    with pytest.raises(ValueError, match="use one of download, work"), phase("x", "waiting"):
        pass


def test_the_tests_run_in_the_project_environment() -> None:
    """`make test` runs .venv/bin/python: nothing the suite needs is installed into the machine's."""
    assert sys.prefix != sys.base_prefix, f"{sys.executable} is the machine's own Python: use {VENV}/bin/python"
    if VENV.is_relative_to(REPO):
        assert Path(sys.prefix).resolve() == VENV.resolve(), f"{sys.executable} is not {VENV}"
