"""The migrations produce exactly the ORM schema, on SQLite and PostgreSQL, and round-trip."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from helpers import message

from scrm.core import db
from scrm.core.models import Interaction

#: The tables each department module's branch creates (core's revision 0004 created them all
#: before the modules had branches of their own).
DEPARTMENT_TABLES = {
    "sales": ["leads"],
    "marketing": ["campaign_links", "spike_episodes"],
    "rnd": ["ideas", "idea_sources"],
    "crisis": ["engagement_observations", "crises"],
    "coordinated": ["case_flags"],
}
ALL_DEPARTMENT_TABLES = [t for tables in DEPARTMENT_TABLES.values() for t in tables]


def test_migrated_schema_matches_models(app):
    assert app.schema_diff() == []
    # The department modules' models were compared too: schema_diff imported them.
    assert set(ALL_DEPARTMENT_TABLES) <= set(db.Base.metadata.tables)


def test_database_is_at_head(app):
    app.check_schema()
    heads = db.head_revision(app.migration_locations())
    assert db.current_revision(app.engine) == heads
    # Core's head and one branch per department module (each registers its own).
    assert {h.partition("_")[0] for h in heads if "_" in h} == set(DEPARTMENT_TABLES)


def test_round_trip_upgrade_downgrade_upgrade(app):
    locations = app.migration_locations()
    db.downgrade(app.engine, "base", locations)
    assert db.current_revision(app.engine) == set()
    assert not set(ALL_DEPARTMENT_TABLES) & set(sa.inspect(app.engine).get_table_names())
    db.upgrade(app.engine, "heads", locations)
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
    # A revision that needs another branch's (as marketing_0002 needs core's 0016) does not
    # make it its parent: that branch keeps its head.
    _revision(tmp_path, "o1", 'revision = "o1"\ndown_revision = None\nbranch_labels = ("o",)')
    _revision(tmp_path, "p4", 'revision = "p4"\ndown_revision = "p3"\ndepends_on = "o1"')
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "notes.txt").write_text("not a revision")
    locations = [str(tmp_path)]
    assert db._declared_heads(["scrm:migrations/versions", *locations]) is not None
    assert db.head_revision(locations) == _alembic_heads(locations) == {*db.head_revision(), "p4", "o1"}


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


def _old_layout(app) -> None:
    """Turn the migrated database into one made before the department modules had branches:
    the same tables, as their first revisions made them, and alembic_version naming core's
    revision only."""
    db.downgrade(app.engine, "marketing_0001", app.migration_locations())
    with app.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM alembic_version WHERE version_num LIKE '%\\_0001' ESCAPE '\\'"))
    assert db.current_revision(app.engine) == db.head_revision()


def test_a_database_of_the_old_layout_upgrades_in_place_with_its_rows(app):
    """Core's revision 0004 used to create the department tables: such a database keeps
    them and every row when its branches are added."""
    now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    app.ingest([message(1)])
    with app.session() as s:
        it = s.scalars(sa.select(Interaction)).one()
        ids = {"customer": it.customer_id, "case": it.case_id, "interaction": it.id}
    _old_layout(app)
    rows = {
        "leads": {"customer_id": ids["customer"], "interest": "fiber", "interaction_id": ids["interaction"], "case_id": ids["case"], "status": "new", "mentions": 2, "history": "[]", "created_at": now, "updated_at": now},
        "campaign_links": {"campaign": "kis", "interaction_id": ids["interaction"], "matched": "fiber", "created_at": now},
        "spike_episodes": {"scope": "brand", "metric": "mentions", "started_at": now, "last_hour": now, "peak_count": 9, "baseline": 1.5, "p_value": 0.001, "fired_at": now},
        "ideas": {"title": "karanlık mod", "signature": "[]", "status": "open", "first_seen": now, "last_seen": now, "created_at": now},
        "engagement_observations": {"interaction_id": ids["interaction"], "observed_at": now, "weighted": 12, "metrics": "{}"},
        "crises": {"case_id": ids["case"], "interaction_id": ids["interaction"], "score": 0.9, "evidence": "{}", "detected_at": now},
        "case_flags": {"case_id": ids["case"], "flag": "suspected_coordinated", "group_key": "g1", "evidence": "{}", "created_at": now, "updated_at": now},
    }  # fmt: skip
    before = {}
    with app.engine.begin() as conn:
        meta = sa.MetaData()
        meta.reflect(conn, only=ALL_DEPARTMENT_TABLES)
        for name, row in rows.items():
            conn.execute(sa.insert(meta.tables[name]).values(row))
        idea = conn.execute(sa.select(meta.tables["ideas"].c.id)).scalar_one()
        conn.execute(
            sa.insert(meta.tables["idea_sources"]).values(
                idea_id=idea, interaction_id=ids["interaction"], customer_id=ids["customer"],
                similarity=0.8, created_at=now,
            )
        )  # fmt: skip
        for name in ALL_DEPARTMENT_TABLES:
            before[name] = conn.execute(sa.select(meta.tables[name])).all()
    assert all(before.values())
    locations = app.migration_locations()
    assert db.head_revision(locations) - db.current_revision(app.engine)  # behind: needs upgrading

    app.upgrade()

    assert db.current_revision(app.engine) == db.head_revision(locations)
    app.check_schema()
    assert app.schema_diff() == []
    with app.engine.connect() as conn:
        meta = sa.MetaData()
        meta.reflect(conn, only=ALL_DEPARTMENT_TABLES)
        for name in ALL_DEPARTMENT_TABLES:
            kept = sa.select(*(meta.tables[name].c[c] for c in before[name][0]._fields))
            assert conn.execute(kept).all() == before[name], name
        # marketing_0002: the spikes of a database of one brand are that brand's.
        assert conn.execute(sa.select(meta.tables["spike_episodes"].c.brand_id)).all() == [(1,)]


def test_a_new_database_gets_the_department_tables_from_the_modules_branches(app):
    locations = app.migration_locations()
    db.downgrade(app.engine, "base", locations)
    db.upgrade(app.engine, "heads")  # core alone: no department table
    tables = set(sa.inspect(app.engine).get_table_names())
    assert not set(ALL_DEPARTMENT_TABLES) & tables
    app.upgrade()  # and the modules' branches
    assert set(ALL_DEPARTMENT_TABLES) <= set(sa.inspect(app.engine).get_table_names())
    assert app.schema_diff() == []


def test_a_module_switched_off_keeps_its_tables_and_the_database_stays_usable(app, monkeypatch):
    """Its branch is in the database but not loaded: the schema check passes; an upgrade
    says which plugin to load first (Alembic cannot upgrade a branch it cannot see)."""
    from scrm.core.app import SchemaError, Scrm
    from scrm.core.plugins import get_plugin_manager

    monkeypatch.setenv("SCRM_DISABLE_PLUGINS", "marketing")
    off = Scrm(app.config, get_plugin_manager())
    try:
        assert "marketing_0002" in db.current_revision(off.engine)
        off.check_schema()
        assert {"campaign_links", "spike_episodes"} <= set(sa.inspect(off.engine).get_table_names())
        assert off.schema_diff() == []
        with pytest.raises(SchemaError, match=r"not loaded \(marketing_0002\)"):
            off.upgrade()
    finally:
        off.close()


def test_messages_and_replies_stored_before_0018_keep_their_rows_and_know_no_account(app):
    """0018 adds ``account`` to interactions and the outbox: older rows stay, with none."""
    from scrm.core.models import OutboxMessage
    from scrm.core.services import outbox

    app.ingest([message(1, account="acme_tr")])
    [case] = app.cases()
    outbox.reply(app, case.id, actor="ece", text="Bakıyoruz.")
    db.downgrade(app.engine, "0017", app.migration_locations())
    columns = {t: {c["name"] for c in sa.inspect(app.engine).get_columns(t)} for t in ("interactions", "outbox")}
    assert not {"account"} & (columns["interactions"] | columns["outbox"])
    app.upgrade()
    assert app.schema_diff() == []
    with app.session() as s:
        assert s.scalars(sa.select(Interaction.account)).all() == [None]
        assert s.scalars(sa.select(OutboxMessage.account)).all() == [None]
    app.ingest([message(2, account="acme_tr", minutes=5)])
    assert [i.account for i in app.interactions(case=case.id)] == [None, "acme_tr"]


def test_spikes_recorded_before_marketing_0002_belong_to_the_one_brand_or_to_none(app):
    """marketing_0002 gives spike episodes a brand: a database of one brand's are that
    brand's; a database of several had counted every brand together: no brand's."""
    now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    row = {"metric": "mentions", "started_at": now, "last_hour": now, "peak_count": 9,
           "baseline": 1.5, "p_value": 0.001, "fired_at": now}  # fmt: skip
    locations = app.migration_locations()
    found = {}
    for brands in (1, 2):
        db.downgrade(app.engine, "marketing_0001", locations)
        with app.engine.begin() as conn:
            if brands == 2:
                conn.execute(sa.text(
                    "INSERT INTO brands (key, name, created_at) VALUES ('globex', 'Globex', :now)"
                ), {"now": now})  # fmt: skip
            conn.execute(sa.text("DELETE FROM spike_episodes"))
            meta = sa.MetaData()
            meta.reflect(conn, only=["spike_episodes"])
            conn.execute(sa.insert(meta.tables["spike_episodes"]), [
                {**row, "scope": "brand"}, {**row, "scope": "campaign:fiber"}
            ])  # fmt: skip
        app.upgrade()
        assert app.schema_diff() == []
        with app.engine.connect() as conn:
            found[brands] = sorted(conn.execute(sa.text(
                "SELECT scope, brand_id FROM spike_episodes"
            )).all())  # fmt: skip
    assert found == {
        1: [("brand", 1), ("campaign:fiber", None)],
        2: [("brand", None), ("campaign:fiber", None)],
    }
