"""Alembic environment for scrm; configuration comes from :func:`scrm.core.db.alembic_config`."""

from __future__ import annotations

from alembic import context

# Core's tables on Base.metadata.  Plugins' tables (the department modules' too) are
# created by their own branches (register_migrations), which autogenerate never writes.
from scrm.core import models  # noqa: F401
from scrm.core.db import Base, include_name, make_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("no engine and no sqlalchemy.url given to the migration environment")
        engine = make_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        # Batch mode (below) copies a table and drops the old one; with foreign keys on,
        # SQLite refuses to drop a table that other rows point at.  They are off while the
        # migrations run (SQLite allows that only outside a transaction) and checked at the end.
        dbapi = connection.connection.driver_connection if sqlite else None
        if dbapi is not None:
            dbapi.execute("PRAGMA foreign_keys = OFF")
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                compare_type=True,
                include_name=include_name,  # procrastinate's tables are not models
                # SQLite cannot ALTER most things; batch mode copies the table instead.  Only
                # SQLite needs it: on PostgreSQL it would turn cheap ALTERs into table rewrites.
                render_as_batch=sqlite,
            )
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
                    if broken is not None:
                        raise RuntimeError(f"the migration broke a foreign key: {tuple(broken)}")
            connection.commit()
        finally:
            if dbapi is not None:
                dbapi.execute("PRAGMA foreign_keys = ON")


if context.is_offline_mode():
    raise RuntimeError("scrm migrations run online only: use `scrm db upgrade`")
run_migrations_online()
