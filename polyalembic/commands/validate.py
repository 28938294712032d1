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
from collections.abc import Mapping, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from polyalembic.chain.filecache import FolderCache, Listing, Stamp, folder_stamps
from polyalembic.chain.index import binds_pair, constant_of, ids_of, reversal
from polyalembic.chain.loader import folder_store
from polyalembic.chain.migration import NO_DOWNGRADE, Migration
from polyalembic.chain.positions import History
from polyalembic.commands.status import MISMATCH, MISSING, read_status
from polyalembic.errors import PolyalembicError
from polyalembic.ledger.row_status import RowStatus
from polyalembic.pairs import is_stub
from polyalembic.project import Project
from polyalembic.stores import STORES, Store, pair_ops

NUMBERED = re.compile(r"^(?P<number>\d{3,})_(?P<name>[a-z0-9_]+?)(?P<rest>\.(up|down)\.\w+|\.py)$")
#: what Alembic reads as a revision file (``alembic.script.base._only_source_rev_file``)
REVISION_FILE = re.compile(r"^(?!\.\#|__init__).*\.py$")
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


def check_files(migrations_dir: Path, search_path: list[str] | None = None, listing: Listing = folder_stamps,
                folder_stores: Mapping[str, str] | None = None, adopted: Set[str] = frozenset()) -> list[Problem]:
    """Everything that can be checked without a server; ``search_path``: where revisions import
    from besides ``sys.path`` (alembic.ini's ``prepend_sys_path``); ``listing``: a folder's file
    stamps; ``folder_stores``: alembic.ini's ``[polyalembic.folders]``; ``adopted``: the revisions
    up to the adopted baseline, which are taken as Alembic takes them (no up/down rule)."""
    problems: list[Problem] = []
    top = migrations_dir.name
    declared = folder_stores or {}
    folders: list[tuple[Path, Store]] = []
    for entry in sorted(migrations_dir.iterdir()):
        if not entry.is_dir() or entry.name in IGNORED_DIRS:
            continue
        store = folder_store(entry.name, declared)
        if store is None:
            problems.append(Problem(f"{top}/{entry.name}", "unknown store folder: rename it to one of "
                                    f"{', '.join(STORES)}, or declare its store in alembic.ini "
                                    f"([polyalembic.folders] {entry.name} = postgres)"))
        else:
            folders.append((entry, STORES[store]))
    modules = _Modules(search_path or [])
    for folder, spec in folders:
        problems += _check_folder(_Folder(folder, f"{top}/{folder.name}", listing(folder)), spec, modules, adopted)
    return problems


def adopted_revisions(chain: list[Migration], baseline: str | None) -> set[str]:
    """The baseline and every revision it stands on (none without a baseline); one line when no
    file defines the baseline."""
    if baseline is None:
        return set()
    history = History(chain)
    if baseline not in history.by_id:
        raise PolyalembicError(f"alembic.ini: [polyalembic] baseline = {baseline}, which no revision file defines: "
                               "restore that file or correct the baseline")
    return history.applied((baseline,))


class _Folder:
    """One store folder's files, listed (with their stamps) in one pass."""

    def __init__(self, path: Path, shown: str, stamps: dict[str, Stamp]) -> None:
        self.path = path
        self.shown = shown  # as problems name it: migrations/<store>
        self.stamps = stamps

    def has(self, name: str) -> bool:
        return name in self.stamps


def _check_folder(folder: _Folder, spec: Store, modules: _Modules, adopted: Set[str]) -> list[Problem]:
    """The folder's problems; while none of its files changed, the verdict of the last look
    (the imports are checked anew: what is installed may have changed, and so are the rules
    the baseline lifts). The verdict and the per-file facts are kept apart, so that an unchanged
    folder reads one small file."""
    verdicts = FolderCache(folder.path, f"verdict-{spec.name}")  # a folder declared another store is checked anew
    verdict = verdicts.get_folder(folder.stamps, lambda: _folder_verdict(folder, spec))
    verdicts.save()
    # the verdict names files relative to the store folder: the migrations folder may be renamed
    problems = [Problem(folder.shown + where, message) for where, message in verdict["problems"]]
    problems += [Problem(folder.shown + where, message) for where, revision, message in verdict["rules"]
                 if revision not in adopted]
    for where, imports in verdict["imports"]:
        shown = folder.shown + where
        problems += [Problem(shown, f"imports {module}, which is not installed: install {module} or remove "
                             "the import") for module in modules.missing(imports)]
    return problems


def _folder_verdict(folder: _Folder, spec: Store) -> dict[str, Any]:
    """The folder's problems from its files alone: ``problems`` always hold, ``rules`` (revision,
    problem) hold after an adopted baseline only."""
    cache = FolderCache(folder.path, f"checks-{spec.name}")
    problems: list[Problem] = []
    rules: list[tuple[str, str | None, str]] = []
    imports: list[tuple[str, list[str]]] = []
    numbers: dict[int, list[str]] = {}
    for name in sorted(folder.stamps):
        if name.startswith(".") or name == "__init__.py":
            continue
        shown = f"{folder.shown}/{name}"
        match = NUMBERED.match(name)
        suffix = name[name.rfind("."):] if "." in name else ""
        if suffix == ".py" and REVISION_FILE.match(name):
            found, facts = _check_revision(folder, name, shown, spec.pair_suffix, cache)
            problems += found
            rules += [(shown, facts.revision, message) for message in facts.rules]
            if facts.imports:
                imports.append((shown, list(facts.imports)))
            number = name.split("_", 1)[0]
            # polyalembic's numbering: NNN_name.py defining <store>_…; an Alembic name (hex id, date) is not
            if number.isdigit() and (facts.revision or "").startswith(f"{spec.name}_"):
                numbers.setdefault(int(number), []).append(name)
                if not match:
                    rules.append((shown, facts.revision, "name must be NNN_name.py with a [a-z0-9_] name: "
                                  "rename it"))
        elif suffix not in pair_ops() or suffix != spec.pair_suffix:
            problems.append(Problem(shown, f"{suffix} files don't belong in {folder.path.name}/" if suffix in pair_ops()
                                    else "is neither a revision (.py) nor one of its .up/.down files: move it "
                                    f"out of {folder.path.name}/"))
        elif name.endswith(f".up{suffix}") or name.endswith(f".down{suffix}"):
            problems += _check_pair_file(folder, name, shown, spec, cache)
        else:
            problems.append(Problem(shown, f"a {suffix} file is NNN_name.up{suffix} or NNN_name.down{suffix}: "
                                    "rename it"))
    problems += _numbering(folder, numbers)
    cache.save()
    inside = len(folder.shown)
    return {"problems": [[p.path[inside:], p.message] for p in problems],
            "rules": [[shown[inside:], revision, message] for shown, revision, message in rules],
            "imports": [[shown[inside:], modules] for shown, modules in imports]}


