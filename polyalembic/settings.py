"""Connection settings from the environment (and an optional env file), with DSN masking."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from polyalembic.stores import STORES


def connection_keys() -> tuple[str, ...]:
    """polyalembic's own variable, then each registered store's (declared in the registry)."""
    return ("POLYALEMBIC_LEDGER_DSN", *(key for spec in STORES.values() for key in spec.env_keys))

DEFAULT_ENV_FILE = ".stack/stack.env"


class SettingsError(ValueError):
    """A setting is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    """Where each store lives. ``ledger_dsn`` is the control database holding schema_migrations."""

    postgres_dsn: str | None = None
    timescale_dsn: str | None = None
    ledger_dsn: str | None = None
    neo4j_uri: str | None = None
    neo4j_user: str = "neo4j"
    neo4j_password: str | None = field(default=None, repr=False)
    neo4j_database: str = "neo4j"
    chroma_host: str | None = None
    chroma_port: int = 8000
    chroma_path: str | None = None
    # Every connection variable as read (the typed fields above are the four stores' view of
    # them); a store added later reads its own keys from here.
    env: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def dsn_for(self, store: str) -> str | None:
        """The DSN of a SQL store."""
        typed = {"postgres": self.postgres_dsn, "timescaledb": self.timescale_dsn}
        if store in typed:
            return typed[store]
        spec = STORES.get(store)
        return self.env.get(spec.dsn_variable) if spec and spec.dsn_variable else None

    def shares_ledger_database(self, store: str) -> bool:
        """True when a SQL store's database is the ledger's, so one transaction covers both."""
        dsn = self.dsn_for(store)
        return dsn is not None and same_database(dsn, self.ledger_dsn)

    def describe(self, store: str) -> str:
        """A masked, printable location of ``store`` (its connection module's ``describe``)."""
        spec = STORES.get(store)
        if spec is None:
            return "(unknown store)"
        describe = getattr(spec.module("connection"), "describe", None)
        return mask_text(describe(self)) if describe else f"({store}: not described)"


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an env file (comments and blanks skipped); {} when it does not exist."""
    values: dict[str, str] = {}
    try:
        text = path.read_text()
    except OSError:
        return values
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip().removeprefix("export ").strip()] = value.strip().strip("'\"")
    return values


def load_settings(env: dict[str, str] | None = None, env_file: Path | str | None = None) -> Settings:
    """Settings from ``env`` (default os.environ); unset keys fall back to the env file.

    The env file is ``$POLYALEMBIC_ENV_FILE``, else ``env_file`` (alembic.ini's
    ``[polyalembic] env_file``), else ``.stack/stack.env`` (written by the local stack). It is
    consulted only when none of the connection variables is set, so a real deployment's
    environment is never mixed with the local stack's settings.
    """
    env = dict(os.environ if env is None else env)
    keys = connection_keys()
    if not any(env.get(k) for k in keys):
        path = Path(env.get("POLYALEMBIC_ENV_FILE") or env_file or DEFAULT_ENV_FILE)
        env = {**read_env_file(path), **env}
    timescale = env.get("TIMESCALE_DSN") or None
    postgres = env.get("POSTGRES_DSN") or timescale
    try:
        chroma_port = int(env.get("CHROMA_PORT") or 8000)
    except ValueError as exc:
        raise SettingsError(f"CHROMA_PORT must be a number, got {env.get('CHROMA_PORT')!r}") from exc
    return Settings(
        env={k: env[k] for k in keys if env.get(k)},
        postgres_dsn=postgres,
        timescale_dsn=timescale,
        ledger_dsn=env.get("POLYALEMBIC_LEDGER_DSN") or postgres,
        neo4j_uri=env.get("NEO4J_URI") or None,
        neo4j_user=env.get("NEO4J_USER") or "neo4j",
        neo4j_password=env.get("NEO4J_PASSWORD") or None,
        neo4j_database=env.get("NEO4J_DATABASE") or "neo4j",
        chroma_host=env.get("CHROMA_HOST") or None,
        chroma_port=chroma_port,
        chroma_path=env.get("CHROMA_PATH") or None,
    )


_PASSWORD_IN_URL = re.compile(r"(?P<scheme>[a-zA-Z][\w+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s]*)@")
_PASSWORD_PARAM = re.compile(r"(?i)\b(password|passwd|pwd)=([^&\s]+)")


def mask_dsn(dsn: str | None) -> str | None:
    """``dsn`` with any password replaced by ``***`` (URL userinfo and ``password=`` params)."""
    if dsn is None:
        return None
    return mask_text(dsn)


def mask_text(text: str, secrets: tuple[str | None, ...] = ()) -> str:
    """Mask passwords inside any text: URL userinfo, password= params and known secret values."""
    text = _PASSWORD_IN_URL.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    text = _PASSWORD_PARAM.sub(lambda m: f"{m[1]}=***", text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def sqlalchemy_url(dsn: str) -> str:
    """A libpq-style ``postgresql://`` DSN as a SQLAlchemy URL using psycopg 3."""
    parts = urlsplit(dsn)
    scheme = parts.scheme
    if scheme in ("postgres", "postgresql", "postgresql+psycopg2"):
        scheme = "postgresql+psycopg"
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


def libpq_dsn(dsn: str) -> str:
    """A SQLAlchemy-style URL back to what psycopg.connect accepts."""
    parts = urlsplit(dsn)
    scheme = "postgresql" if parts.scheme.startswith("postgres") else parts.scheme
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


def same_database(a: str | None, b: str | None) -> bool:
    """True when two DSNs name the same host, port and database."""
    if not a or not b:
        return False
    pa, pb = urlsplit(libpq_dsn(a)), urlsplit(libpq_dsn(b))
    return (pa.hostname, pa.port or 5432, pa.path) == (pb.hostname, pb.port or 5432, pb.path)


def settings_for(config: Any) -> Settings:
    """Settings for an Alembic ``Config``: the environment, then the env file its
    ``[polyalembic] env_file`` names (relative to alembic.ini; default ``.stack/stack.env``)."""
    here = Path(config.config_file_name).resolve().parent if config.config_file_name else Path.cwd()
    env_file = config.get_section_option("polyalembic", "env_file", DEFAULT_ENV_FILE)
    return load_settings(env_file=here / env_file)
