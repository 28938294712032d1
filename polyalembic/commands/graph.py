"""``polyalembic graph``: the history as a picture, Graphviz DOT or Mermaid (which GitHub renders in
Markdown), or SVG/PNG through Graphviz's ``dot`` where it is installed.

One node per revision, coloured by its store; one edge per parent (``down_revision``: two into a
merge, two out of a branch point), and a dashed one per ``depends_on``. When the ledger is
reachable each node says its state: applied (filled), pending (outlined), failed or half done (red).

Lazy imports: the ledger's reads, only when the states are drawn.
"""

from __future__ import annotations

import shutil
import subprocess

from polyalembic.chain.migration import Migration
from polyalembic.chain.order import resolver
from polyalembic.errors import PolyalembicError, StoreUnavailable
from polyalembic.project import Project

FORMATS = ("dot", "mermaid", "svg", "png")
#: a fill per store, in registry order; a fifth store takes the next
PALETTE = ("#cfe2ff", "#d1e7dd", "#fff3cd", "#e2d9f3", "#f8d7da", "#d3d3d3")
_TROUBLE = {"failed", "running", "checksum mismatch"}


def states_of(project: Project) -> tuple[dict[str, str], str | None]:
    """revision -> state from the ledger, and why there are none (no ledger reachable)."""
    from polyalembic.commands.status import read_status

    try:
        statuses, _ = read_status(project)
    except StoreUnavailable as exc:
        return {}, str(exc).splitlines()[0]
    return {s.revision: s.state for s in statuses}, None


def render(chain: list[Migration], states: dict[str, str], fmt: str) -> str:
    """The history as ``dot`` or ``mermaid`` text."""
    stores = list(dict.fromkeys(m.store for m in chain))
    fill = {store: PALETTE[i % len(PALETTE)] for i, store in enumerate(stores)}
    node = {m.revision: f"r{i}" for i, m in enumerate(chain)}
    resolve = resolver({m.revision: m for m in chain})
    edges = [(node[parent], node[m.revision], False) for m in chain for parent in m.down]
    edges += [(node[resolve(name, m)], node[m.revision], True) for m in chain for name in m.depends]
    if fmt == "mermaid":
        return _mermaid(chain, states, fill, node, edges)
    return _dot(chain, states, fill, node, edges)


def _label(m: Migration, state: str | None) -> str:
    return f"{m.revision}\\n{m.store} {m.filename}" + (f"\\n{state}" if state else "")


def _dot(chain: list[Migration], states: dict[str, str], fill: dict[str, str], node: dict[str, str],
         edges: list[tuple[str, str, bool]]) -> str:
    lines = ["digraph history {", "  rankdir=BT;", '  node [shape=box, style="rounded,filled", fontname="Helvetica"];']
    for store, colour in fill.items():
        lines.append(f'  // {store}: {colour}')
    for m in chain:
        state = states.get(m.revision)
        style = '"rounded,filled"' if state in (None, "applied") else '"rounded,dashed"' if state == "pending" else \
            '"rounded,filled,bold"'
        colour = "#c0392b" if state in _TROUBLE else "black"
        shape = "ellipse" if m.is_merge else "box"
        lines.append(f'  {node[m.revision]} [label="{_label(m, state)}", fillcolor="{fill[m.store]}", '
                     f'style={style}, color="{colour}", shape={shape}];')
    for parent, child, dependency in edges:
        lines.append(f"  {parent} -> {child}" + (' [style=dashed, label="depends_on"];' if dependency else ";"))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid(chain: list[Migration], states: dict[str, str], fill: dict[str, str], node: dict[str, str],
             edges: list[tuple[str, str, bool]]) -> str:
    lines = ["flowchart BT"]
    for m in chain:
        state = states.get(m.revision)
        text = _label(m, state).replace("\\n", "<br/>").replace('"', "'")
        opening, closing = ("((", "))") if m.is_merge else ("[", "]")
        lines.append(f'  {node[m.revision]}{opening}"{text}"{closing}')
    for parent, child, dependency in edges:
        lines.append(f"  {parent} -.->|depends_on| {child}" if dependency else f"  {parent} --> {child}")
    for i, (store, colour) in enumerate(fill.items()):
        lines.append(f"  classDef store{i} fill:{colour},stroke:#333")
        members = [node[m.revision] for m in chain if m.store == store]
        lines.append(f"  class {','.join(members)} store{i}")
    trouble = [node[m.revision] for m in chain if states.get(m.revision) in _TROUBLE]
    pending = [node[m.revision] for m in chain if states.get(m.revision) == "pending"]
    if pending:
        lines += ["  classDef pending stroke-dasharray: 5 5", f"  class {','.join(pending)} pending"]
    if trouble:
        lines += ["  classDef trouble stroke:#c0392b,stroke-width:3px", f"  class {','.join(trouble)} trouble"]
    return "\n".join(lines) + "\n"


def drawn(dot_text: str, fmt: str) -> bytes:
    """The picture Graphviz's ``dot`` draws of ``dot_text``; one line when it is not installed."""
    dot = shutil.which("dot")
    if dot is None:
        raise PolyalembicError(f"graph --format {fmt} needs Graphviz's dot (apt-get install graphviz): "
                               "--format dot or mermaid needs nothing")
    result = subprocess.run([dot, f"-T{fmt}"], input=dot_text.encode(), capture_output=True, timeout=120)
    if result.returncode != 0:
        reason = result.stderr.decode(errors="replace").strip().splitlines()
        raise PolyalembicError(f"graph: dot failed: {reason[0] if reason else f'exit {result.returncode}'}")
    return result.stdout
