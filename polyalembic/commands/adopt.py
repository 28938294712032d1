"""``polyalembic adopt alembic``: take over an Alembic project where its databases already are.

A database an Alembic project migrated holds ``alembic_version`` but no polyalembic ledger, so
every revision would read as pending. Adopting records the revision ``alembic_version`` holds as
the project's baseline (alembic.ini, ``[polyalembic] baseline``) and, under the migration lock
and in one transaction, an ``applied`` row audited as ``adopt`` for that revision and every
revision it stands on: ``status`` is truthful at once and nothing runs. The history up to the
baseline is then taken as Alembic takes it: polyalembic's rules (up and down in every file,
naming) apply to what comes after.
"""

from __future__ import annotations

from polyalembic.chain.inifile import set_option
from polyalembic.chain.positions import History
from polyalembic.errors import PolyalembicError
from polyalembic.ledger.reads import current_heads, sa_query
from polyalembic.ledger.row_status import RowStatus
from polyalembic.ledger.writes import Ledger, connect_ledger, locked, read_rows
from polyalembic.masking import mask_dsn
from polyalembic.project import Project

ACTION = "adopt"


def adopt_alembic(project: Project) -> str:
    """Record the revision ``alembic_version`` holds as the baseline, and it and everything it
    stands on as applied; one line saying what was recorded."""
    assert project.settings is not None
    history = History(project.chain())
    where = mask_dsn(project.settings.ledger_dsn)
    with locked(project.settings, project.request.lock_timeout), connect_ledger(project.settings) as conn, \
            conn.begin():
        heads = current_heads(sa_query(conn))
        if not heads:
            raise PolyalembicError(f"adopt alembic: alembic_version in {where} holds no revision (the database is "
                                   "at base): nothing to adopt, `polyalembic up` applies the history")
        if len(heads) > 1:
            raise PolyalembicError(f"adopt alembic: alembic_version in {where} holds several heads "
                                   f"({', '.join(heads)}): `alembic upgrade heads` to the merge that joins them "
                                   "first, then adopt")
        baseline = heads[0]
        if baseline not in history.by_id:
            raise PolyalembicError(f"adopt alembic: alembic_version in {where} is at {baseline!r}, which no revision "
                                   f"file of {project.config_path.name} defines: point -c at the project that "
                                   "migrated this database")
        if project.baseline not in (None, baseline):
            raise PolyalembicError(f"adopt alembic: {project.config_path.name} has a baseline already "
                                   f"({project.baseline}) and alembic_version is at {baseline}: what came after the "
                                   "baseline is recorded as it runs; nothing to adopt (correct [polyalembic] baseline "
                                   "by hand if it is wrong)")
        rows = {row.revision: row for row in read_rows(conn)}
        covered = history.applied((baseline,))
        unfinished = [r for rev, r in rows.items() if rev in covered and r.status != RowStatus.APPLIED]
        if unfinished:
            row = unfinished[0]
            raise PolyalembicError(f"adopt alembic: the ledger says {row.revision} is {row.status}, yet "
                                   f"alembic_version stands on it: `polyalembic status` shows it, `polyalembic repair` "
                                   "decides about it; nothing was recorded")
        missing = [m for m in history.chain if m.revision in covered and m.revision not in rows]
        ledger = Ledger(project.settings.ledger_store)
        for m in missing:
            ledger.applied(conn.execute, m, None, action=ACTION)
        set_option(project.config_path, "polyalembic", "baseline", baseline)  # before the rows commit
    pending = len(history.chain) - len(covered)
    return (f"adopted: {len(missing)} revision(s) up to {baseline} recorded as applied (audited as {ACTION}); "
            f"{project.config_path.name}: baseline = {baseline}; {pending} pending after it")
