"""Received webhooks that keep failing: retried with a backoff, parked after a few attempts,
visible, fixable and replayable; never a traceback per attempt, never a failing run."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scrm import hookimpl
from scrm.core import inbox
from scrm.core.channel import Channel
from scrm.core.models import InboxPayload
from scrm.core.schemas import InboundInteraction

BODY = json.dumps({"id": "acme-1", "text": "Siparişim hâlâ gelmedi", "user": "u1"}).encode()


class Acme(Channel):
    """A channel whose plugin is installed only once the operator fixes the setup."""

    name = "acme"

    def parse(self, payload):
        yield InboundInteraction.model_validate(
            {
                "channel": "acme",
                "external_id": payload["id"],
                "text": payload["text"],
                "created_at": datetime.now(UTC).isoformat(),
                "author": {"external_id": payload["user"]},
            }
        )


class AcmePlugin:
    @hookimpl
    def register_channels(self, register):
        register(Acme)


def row(app, inbox_id) -> InboxPayload:
    with app.session() as s:
        found = s.get(InboxPayload, inbox_id)
        s.expunge(found)
        return found


def backoff_elapses(app) -> None:
    """Time passes: every pending row is due again."""
    with app.session() as s:
        s.execute(
            sa.update(InboxPayload)
            .where(InboxPayload.status == "pending")
            .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
        )


def attempt_logs(caplog):
    return [r for r in caplog.records if r.name == "scrm.core.inbox"]


def test_a_poison_delivery_backs_off_is_parked_then_fixed_and_replayed(
    app, cli, register_plugin, caplog
):
    caplog.set_level(logging.INFO)
    # Received and stored while the acme plugin was installed; now it is not.
    inbox_id, _ = inbox.store(app, "acme", BODY)

    out = cli("inbox", "process", expect=1)  # a fresh failure fails the run
    assert "processed 0, retrying 1, parked 0" in out.stdout
    first = row(app, inbox_id)
    assert (first.status, first.attempts) == ("pending", 1)
    assert "UnknownChannel: no plugin provides channel 'acme'" in first.error
    assert first.next_attempt_at - datetime.now(UTC) > timedelta(seconds=20)  # 30 s backoff
    assert "processed 0, retrying 0" in cli("inbox", "process").stdout  # not due: untouched
    assert row(app, inbox_id).attempts == 1

    for attempt in range(2, inbox.MAX_ATTEMPTS):  # the worker retries it as it falls due
        backoff_elapses(app)
        out = cli("worker", "--once", "--only", "inbox")  # exit 0: the task did not fail
        assert "inbox: processed 0, retrying 1, parked 0, dead 0" in out.stdout
        assert row(app, inbox_id).attempts == attempt
    wait = row(app, inbox_id).next_attempt_at - datetime.now(UTC)
    assert wait > timedelta(minutes=3)  # 30 s, 1 min, 2 min, 4 min: exponential

    backoff_elapses(app)
    out = cli("inbox", "process")  # parked: reported, and the run succeeds
    assert "processed 0, retrying 0, parked 1" in out.stdout
    assert "1 deliveries parked as dead: see `scrm inbox list --dead`" in out.stderr
    backoff_elapses(app)
    out = cli("worker", "--once", "--only", "inbox")
    assert "inbox: processed 0, retrying 0, parked 0, dead 1" in out.stdout
    assert row(app, inbox_id).attempts == inbox.MAX_ATTEMPTS  # parked rows are left alone

    logs = attempt_logs(caplog)
    assert len(logs) == inbox.MAX_ATTEMPTS, "one line per attempt"
    assert all(r.exc_info is None for r in logs), "no traceback"
    assert "parked as dead (scrm inbox retry" in logs[-1].getMessage()
    assert "attempt 1 of 5 failed, next at" in logs[0].getMessage()

    [dead] = json.loads(cli("inbox", "list", "--dead", "--json").stdout)
    assert (dead["id"], dead["status"], dead["attempts"]) == (inbox_id, "dead", 5)
    assert "'acme'" in dead["error"]
    assert "dead" in cli("inbox", "list", "--status", "dead").stdout

    assert "no inbox row 999" in cli("inbox", "retry", "999", expect=1).stderr
    assert "name inbox ids or --all" in cli("inbox", "retry", expect=2).stderr

    register_plugin(AcmePlugin())  # the operator installs the plugin again
    out = cli("inbox", "retry", "--all")
    assert out.stdout.strip() == f"queued 1 deliveries again: {inbox_id}"
    assert "processed 1, retrying 0, parked 0: stored 1" in cli("inbox", "process").stdout
    [it] = app.interactions()
    assert (it.channel, it.external_id) == ("acme", "acme-1")
    assert row(app, inbox_id).status == "processed"
    assert "is processed, not dead" in cli("inbox", "retry", str(inbox_id), expect=1).stderr


def test_the_server_loop_respects_the_backoff(app):
    inbox_id, _ = inbox.store(app, "acme", BODY)
    assert inbox.process_one(app, inbox_id) == inbox.Attempt("retrying")
    later = datetime.now(UTC) + timedelta(seconds=10)
    # The server's background loop and any worker skip the row until it is due.
    assert inbox.process_pending(app, older_than=timedelta(0), now=later).retrying == 0
    assert inbox.process_one(app, inbox_id, now=later) is None
    due = datetime.now(UTC) + timedelta(seconds=31)
    assert inbox.process_pending(app, now=due).retrying == 1
    assert row(app, inbox_id).attempts == 2


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.integers(min_value=1, max_value=5000).map(lambda n: b"[" * n + b"]" * n),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
            max_leaves=10,
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_any_body_is_processed_or_rejected_never_a_poison(app, body):
    """Whatever a verified sender posts (not JSON, nested too deep, the wrong shape), the row is
    processed, its problem kept as a reject; only a broken setup makes a row fail."""
    inbox_id, new = inbox.store(app, "phone", body)
    if new:
        assert inbox.process_one(app, inbox_id).outcome == "processed"
    assert row(app, inbox_id).status == "processed"
