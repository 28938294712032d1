"""What a fleet run says: a line per target as it ends (targets done of total), then one summary."""

from __future__ import annotations

from polyalembic.fleet.run import OUTCOMES, TargetResult


def _counts(by_store: dict[str, int]) -> str:
    return ", ".join(f"{store} {n}" for store, n in sorted(by_store.items()))


def progress_line(result: TargetResult, done: int, total: int) -> str:
    """``[3/10] acme       migrated in 1.2 s (chromadb 1, postgres 2)``."""
    width = len(str(total))
    counts = result.applied or result.pending
    detail = f": {result.error}" if result.error else f" ({_counts(counts)})" if counts else ""
    return f"[{done:>{width}}/{total}] {result.name:<16} {result.outcome} in {result.seconds:.1f} s{detail}"


def summary(action: str, results: list[TargetResult]) -> list[str]:
    """The run's closing lines: targets per outcome, migrations per store, and who failed."""
    if not results:
        return [f"fleet {action}: no target to run (this shard holds none)"]
    counted = {outcome: [r.name for r in results if r.outcome == outcome] for outcome in OUTCOMES}
    lines = [f"fleet {action}: {len(results)} target(s): " +
             ", ".join(f"{len(names)} {outcome}" for outcome, names in counted.items() if names)]
    for label, attribute in (("applied", "applied"), ("pending", "pending")):
        total: dict[str, int] = {}
        for result in results:
            for store, n in getattr(result, attribute).items():
                total[store] = total.get(store, 0) + n
        if total:
            lines.append(f"  {label} per store: {_counts(total)}")
    lines += [f"  failed       {r.name}: {r.error}" for r in results if r.outcome == "failed"]
    if counted["not started"]:
        lines.append("  not started  " + ", ".join(counted["not started"]) +
                     " (a target failed and on_failure is stop: `--continue` goes on)")
    return lines
