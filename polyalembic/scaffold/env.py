"""Alembic environment: polyalembic runs each revision against the store it declares."""

from logging.config import fileConfig

from alembic import context

from polyalembic.runtime import run

if context.config.config_file_name and context.config.attributes.get("configure_logger", True):
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)

run(context)
