"""``polyalembic validate``: checks the migration files (no server needed), then, when the ledger
is reachable, compares applied checksums with the files. Each problem names the file and the fix.

The files are read, never run: a revision's imports are checked to exist, not executed (an
upgrade loads every revision before it applies anything). What a file's text says (it parses,
defines upgrade and downgrade, its SQL parses) is kept in ``__pycache__`` while the file is
unchanged (``filecache``), so a long history costs a ``stat`` per file; what depends on other
files (pairs, numbering, installed modules) is checked every time.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyalembic.chain.filecache import FolderCache, Listing, Stamp, folder_stamps
from polyalembic.commands.status import MISMATCH, MISSING, read_status
from polyalembic.errors import PolyalembicError
from polyalembic.ledger.row_status import RowStatus
from polyalembic.project import Project
from polyalembic.stores import STORES, Store, is_store, pair_ops

NUMBERED = re.compile(r"^(?P<number>\d{3,})_(?P<name>[a-z0-9_]+?)(?P<rest>\.(up|down)\.\w+|\.py)$")
IGNORED_DIRS = {"__pycache__"}


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _function_is_empty(tree: ast.Module, name: str) -> bool | None:
    """None when ``name`` isn't defined as a function; True when its body does nothing."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            body = [n for n in node.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
            return all(isinstance(n, ast.Pass) for n in body)
        if isinstance(node, ast.Assign):
            targets = [t for tgt in node.targets for t in (tgt.elts if isinstance(tgt, ast.Tuple) else [tgt])]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return False
    return None


def check_files(migrations_dir: Path, search_path: list[str] | None = None,
                listing: Listing = folder_stamps) -> list[Problem]:
    """Everything that can be checked without a server; ``search_path``: where revisions import
    from besides ``sys.path`` (alembic.ini's ``prepend_sys_path``); ``listing``: a folder's file
    stamps."""
    problems: list[Problem] = []
    top = migrations_dir.name
    for entry in sorted(migrations_dir.iterdir()):
        if entry.is_dir() and entry.name not in IGNORED_DIRS and not is_store(entry.name):
            problems.append(Problem(f"{top}/{entry.name}",
                                    f"unknown store folder: rename it to one of {', '.join(STORES)}"))
    modules = _Modules(search_path or [])
    for store, spec in STORES.items():
        folder = migrations_dir / store
        if folder.is_dir():
            problems += _check_folder(_Folder(folder, f"{top}/{store}", listing(folder)), spec, modules)
    return problems


class _Folder:
    """One store folder's files, listed (with their stamps) in one pass."""

    def __init__(self, path: Path, shown: str, stamps: dict[str, Stamp]) -> None:
        self.path = path
        self.shown = shown  # as problems name it: migrations/<store>
        self.stamps = stamps

    def has(self, name: str) -> bool:
        return name in self.stamps


def _check_folder(folder: _Folder, spec: Store, modules: _Modules) -> list[Problem]:
    """The folder's problems; while none of its files changed, the verdict of the last look
    (the imports are checked anew: what is installed may have changed). The verdict and the
    per-file facts are kept apart, so that an unchanged folder reads one small file."""
    verdicts = FolderCache(folder.path, "verdict")
    verdict = verdicts.get_folder(folder.stamps, lambda: _folder_verdict(folder, spec))
    verdicts.save()
    # the verdict names files relative to the store folder: the migrations folder may be renamed
    problems = [Problem(folder.shown + where, message) for where, message in verdict["problems"]]
    for where, imports in verdict["imports"]:
        shown = folder.shown + where
        problems += [Problem(shown, f"imports {module}, which is not installed: install {module} or remove "
                             "the import") for module in modules.missing(imports)]
    return problems


def _folder_verdict(folder: _Folder, spec: Store) -> dict[str, Any]:
    cache = FolderCache(folder.path, "checks")
    problems: list[Problem] = []
    imports: list[tuple[str, list[str]]] = []
    numbers: dict[int, list[str]] = {}
    for name in sorted(folder.stamps):
        if name.startswith(".") or name == "__init__.py":
            continue
        shown = f"{folder.shown}/{name}"
        match = NUMBERED.match(name)
        if not match:
            problems.append(Problem(shown, "name must be NNN_name.py or NNN_name.up/.down file "
                                    "with [a-z0-9_] names: rename it"))
            continue
        suffix = name[name.rfind("."):]
        if suffix == ".py":
            numbers.setdefault(int(match["number"]), []).append(name)
            found, imported = _check_revision(folder, name, shown, spec.pair_suffix, cache)
            problems += found
            if imported:
                imports.append((shown, imported))
        elif suffix not in pair_ops() or suffix != spec.pair_suffix:
            problems.append(Problem(shown, f"{suffix} files don't belong in {spec.name}/"))
        elif name.endswith(f".up{suffix}") or name.endswith(f".down{suffix}"):
            problems += _check_pair_file(folder, name, shown, spec, cache)
    for number, names in sorted(numbers.items()):
        if len(names) > 1:
            problems.append(Problem(folder.shown, f"number {number:03d} is used by {', '.join(names)}: "
                                    "renumber one with `polyalembic generate`"))
    expected = list(range(1, len(numbers) + 1))
    if sorted(numbers) != expected:
        missing = sorted(set(range(1, max(numbers, default=0) + 1)) - set(numbers))
        if missing:
            problems.append(Problem(folder.shown, "numbering has a gap at "
                                    f"{', '.join(f'{n:03d}' for n in missing)}: renumber the later files"))
    cache.save()
    inside = len(folder.shown)
    return {"problems": [[p.path[inside:], p.message] for p in problems],
            "imports": [[shown[inside:], modules] for shown, modules in imports]}


