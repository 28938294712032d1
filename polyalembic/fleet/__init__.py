"""Fleets: one chain run over many targets (a tenant's databases, an environment), each with its
own settings, in worker processes (``polyalembic fleet up|repair|status|drift|validate FILE``)."""
