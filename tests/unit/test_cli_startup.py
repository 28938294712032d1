"""The CLI's garbage collector: off during start-up, on (start-up frozen out) once migrations start,
on and unfrozen when the command ends: the CLI may run inside a test process."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from polyalembic.cli import main
from polyalembic.cli.startup import resume


@pytest.fixture
def probe() -> Iterator[list[tuple[bool, bool]]]:
    """A command that notes (collecting?, anything frozen?) before and after ``resume``."""
    seen: list[tuple[bool, bool]] = []

    @main.command("probe-gc")
    def probe_gc() -> None:
        seen.append((gc.isenabled(), gc.get_freeze_count() > 0))
        resume()  # what migrations/env.py calls before the first migration
        seen.append((gc.isenabled(), gc.get_freeze_count() > 0))

    yield seen
    del main.commands["probe-gc"]


def test_collection_is_off_during_start_up_and_restored_after_the_command(probe: list[tuple[bool, bool]]) -> None:
    assert gc.isenabled()
    result = CliRunner().invoke(main, ["probe-gc"])
    assert result.exit_code == 0, result.output
    assert probe == [(False, False), (True, True)]
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_failing_command_restores_collection_too() -> None:
    @main.command("fail-gc")
    def fail_gc() -> None:
        raise click.UsageError("no")

    try:
        assert CliRunner().invoke(main, ["fail-gc"]).exit_code == 2
    finally:
        del main.commands["fail-gc"]
    assert gc.isenabled() and gc.get_freeze_count() == 0
