"""The tables of the built-in department modules, one module per department.

Each department module owns its tables exactly as a third-party plugin would: the models
are here, declared on the public :data:`scrm.plugin.db.Base`, and the Alembic branch that
creates them is in ``scrm/plugins/migrations/<module>``, which the module registers
through ``register_migrations``.  The core imports none of this.
"""
