"""A history written the way long-lived Alembic projects look: hex revision ids (one all digits,
one file named by date), two branch-and-merge points, a branch label another revision
``depends_on``, and data migrations that can't be undone. Each schema revision creates a table
of its own, so what an upgrade or a downgrade really did is read back from the database."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

ALL_DIGITS_ID = "757731924605"  # a hex id Alembic can generate; an older validate read it as a number

REVISION = '''"""{message}

Revision ID: {revision}
Revises: {revises}
"""
from alembic import op

revision = {revision!r}
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = {depends!r}
{extra}

def upgrade():
{upgrade}
{downgrade}'''


@dataclass
class History:
    """What was written: ids in the order they were written, and the interesting ones."""

    folder: Path
    revisions: list[str] = field(default_factory=list)
    merges: list[str] = field(default_factory=list)
    branch_points: list[str] = field(default_factory=list)
    irreversible: list[str] = field(default_factory=list)
    label: str = "reports"
    labelled: str = ""
    depending: str = ""
    files: dict[str, str] = field(default_factory=dict)  # revision -> file name
    parents: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def head(self) -> str:
        return self.revisions[-1]

    @property
    def tables(self) -> list[str]:
        """The tables the schema revisions create."""
        return [f"t_{rev}" for rev in self.revisions if rev not in self.merges and rev not in self.irreversible]


def rev_id(i: int) -> str:
    return ALL_DIGITS_ID if i == 1 else hashlib.sha1(f"revision {i}".encode()).hexdigest()[:12]


def write_history(folder: Path, count: int = 300, alembic_style_irreversible: bool = False) -> History:
    """``count`` revisions in ``folder`` (made if missing). Irreversible data migrations say
    ``irreversible = True``; ``alembic_style_irreversible``: they say it the way plain Alembic
    projects do instead (a downgrade that does nothing, one that raises, none at all)."""
    folder.mkdir(parents=True, exist_ok=True)
    history = History(folder)
    first_fork, second_fork = count // 3, (2 * count) // 3
    data_at = [count // 2, count - 6]  # each placed at the first revision on the main line from there
    tip: tuple[str, ...] = ()
    i = 0

    def add(parents: tuple[str, ...], kind: str = "table", labels: tuple[str, ...] | None = None,
            depends: str | None = None) -> str:
        nonlocal i
        i += 1
        rev = rev_id(i)
        table = f"t_{rev}"
        extra, down = "", f"\ndef downgrade():\n    op.execute('DROP TABLE {table}')\n"
        body = f"    op.execute('CREATE TABLE {table} (id int)')"
        if kind == "merge":
            body, down = "    pass", "\ndef downgrade():\n    pass\n"
            history.merges.append(rev)
        elif kind == "data":
            target = f"t_{history.tables[-1][2:]}"
            body = f"    op.execute('INSERT INTO {target} VALUES (1), (2), (3)')"
            history.irreversible.append(rev)
            if not alembic_style_irreversible:
                extra, down = "irreversible = True", ""
            else:
                down = ["\ndef downgrade():\n    pass\n",
                        "\ndef downgrade():\n    raise NotImplementedError('data migration')\n",
                        ""][len(history.irreversible) % 3]
        down_value: str | tuple[str, ...] | None = parents[0] if len(parents) == 1 else (parents or None)
        text = REVISION.format(message=f"{kind} {i}", revision=rev, revises=", ".join(parents), down=down_value,
                               labels=labels, depends=depends, extra=extra, upgrade=body, downgrade=down)
        name = f"20240101{i:06d}_{kind}_{i}.py" if i == 7 else f"{rev}_{kind}_{i}.py"
        (folder / name).write_text(text)
        history.revisions.append(rev)
        history.files[rev] = name
        history.parents[rev] = parents
        return rev

    while len(history.revisions) < count - 1:
        n = len(history.revisions)
        if n in (first_fork, second_fork):
            fork = tip[0]
            history.branch_points.append(fork)
            left = add((fork,))
            labels = (history.label,) if n == first_fork else None
            right = add((fork,), labels=labels)
            if labels:
                history.labelled = right
            for _ in range(2):
                left = add((left,))
                right = add((right,), depends=history.label if n == second_fork and not history.depending else None)
                if n == second_fork and not history.depending:
                    history.depending = right
            tip = (add((left, right), kind="merge"),)
        elif len(history.irreversible) < len(data_at) and n >= data_at[len(history.irreversible)]:
            tip = (add(tip, kind="data"),)
        else:
            tip = (add(tip),)
    add(tip)
    return history


def alembic_ini(root: Path, folder: str = "versions", store: str = "postgres", extra: str = "") -> Path:
    """An alembic.ini whose one version folder (``migrations/<folder>``) is declared as ``store``."""
    path = root / "alembic.ini"
    path.write_text(f"[alembic]\nscript_location = %(here)s/migrations\n"
                    f"version_locations = %(here)s/migrations/{folder}\npath_separator = space\n"
                    f"prepend_sys_path = .\n\n[polyalembic]\n{extra}\n[polyalembic.folders]\n{folder} = {store}\n\n"
                    + LOGGING)
    return path


#: alembic.ini's logging sections, as ``alembic init`` writes them
LOGGING = """[loggers]
keys = root,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
"""
