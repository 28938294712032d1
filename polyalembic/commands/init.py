"""``polyalembic init``: a new project, or an existing Alembic project rewired to polyalembic.

Alembic's own ``init`` only knows the templates Alembic ships. ``init DIR`` writes what this
project's own layout holds (alembic.ini, ``migrations/env.py``, ``script.py.mako``, the seed's
``migrate.sh``/``generate.sh``, one folder per chosen store), from ``polyalembic/scaffold``.
``init --into DIR`` keeps an Alembic project's history where it is: its env.py is replaced by
polyalembic's (the old one kept beside it as ``env.py.alembic``), what that env.py configured is
carried over (``target_metadata`` becomes ``[polyalembic] target_metadata``; a connection handed
in through ``config.attributes["connection"]`` is used as before), and its versions folder is
declared as one store. Nothing is overwritten that exists; nothing is connected to.
"""

from __future__ import annotations

import ast
import os
import shutil
from importlib import resources
from pathlib import Path

from polyalembic.chain.inifile import IniFile, set_option
from polyalembic.errors import PolyalembicError
from polyalembic.stores import STORES, get_store

SCAFFOLD = ("env.py", "script.py.mako", "migrate.sh", "generate.sh")
ORIGINAL_ENV = "env.py.alembic"


def _scaffold(name: str) -> str:
    return resources.files("polyalembic.scaffold").joinpath(name).read_text(encoding="utf-8")


def _write_scaffold(migrations: Path, names: tuple[str, ...]) -> list[Path]:
    written = []
    for name in names:
        path = migrations / name
        if path.exists():
            continue
        path.write_text(_scaffold(name), encoding="utf-8")
        if name.endswith(".sh"):
            path.chmod(0o755)
        written.append(path)
    return written


def init(directory: Path, stores: list[str]) -> list[Path]:
    """A new project in ``directory`` for ``stores``; the files and folders made."""
    if not stores:
        raise PolyalembicError(f"--stores names no store: give one or more of {', '.join(STORES)}, comma-separated")
    for store in stores:
        get_store(store)  # one line naming the stores for an unknown one
    ini = directory / "alembic.ini"
    if ini.exists():
        raise PolyalembicError(f"{ini} exists: `polyalembic init --into {directory}` rewires an existing Alembic "
                               "project, or choose an empty folder")
    migrations = directory / "migrations"
    if migrations.exists() and any(migrations.iterdir()):
        raise PolyalembicError(f"{migrations} exists and is not empty: choose another folder, or "
                               f"`polyalembic init --into {directory}` for an Alembic project")
    migrations.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    for store in stores:
        folder = migrations / store
        folder.mkdir()
        (folder / ".gitkeep").write_text("")
        made.append(folder)
    variables = ", ".join(dict.fromkeys(key for store in stores for key in STORES[store].env_keys))
    ini.write_text(_scaffold("alembic.ini.template").format(
        stores_title=", ".join(stores), variables=variables,
        version_locations=" ".join(f"%(here)s/migrations/{store}" for store in stores)), encoding="utf-8")
    return [ini, *_write_scaffold(migrations, SCAFFOLD), *made]


