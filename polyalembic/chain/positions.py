"""Where the databases stand in the history and what up, down and stamp would run from there.

What is applied is what the heads Alembic's version table holds stand on (their ancestors), so
a history with branches, merges and ``depends_on`` needs no position arithmetic: an upgrade runs
what the target stands on and is not applied yet, in the history's order; ``down N`` reverts the
last N applied, newest first, and stops in front of an irreversible revision.
"""

from __future__ import annotations

from polyalembic.chain.migration import DECLARED_IRREVERSIBLE, REVERSIBLE, Migration
from polyalembic.chain.order import ancestors, resolver
from polyalembic.errors import PolyalembicError
from polyalembic.pairs import is_stub, stub_refusal


class History:
    """The migrations of a project in the history's order, and the questions asked of them."""

    def __init__(self, chain: list[Migration]) -> None:
        self.chain = chain
        self.by_id = {m.revision: m for m in chain}
        self._resolve = resolver(self.by_id)

    def applied(self, heads: tuple[str, ...]) -> set[str]:
        """Every revision the version table's ``heads`` stand on; an error naming one no file defines."""
        for head in heads:
            if head not in self.by_id:
                raise PolyalembicError(f"the database is at revision {head!r}, which no migration file defines: "
                                       "restore its file, or, if the ledger database is another project's too, "
                                       "give each project a schema of its own there (POLYALEMBIC_LEDGER_SCHEMA)")
        return ancestors(self.by_id, heads, self._resolve)

    def upgrade_plan(self, heads: tuple[str, ...], target: str = "head") -> list[Migration]:
        """What an upgrade to ``target`` runs, in order: what it stands on that is not applied."""
        applied = self.applied(heads)
        if target in ("head", "heads"):
            return [m for m in self.chain if m.revision not in applied]
        if target == "base":
            return []
        wanted = self.chain[resolve(self.chain, target)].revision
        if wanted in applied and wanted not in heads:
            raise PolyalembicError(f"{target!r} is already applied (current: {', '.join(heads)}); use down to go back")
        needed = ancestors(self.by_id, [wanted], self._resolve)
        return [m for m in self.chain if m.revision in needed and m.revision not in applied]

    def downgrade_plan(self, heads: tuple[str, ...], steps: int) -> list[Migration]:
        """The last ``steps`` applied migrations, newest first; one line naming the first
        irreversible one among them."""
        if steps < 1:
            raise PolyalembicError(f"down takes a positive number of migrations, got {steps}")
        applied = self.applied(heads)
        done = [m for m in self.chain if m.revision in applied]
        if steps > len(done):
            raise PolyalembicError(f"cannot roll back {steps} migrations: only {len(done)} applied "
                                   f"(`down {len(done)}` reverts them all)" if done else
                                   f"cannot roll back {steps} migrations: none is applied")
        plan = list(reversed(done[len(done) - steps:]))
        refuse_irreversible(plan)
        return plan


def refuse_irreversible(plan: list[Migration]) -> None:
    """One line naming the first irreversible migration of a downgrade ``plan`` (newest first),
    or the first whose down file is still the stub ``adopt`` wrote."""
    for k, m in enumerate(plan):
        if m.pair and is_stub(m.pair[1]):
            after = f": `down {k}` reverts the {k} applied after it" if k else ""
            raise PolyalembicError(f"{stub_refusal(m.revision, m.pair[1], m.pair[0].name)}{after}")
        if m.reversal != REVERSIBLE:
            why = "it declares irreversible = True" if m.reversal == DECLARED_IRREVERSIBLE else \
                "its downgrade() is missing, empty or only raises"
            after = f"`down {k}` reverts the {k} applied after it" if k else \
                "nothing applied after it is left to revert"
            raise PolyalembicError(f"cannot roll back {m.store} {m.migration_file} ({m.revision}): it is irreversible "
                                   f"({why}): {after}")


def resolve(chain: list[Migration], target: str) -> int:
    """Position of ``target`` (``head``, ``base``, a revision or a unique prefix of one or of its
    file) in the chain; one line naming the candidates when it is unknown or ambiguous."""
    if target in ("head", "heads"):
        return len(chain) - 1
    if target == "base":
        return -1
    exact = [i for i, m in enumerate(chain) if m.revision == target]
    matches = exact or [i for i, m in enumerate(chain) if m.revision.startswith(target)
                        or m.migration_file.startswith(target)]
    if not matches:
        raise PolyalembicError(f"unknown revision {target!r}: `polyalembic status` lists the revisions")
    if len(matches) > 1:
        candidates = ", ".join(chain[i].revision for i in matches[:5]) + (", …" if len(matches) > 5 else "")
        raise PolyalembicError(f"revision {target!r} is ambiguous ({candidates}): give more of it")
    return matches[0]
