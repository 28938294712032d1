"""How revisions hang together: parents before children, whatever the ids look like.

One order for every path (the index, Alembic's loaded scripts, the runs env.py drives): a
revision comes after its ``down_revision`` (several at a merge) and its ``depends_on``; among
revisions free to come next, the one continuing the branch just taken comes first, then the one
whose file sorts first. A linear history is simply its chain. Two files defining one id (two
team branches that each generated the same next revision) are refused here, by name: Alembic
alone would keep one and silently drop the other.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from polyalembic.errors import PolyalembicError


class Node(Protocol):
    """What ordering needs of a revision (an index entry or a migration)."""

    @property
    def revision(self) -> str: ...
    @property
    def down(self) -> tuple[str, ...]: ...
    @property
    def depends(self) -> tuple[str, ...]: ...
    @property
    def labels(self) -> tuple[str, ...]: ...
    @property
    def path(self) -> Path: ...
    @property
    def directory(self) -> Path: ...
    @property
    def filename(self) -> str: ...


N = TypeVar("N", bound=Node)


def unique_ids(nodes: Iterable[N]) -> dict[str, N]:
    """The nodes by id; one line naming both files when two define the same id."""
    by_id: dict[str, N] = {}
    for node in nodes:
        other = by_id.setdefault(node.revision, node)
        if other is not node:
            raise PolyalembicError(
                f"{other.path} and {node.path} both define revision {node.revision!r} (Alembic would keep "
                f"one and drop the other): `polyalembic rebase {node.path.name}` moves the second after the first")
    return by_id


def resolver(by_id: dict[str, N]) -> Callable[[str, N], str]:
    """Turns what a ``depends_on`` names (an id or a branch label, as Alembic takes it) into an id."""
    labels = {label: node.revision for node in by_id.values() for label in node.labels}

    def resolve(name: str, node: N) -> str:
        if name in by_id:
            return name
        if name in labels:
            return labels[name]
        close = [rev for rev in by_id if rev.startswith(name)][:3]
        hint = f" (did you mean {', '.join(close)}? Alembic takes whole ids only)" if close else ""
        raise PolyalembicError(f"{node.path}: depends_on names {name!r}, which is no revision or branch label"
                               f"{hint}: give a revision id or a branch label")
    return resolve


def in_order(nodes: Sequence[N], key: Callable[[N], tuple[object, ...]] | None = None) -> list[N]:
    """``nodes`` parents first (``key``: how ties sort; default the file's folder and name, without
    making a path per revision). One line naming the file for a duplicate id, a parent no file
    defines, or a cycle."""
    by_id = unique_ids(nodes)
    resolve = resolver(by_id)
    sort_key = key or (lambda n: (str(n.directory), n.filename))
    waiting: dict[str, int] = {}
    children: dict[str, list[str]] = {rev: [] for rev in by_id}
    for node in nodes:
        parents = set(node.down) | {resolve(name, node) for name in node.depends}
        for parent in parents:
            if parent not in by_id:
                raise PolyalembicError(f"{node.path}: down_revision names {parent!r}, which no revision file "
                                       "defines: correct it or restore that file")
            children[parent].append(node.revision)
        waiting[node.revision] = len(parents)
    ready = [(sort_key(by_id[rev]), rev) for rev, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    ordered: list[N] = []
    follow: str | None = None  # the child of the revision just taken that goes next
    while ready or follow:
        if follow is None:
            rev = heapq.heappop(ready)[1]
        else:
            rev, follow = follow, None
        ordered.append(by_id[rev])
        freed = []
        for child in children[rev]:
            waiting[child] -= 1
            if waiting[child] == 0:
                freed.append((sort_key(by_id[child]), child))
        if freed:
            freed.sort()
            follow = freed[0][1]
            for item in freed[1:]:
                heapq.heappush(ready, item)
    if len(ordered) < len(by_id):
        stuck = sorted(rev for rev, count in waiting.items() if count)
        raise PolyalembicError(f"{by_id[stuck[0]].path}: revision {stuck[0]!r} is part of a cycle of down_revision/"
                               "depends_on: point one of them at an older revision")
    return ordered


def heads(nodes: Iterable[N]) -> list[N]:
    """The revisions no other revision names as its ``down_revision``, in the nodes' order."""
    listed = list(nodes)
    parents = {parent for node in listed for parent in node.down}
    return [node for node in listed if node.revision not in parents]


def ancestors(by_id: dict[str, N], revisions: Iterable[str], resolve: Callable[[str, N], str]) -> set[str]:
    """``revisions`` and everything they stand on (down revisions and dependencies)."""
    found: set[str] = set()
    todo = [rev for rev in revisions if rev in by_id]
    while todo:
        rev = todo.pop()
        if rev in found:
            continue
        found.add(rev)
        node = by_id[rev]
        todo += [*node.down, *(resolve(name, node) for name in node.depends)]
    return found
