"""Alembic environment: polyalembic runs each revision against the store it declares."""

from alembic import context

from polyalembic.runtime import run

run(context)
