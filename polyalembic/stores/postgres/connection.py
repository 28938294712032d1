"""The postgres store's connection: a SQLAlchemy connection on its own DSN (opened on first use)."""

from polyalembic.sql import connector

connect, close, describe = connector("postgres")