def init_into(directory: Path, store: str) -> list[str]:
    """Rewire the Alembic project whose alembic.ini is in ``directory`` (its versions folder
    declared as ``store``); the lines saying what changed and what to do next."""
    get_store(store)
    ini_path = directory / "alembic.ini"
    ini = IniFile(ini_path)
    if not ini_path.is_file() or not ini.readable or ini.script_location is None:
        raise PolyalembicError(f"{ini_path}: no Alembic project here (an alembic.ini with [alembic] "
                               "script_location): `polyalembic init` makes a new one")
    migrations = _under(directory, ini.script_location)
    env = migrations / "env.py"
    if not env.is_file():
        raise PolyalembicError(f"{env}: no env.py in the script directory alembic.ini names: check script_location")
    lines = []
    text = env.read_text(encoding="utf-8")
    if "polyalembic.runtime" in text:
        raise PolyalembicError(f"{env} runs polyalembic already: nothing to rewire (`polyalembic validate` checks "
                               "the project)")
    metadata = target_metadata_of(text)
    folders = [_under(directory, folder) for folder in ini.version_folders() or [migrations / "versions"]]
    declared = {folder.name: store for folder in folders if folder.name not in STORES}
    if (migrations / ORIGINAL_ENV).exists():
        raise PolyalembicError(f"{migrations / ORIGINAL_ENV} exists: move it away first (it would be overwritten)")
    shutil.copy2(env, migrations / ORIGINAL_ENV)
    env.write_text(_scaffold("env.py"), encoding="utf-8")
    lines.append(f"rewired {os.path.relpath(env, directory)} (yours is kept as {ORIGINAL_ENV})")
    for path in _write_scaffold(migrations, ("migrate.sh", "generate.sh")):
        lines.append(f"created {os.path.relpath(path, directory)}")
    set_option(ini_path, "alembic", "revision_environment", "true")
    for folder, folder_store in declared.items():
        set_option(ini_path, "polyalembic.folders", folder, folder_store)
        lines.append(f"alembic.ini: [polyalembic.folders] {folder} = {folder_store}")
    if metadata:
        set_option(ini_path, "polyalembic", "target_metadata", metadata)
        lines.append(f"alembic.ini: [polyalembic] target_metadata = {metadata} (from your env.py)")
    elif metadata is None:
        lines.append("your env.py sets target_metadata in a way this can't carry over: name it in alembic.ini "
                     "([polyalembic] target_metadata = module:attribute) for autogenerate")
    variables = " / ".join(STORES[store].env_keys)
    if ini.option("sqlalchemy.url"):
        lines.append(f"alembic.ini's sqlalchemy.url is not read: set {variables} to that database (the environment "
                     "or [polyalembic] env_file)")
    lines.append("next: `polyalembic adopt alembic` records where the database is (alembic_version) as the "
                 "baseline; then `polyalembic status`")
    return lines


def _under(directory: Path, path: Path) -> Path:
    """``path`` as the project in ``directory`` means it (alembic.ini's relative paths are its folder's)."""
    return path if path.is_absolute() else directory / path


def _assigns(node: ast.stmt, name: str) -> bool:
    """Whether ``node`` is ``name = ...`` or ``name: T = ...``."""
    targets = node.targets if isinstance(node, ast.Assign) else \
        [node.target] if isinstance(node, ast.AnnAssign) and node.value is not None else []
    return any(isinstance(t, ast.Name) and t.id == name for t in targets)


def target_metadata_of(env_text: str) -> str | None:
    """``module:attribute`` for the MetaData an Alembic env.py assigns to ``target_metadata``;
    "" when it assigns None (or nothing), None when the expression can't be traced to an import."""
    try:
        tree = ast.parse(env_text)
    except SyntaxError:
        return None
    imported: dict[str, str] = {}  # local name -> "module:attribute" or "module"
    value: ast.expr | None = None
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                imported[alias.asname or alias.name] = f"{node.module}:{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                imported[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else \
                    alias.name.split(".")[0]
        elif _assigns(node, "target_metadata"):
            value = node.value  # type: ignore[attr-defined]
    if value is None and any(isinstance(n, ast.Name) and n.id == "target_metadata" and isinstance(n.ctx, ast.Store)
                             for n in ast.walk(tree)):
        return None  # set under an if, in a function...: not something to carry over blindly
    if value is None or (isinstance(value, ast.Constant) and value.value is None):
        return ""
    parts: list[str] = []
    while isinstance(value, ast.Attribute):
        parts.insert(0, value.attr)
        value = value.value
    if not isinstance(value, ast.Name) or value.id not in imported:
        return None
    root = imported[value.id]
    if ":" in root:
        return ".".join([root, *parts]) if parts else root
    return f"{root}:{'.'.join(parts)}" if parts else None
