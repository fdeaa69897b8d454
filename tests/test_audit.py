"""Every ORM write is audited with its actor; concurrent edits never silently overwrite."""

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from core.api import AuditEntry, Channel, Indicator, IndicatorValue, Policy, Territory, ValueKind, db_session
from core.audit import acting_as


def test_insert_update_delete_are_audited_with_actor(app):
    with app.app_context(), acting_as(None, "tester", "cli"):
        session = db_session()
        policy = Policy(code="CH-T1", name="Test")
        session.add(policy)
        session.commit()
        policy.name = "Renamed"
        session.commit()
        session.delete(policy)
        session.commit()
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "policy").order_by(AuditEntry.id)
        ).all()
    assert [e.action for e in entries] == ["insert", "update", "delete"]
    assert all(e.actor_label == "tester" and e.channel == "cli" for e in entries)
    assert entries[0].changes["name"] == "Test"
    assert entries[1].changes["name"] == ["Test", "Renamed"]
    assert entries[0].entity_id == entries[2].entity_id != ""


def test_password_hashes_never_reach_the_audit_log(app):
    from core.api import User

    with app.app_context():
        db_session().add(User(email="a@example.org", name="A", password_hash="scrypt:secret"))
        db_session().commit()
        entry = db_session().scalar(select(AuditEntry).where(AuditEntry.entity == "user_account"))
    assert "password_hash" not in entry.changes
    assert "scrypt:secret" not in str(entry.changes)


def test_a_rolled_back_write_leaves_no_audit_entry(app):
    with app.app_context():
        db_session().add(Policy(code="CH-T2", name="Ghost"))
        db_session().flush()
        db_session().rollback()
        assert db_session().scalar(select(AuditEntry).where(AuditEntry.entity == "policy")) is None


def test_concurrent_edit_of_a_value_is_refused(app):
    """Two sessions load the same value; the second save must fail, not overwrite."""
    db = app.extensions["pilote"].db
    with app.app_context():
        session = db_session()
        nation = session.scalar(select(Territory).where(Territory.level == "nation"))
        policy = Policy(code="CH-T3", name="Concurrency")
        indicator = Indicator(code="IND-T3", name="Count", policy=policy)
        value = IndicatorValue(indicator=indicator, territory_id=nation.id, kind=ValueKind.ACTUAL,
                               date=dt.date(2026, 1, 1), value=Decimal("1.5"), channel=Channel.FORM)
        session.add_all([policy, indicator, value])
        session.commit()
        value_id = value.id
    first, second = db.session_factory(), db.session_factory()
    try:
        mine, theirs = first.get(IndicatorValue, value_id), second.get(IndicatorValue, value_id)
        mine.value = Decimal("2.25")
        first.commit()
        theirs.value = Decimal("9")
        with pytest.raises(StaleDataError):
            second.commit()
        second.rollback()
        assert second.get(IndicatorValue, value_id).value == Decimal("2.25")
    finally:
        first.close()
        second.close()


def test_decimals_are_exact(app):
    with app.app_context():
        session = db_session()
        nation = session.scalar(select(Territory).where(Territory.level == "nation"))
        policy = Policy(code="CH-T4", name="Exact")
        indicator = Indicator(code="IND-T4", name="Rate", policy=policy)
        session.add(IndicatorValue(indicator=indicator, territory_id=nation.id, kind=ValueKind.ACTUAL,
                                   date=dt.date(2026, 1, 1), value=Decimal("0.1") + Decimal("0.2"),
                                   channel=Channel.FORM))
        session.commit()
        session.expire_all()
        stored = session.scalar(select(IndicatorValue.value))
    assert stored == Decimal("0.3") and isinstance(stored, Decimal)


def test_a_request_actor_does_not_leak_into_later_writes(app):
    from core.audit import current_actor

    before = current_actor()
    app.test_client().get("/")
    assert current_actor() == before
