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


def _alembic_heads(locations: list[str]) -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(db.alembic_config(None, locations)).get_heads())


def _revision(folder, name: str, body: str) -> None:
    (folder / f"{name}.py").write_text(f'"""{name}"""\n{body}\ndef upgrade():\n    pass\n')


def test_heads_read_from_the_files_agree_with_alembic(tmp_path):
    """Every command checks the schema; the heads are read without importing the revisions."""
    assert db.head_revision() == _alembic_heads([])
    # A plugin's branch of its own, with a merge, in a second location.
    _revision(tmp_path, "p1", 'revision = "p1"\ndown_revision = None\nbranch_labels = ("p",)')
    _revision(tmp_path, "p2a", 'revision: str = "p2a"\ndown_revision: str | None = "p1"')
    _revision(tmp_path, "p2b", 'revision = "p2b"\ndown_revision = "p1"')
    _revision(tmp_path, "p3", 'revision = "p3"\ndown_revision = ("p2a", "p2b")')
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "notes.txt").write_text("not a revision")
    locations = [str(tmp_path)]
    assert db._declared_heads(["scrm:migrations/versions", *locations]) is not None
    assert db.head_revision(locations) == _alembic_heads(locations) == {*db.head_revision(), "p3"}


def test_heads_fall_back_to_alembic_when_a_file_is_not_literal(tmp_path):
    _revision(tmp_path, "q1", 'revision = "q" + "1"\ndown_revision = None\nbranch_labels = ("q",)')
    locations = [str(tmp_path)]
    assert db._declared_heads(["scrm:migrations/versions", *locations]) is None
    assert db.head_revision(locations) == _alembic_heads(locations)
    assert "q1" in db.head_revision(locations)


def test_heads_fall_back_to_alembic_when_a_file_sets_one_after_its_functions(tmp_path):
    """Only a revision's head is parsed: a value set below a function is Alembic's to read."""
    (tmp_path / "r1.py").write_text(
        '"""r1"""\nrevision = "r1"\ndown_revision = None\nbranch_labels = ("r",)\n\n'
        "def upgrade():\n    pass\n\n\ndown_revision = None\n"
    )
    locations = [str(tmp_path)]
    assert db._declared_heads(["scrm:migrations/versions", *locations]) is None
    assert db.head_revision(locations) == _alembic_heads(locations)