class Unreadable(ValueError):
    """A migration file that is not UTF-8 text."""


def read_text(path: Path) -> str:
    """The file as UTF-8 (a byte-order mark dropped); Unreadable naming the first bad byte and its
    line otherwise."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise Unreadable(f"is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}): save it as UTF-8") \
            from None


class _Modules:
    """Whether top-level modules can be imported, found (not imported) once per run."""

    def __init__(self, search_path: list[str]) -> None:
        self._search_path = search_path
        self._found: dict[str, bool] = {}

    def missing(self, names: list[str]) -> list[str]:
        for name in names:
            if name not in self._found:
                try:
                    self._found[name] = importlib.util.find_spec(name) is not None or \
                        importlib.machinery.PathFinder.find_spec(name, self._search_path) is not None
                except (ImportError, ValueError):
                    self._found[name] = False
        return [name for name in names if not self._found[name]]


def _revision_facts(path: Path) -> dict[str, Any]:
    """What a revision file's text says: problems of its own, whether it binds a pair, and the
    top-level modules it imports."""
    try:
        text = read_text(path)
        tree = ast.parse(text, filename=str(path))
    except Unreadable as exc:
        return {"problems": [str(exc)], "uses_pair": False, "imports": []}
    except SyntaxError as exc:
        return {"problems": [f"does not parse (line {exc.lineno}: {exc.msg}): fix the syntax"],
                "uses_pair": False, "imports": []}
    imports = sorted({alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import)
                      for alias in node.names} |
                     {node.module.split(".")[0] for node in tree.body
                      if isinstance(node, ast.ImportFrom) and node.module and not node.level})
    if "migration_files" in text:
        return {"problems": [], "uses_pair": True, "imports": imports}
    problems = []
    for fn in ("upgrade", "downgrade"):
        empty = _function_is_empty(tree, fn)
        if empty is None:
            problems.append(f"defines no {fn}(): add it (every migration needs up and down)")
        elif empty:
            problems.append(f"{fn}() is empty: write it (every migration needs up and down)")
    return {"problems": problems, "uses_pair": False, "imports": imports}


def _check_revision(folder: _Folder, name: str, shown: str, pair_suffix: str | None,
                    cache: FolderCache) -> tuple[list[Problem], list[str]]:
    """The revision's problems, and the modules it imports (checked by the caller)."""
    facts = cache.get(name, [folder.stamps[name]], lambda: _revision_facts(folder.path / name))
    problems = [Problem(shown, message) for message in facts["problems"]]
    if facts["uses_pair"] and pair_suffix:
        stem = name.removesuffix(".py")
        for pair_file in (f"{stem}.{d}{pair_suffix}" for d in ("up", "down")):
            if not folder.has(pair_file):
                problems.append(Problem(shown, f"{pair_file} is missing: create it (every migration needs up "
                                        "and down)"))
    return problems, facts["imports"]


def _pair_file_facts(path: Path, store: Store) -> list[str]:
    try:
        return store.check_file(path, read_text(path))
    except Unreadable as exc:
        return [str(exc)]


def _check_pair_file(folder: _Folder, name: str, shown: str, store: Store, cache: FolderCache) -> list[Problem]:
    problems = []
    stem = name.split(".", 1)[0]
    if not folder.has(f"{stem}.py"):
        problems.append(Problem(shown, f"no {stem}.py binds it into the chain: create it with "
                                "`polyalembic generate` or copy a sibling's"))
    problems += [Problem(shown, message) for message in cache.get(name, [folder.stamps[name]],
                                                                 lambda: _pair_file_facts(folder.path / name, store))]
    other = "down" if ".up." in name else "up"
    twin = name.replace(".up." if other == "down" else ".down.", f".{other}.")
    if not folder.has(twin):
        problems.append(Problem(shown, f"{twin} is missing: create it (every migration needs up and down)"))
    return problems


def check_chain(project: Project) -> list[Problem]:
    """Loads the chain: every revision imports, declares a valid store, and there is one head."""
    try:
        project.chain()  # every revision imports and declares a store that matches its folder
        project.single_head()
    except PolyalembicError as exc:
        return [Problem("migrations", str(exc))]
    except Exception as exc:  # noqa: BLE001 - a broken chain is a user error
        return [Problem("migrations", f"the chain does not load: {exc}")]
    return []


def check_ledger(project: Project) -> list[Problem]:
    """Applied checksums compared with the files (only when the ledger is reachable)."""

    statuses, _ = read_status(project)
    problems = []
    for s in statuses:
        if s.state == MISMATCH:
            problems.append(Problem(f"migrations/{s.store}/{s.migration_file}",
                                    "changed after it was applied (checksum mismatch): revert the edit and "
                                    "write a new migration instead"))
        elif s.state == MISSING and s.status_in_ledger == RowStatus.APPLIED:
            problems.append(Problem(f"migrations/{s.store}/{s.migration_file}",
                                    "is applied but its file is gone: restore the file"))
        elif s.state == MISSING:
            problems.append(Problem(f"migrations/{s.store}/{s.migration_file}",
                                    f"is {s.status_in_ledger} in the ledger (never applied) and its file is gone: "
                                    f"`polyalembic repair forget {s.revision}` clears the row"))
    return problems
