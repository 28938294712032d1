"""analytics: an example store package for polyalembic (a second PostgreSQL database)."""
