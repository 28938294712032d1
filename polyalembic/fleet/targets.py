"""The fleet file (TOML): what the targets are and the settings each runs with.

::

    [fleet]
    workers = 4                   # worker processes (default: the CPUs, at most one per target)
    canary = 1                    # the first wave runs alone: this many targets (0: no canary)
    wave = 50                     # then waves of this many
    on_failure = "stop"           # or "continue": start new targets after one failed
    claims = "${CONTROL_DSN}"     # several runs (machines) share the targets out through its locks
    tenants = ["acme", "globex"]  # targets named by a list ...

    [fleet.tenants_from]          # ... and/or by a query of a control database
    dsn = "${CONTROL_DSN}"
    query = "SELECT name FROM tenants WHERE active ORDER BY name"

    [settings]                    # every target's connection variables; {tenant}: its name
    POSTGRES_DSN = "postgresql://app:${APP_PASSWORD}@db/app_{tenant}"
    CHROMA_DATABASE = "{tenant}"

    [[target]]                    # a target of its own: [settings], then its own variables
    name = "eu-west"
    POSTGRES_DSN = "postgresql://app:${EU_PASSWORD}@eu-db/app"

``${VAR}`` is read from the environment when the file is read (secrets stay out of the file);
a variable that is not set, a key that is no connection variable, a name given twice: one line
naming the file and the place.
"""

from __future__ import annotations

import os
import re
import tomllib
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from polyalembic.errors import PolyalembicError

#: a target's name: it goes into database names, lock keys and log lines
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_POLICIES = ("stop", "continue")
_OPTIONS = {"workers", "canary", "wave", "on_failure", "claims", "tenants", "tenants_from"}


@dataclass(frozen=True)
class Target:
    """One target: its name and the connection variables it runs with."""

    name: str
    env: Mapping[str, str] = field(repr=False)
    #: the ``${VAR}`` values put into its settings: masked wherever the target is spoken of
    secrets: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class Fleet:
    """The targets, in the file's order (named ones first, then the list, then the query's), and
    how they run."""

    path: Path
    targets: list[Target]
    workers: int
    canary: int = 1
    wave: int = 50
    on_failure: str = "stop"
    #: the database whose session locks share the targets out between runs (None: all are this run's)
    claims: str | None = field(default=None, repr=False)
    #: every target of the file, when ``targets`` is one shard of them (places are checked on all)
    whole: list[Target] | None = field(default=None, repr=False)

    @property
    def everyone(self) -> list[Target]:
        """Every target of the file, the other shards' too."""
        return self.targets if self.whole is None else self.whole


def _refuse(path: Path, where: str, why: str) -> PolyalembicError:
    return PolyalembicError(f"fleet file {path}: {where}: {why}")


def expand(path: Path, where: str, value: str, tenant: str, environ: Mapping[str, str]) -> str:
    """``value`` with ``{tenant}`` and ``${VAR}`` put in; one line for a VAR the environment lacks."""
    def variable(match: re.Match[str]) -> str:
        if match[1] not in environ:
            raise _refuse(path, where, f"${{{match[1]}}} is not set in the environment: export it (secrets are read "
                                       "from the environment, never written in the file)")
        return environ[match[1]]

    return _VARIABLE.sub(variable, value.replace("{tenant}", tenant))