def _numbering(folder: _Folder, numbers: dict[int, list[str]]) -> list[Problem]:
    """Numbers used twice, and gaps, among the folder's ``<store>_NNN`` revisions: in time and
    memory of the files, whatever the numbers."""
    problems = []
    for number, names in sorted(numbers.items()):
        if len(names) > 1:
            problems.append(Problem(folder.shown, f"number {number:03d} is used by {', '.join(names)}: "
                                    f"`polyalembic rebase {names[-1]}` moves one after the other"))
    gaps, previous = [], 0
    for number in sorted(numbers):
        if number > previous + 1:
            gaps.append(f"{previous + 1:03d}" if number == previous + 2 else f"{previous + 1:03d}-{number - 1:03d}")
        previous = number
    if gaps:
        problems.append(Problem(folder.shown, f"numbering has a gap at {', '.join(gaps)}: renumber the later files"))
    return problems


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


class RevisionFacts(NamedTuple):
    """What a revision file's text says (kept per file as a plain tuple: thousands of them)."""

    problems: tuple[str, ...] = ()  # its own, always
    rules: tuple[str, ...] = ()  # polyalembic's rules it breaks (lifted before an adopted baseline)
    revision: str | None = None
    uses_pair: bool = False  # binds .up/.down files
    imports: tuple[str, ...] = ()  # the top-level modules it imports


def _revision_facts(path: Path) -> tuple[Any, ...]:
    """The ``RevisionFacts`` of a revision file, as a tuple."""
    try:
        text = read_text(path)
        tree = ast.parse(text, filename=str(path))
    except Unreadable as exc:
        return tuple(RevisionFacts(problems=(str(exc),)))
    except SyntaxError as exc:
        return tuple(RevisionFacts(problems=(f"does not parse (line {exc.lineno}: {exc.msg}): fix the syntax",)))
    revision = constant_of(tree, "revision")
    revision = revision if isinstance(revision, str) else None
    imports = tuple(sorted({alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import)
                            for alias in node.names} |
                           {node.module.split(".")[0] for node in tree.body
                            if isinstance(node, ast.ImportFrom) and node.module and not node.level}))
    if binds_pair(tree):
        return tuple(RevisionFacts(revision=revision, uses_pair=True, imports=imports))
    if len(ids_of(tree, "down_revision")) > 1:  # a merge joins two branches: empty both ways is its whole job
        return tuple(RevisionFacts(revision=revision, imports=imports))
    rules = []
    empty = _function_is_empty(tree, "upgrade")
    if empty is None:
        rules.append("defines no upgrade(): add it (every migration needs up and down)")
    elif empty:
        rules.append("upgrade() is empty: write it (every migration needs up and down)")
    if reversal(tree, merge=False) == NO_DOWNGRADE:
        rules.append("has no working downgrade() (missing, empty, or ending in raise): write it, or declare "
                     "irreversible = True if it can't be undone")
    return tuple(RevisionFacts(rules=tuple(rules), revision=revision, imports=imports))


def _check_revision(folder: _Folder, name: str, shown: str, pair_suffix: str | None,
                    cache: FolderCache) -> tuple[list[Problem], RevisionFacts]:
    """The revision's own problems, and its facts (the caller checks its imports and rules)."""
    facts = RevisionFacts(*cache.get(name, [folder.stamps[name]], lambda: _revision_facts(folder.path / name)))
    problems = [Problem(shown, message) for message in facts.problems]
    if facts.uses_pair and pair_suffix:
        stem = name.removesuffix(".py")
        for pair_file in (f"{stem}.{d}{pair_suffix}" for d in ("up", "down")):
            if not folder.has(pair_file):
                problems.append(Problem(shown, f"{pair_file} is missing: create it (every migration needs up "
                                        "and down)"))
    return problems, facts


def _pair_file_facts(path: Path, store: Store) -> list[str]:
    if is_stub(path):  # a down file adopt left to be written: the rollback refuses until it is
        return []
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


def check_project(project: Project) -> list[Problem]:
    """Every check that needs no server: the files, with the project's folders and baseline, then
    the history they make."""
    baseline: list[Problem] = []
    try:
        chain = project.chain()
    except Exception:  # noqa: BLE001 - check_chain words why the history does not load
        chain = []
    try:
        adopted = adopted_revisions(chain, project.baseline) if chain else set()
    except PolyalembicError as exc:
        adopted, baseline = set(), [Problem(project.config_path.name, str(exc).split(": ", 1)[1])]
    return check_files(project.migrations_dir, project.ini.prepend_sys_path(), project.listing,
                       project.folder_stores, adopted) + baseline + check_chain(project)


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
