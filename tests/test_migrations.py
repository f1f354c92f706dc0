"""The migrations produce exactly the ORM schema, on SQLite and PostgreSQL, and round-trip."""

from __future__ import annotations

from scrm.core import db


def test_migrated_schema_matches_models(app):
    assert db.schema_diff(app.engine) == []


def test_database_is_at_head(app):
    app.check_schema()
    assert db.current_revision(app.engine) == db.head_revision()


def test_round_trip_upgrade_downgrade_upgrade(app):
    db.downgrade(app.engine, "base")
    assert db.current_revision(app.engine) == set()
    db.upgrade(app.engine)
    assert db.schema_diff(app.engine) == []


def test_cli_db_check_passes_on_migrated_database(cli):
    result = cli("db", "check")
    assert "matches the models" in result.stdout