def _settings(path: Path, where: str, table: Mapping[str, Any], known: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for key, value in table.items():
        if key not in known:
            raise _refuse(path, f"{where}.{key}", f"is no connection variable (one of {', '.join(known)})")
        if not isinstance(value, str):
            raise _refuse(path, f"{where}.{key}", f"must be a string, not {type(value).__name__}")
        found[key] = value
    return found


def _table(path: Path, where: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _refuse(path, where, f"must be a table, not {type(value).__name__}")
    return value


def _target(path: Path, name: str, env: Mapping[str, str], where: Callable[[str], str],
            environ: Mapping[str, str]) -> Target:
    """The target ``name`` with ``env`` expanded, and the ``${VAR}`` values it took (its secrets)."""
    expanded = {key: expand(path, where(key), value, name, environ) for key, value in env.items()}
    taken = {environ[var] for value in env.values() for var in _VARIABLE.findall(value) if environ.get(var)}
    return Target(name, expanded, tuple(sorted(taken, key=len, reverse=True)))


def _integer(path: Path, options: Mapping[str, Any], key: str, default: int, least: int) -> int:
    value = options.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise _refuse(path, f"[fleet] {key}", f"must be a whole number of at least {least}, not {value!r}")
    return value


def _name(path: Path, where: str, name: Any, seen: set[str]) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise _refuse(path, where, f"{name!r} is no target name (letters, digits, _ . -; at most 63)")
    if name in seen:
        raise _refuse(path, where, f"target {name!r} is named twice")
    seen.add(name)
    return name


def read_fleet(path: Path, known: tuple[str, ...], environ: Mapping[str, str] | None = None,
               query: Callable[[str, str], list[str]] | None = None) -> Fleet:
    """The fleet ``path`` describes. ``known``: the connection variables a target may set;
    ``query(dsn, sql)``: the names a control database gives (``[fleet.tenants_from]``)."""
    environ = os.environ if environ is None else environ
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolyalembicError(f"fleet file {path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PolyalembicError(f"fleet file {path}: not TOML: {exc}") from None
    unknown = set(data) - {"fleet", "settings", "target"}
    if unknown:
        raise _refuse(path, f"[{sorted(unknown)[0]}]", "is no part of a fleet file (fleet, settings, target)")
    options = _table(path, "[fleet]", data.get("fleet", {}))
    extra = set(options) - _OPTIONS
    if extra:
        raise _refuse(path, f"[fleet] {sorted(extra)[0]}", f"is no fleet option ({', '.join(sorted(_OPTIONS))})")
    shared = _settings(path, "[settings]", _table(path, "[settings]", data.get("settings", {})), known)
    on_failure = options.get("on_failure", "stop")
    if on_failure not in _POLICIES:
        raise _refuse(path, "[fleet] on_failure", f"must be {' or '.join(map(repr, _POLICIES))}, not {on_failure!r}")
    seen: set[str] = set()
    named: list[tuple[str, dict[str, str]]] = []
    entries = data.get("target", [])
    if not isinstance(entries, list):
        raise _refuse(path, "target", "must be [[target]] tables, each with a name")
    for k, entry in enumerate(entries):
        own = dict(_table(path, f"[[target]] #{k + 1}", entry))
        name = _name(path, f"[[target]] #{k + 1} name", own.pop("name", None), seen)
        named.append((name, shared | _settings(path, f"[[target]] {name}", own, known)))
    tenants = options.get("tenants", [])
    if not isinstance(tenants, list):
        raise _refuse(path, "[fleet] tenants", "must be a list of names")
    names = [_name(path, "[fleet] tenants", t, seen) for t in tenants]
    source = options.get("tenants_from")
    if source is not None:
        if not isinstance(source, dict) or set(source) != {"dsn", "query"} or \
                not all(isinstance(v, str) for v in source.values()):
            raise _refuse(path, "[fleet.tenants_from]", "needs exactly dsn and query, both strings")
        if query is None:
            raise _refuse(path, "[fleet.tenants_from]", "no store here can read a control database")
        dsn = expand(path, "[fleet.tenants_from] dsn", source["dsn"], "", environ)
        names += [_name(path, "[fleet.tenants_from] query", t, seen) for t in query(dsn, source["query"])]
    targets = [_target(path, name, env, lambda k, n=name: f"[[target]] {n}.{k}", environ) for name, env in named]
    targets += [_target(path, name, shared, lambda k, n=name: f"[settings] {k} (tenant {n})", environ)
                for name in names]
    if not targets:
        raise _refuse(path, "[fleet]", "names no target ([[target]], tenants or tenants_from)")
    workers = _integer(path, options, "workers", min(os.cpu_count() or 1, len(targets)), 1)
    claims = options.get("claims")
    if claims is not None and not isinstance(claims, str):
        raise _refuse(path, "[fleet] claims", "must be the DSN of the database that shares the targets out")
    return Fleet(path, targets, workers, canary=_integer(path, options, "canary", 1, 0),
                 wave=_integer(path, options, "wave", 50, 1), on_failure=on_failure,
                 claims=expand(path, "[fleet] claims", claims, "", environ) if claims else None)


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` (1 <= K <= N) -> (K, N); one line for anything else."""
    match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise PolyalembicError(f"--shard {text!r}: give K/N, the K-th of N shards (1 <= K <= N), e.g. 1/3")
    return int(match[1]), int(match[2])


def shard_of(name: str, shards: int) -> int:
    """The shard (1..``shards``) a target belongs to: by its name's CRC-32, so each machine of a
    CI matrix or an Indexed Job that reads the same fleet takes the same targets, whatever their
    order (a target keeps its shard when others come or go)."""
    return zlib.crc32(name.encode("utf-8")) % shards + 1


def shard(fleet: Fleet, k: int, n: int) -> Fleet:
    """The part of ``fleet`` that shard ``k`` of ``n`` runs (none may be left)."""
    return replace(fleet, targets=[t for t in fleet.targets if shard_of(t.name, n) == k], whole=fleet.everyone)
