"""What the fleet tests' revisions record about where they ran (tests/test_fleet_graphs.py).

A revision of a fleet runs in a worker process that migrates target after target. Written into
each store as a marker, these say which target's run wrote it (the database Alembic's ``op`` is
bound to: the target's ledger), in which process, and which servers that process held
connections to at that moment: read back through each store's own driver, they show whether a
connection, or Alembic's module-level ``op``/``context``, outlived one target into the next.
Read from /proc (Linux, as the stack is), so no package is needed for it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

#: /proc/net/tcp's states of a connection the process still holds: established, or closed by the
#: server and not yet by the process (CLOSE_WAIT: an idle keep-alive connection the server gave up)
HELD = ("01", "08")


def ledger_database(op: Any) -> str:
    """The database of the connection Alembic's ``op`` proxy hands this revision (the ledger's)."""
    import sqlalchemy as sa

    return str(op.get_bind().execute(sa.text("SELECT current_database()")).scalar_one())


def _socket_inodes() -> set[str]:
    """The inodes of the sockets this process holds open."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


def connections() -> list[tuple[int, int]]:
    """(local port, remote port) of every TCP connection this process holds, sorted."""
    mine = _socket_inodes()
    found = []
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            if state in HELD and inode in mine:
                found.append((int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16)))
    return sorted(found)


def remote_ports() -> str:
    """The servers' ports this process is connected to, one per connection ("5432,7687,7687")."""
    return ",".join(str(remote) for _, remote in connections())


def local_ports() -> list[int]:
    """This process's own ends of its connections (``pg_stat_activity.client_port`` names them)."""
    return [local for local, _ in connections()]
