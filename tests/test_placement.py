"""The decide stage of ingest (scrm.core.placement) on plain values: no database.

Cases are transient model objects; what the load step would read is given as
:class:`Candidates`; a new case is made by a local ``open_case``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scrm.core.config import CasesConfig
from scrm.core.models import Case
from scrm.core.placement import (
    TRIAGE,
    Candidates,
    CaseContext,
    Decision,
    NewCase,
    StoredRow,
    order_key,
    place_inbound,
    place_outbound,
)
from scrm.core.schemas import (
    Author,
    CaseStatus,
    Classification,
    Direction,
    InboundInteraction,
    Kind,
    RouteDecision,
)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(days=2)
DEPARTMENTS = {"billing": 1, "support": 2, TRIAGE: 3}
CONFIG = CasesConfig()


def message(
    ext: str,
    at: datetime,
    *,
    direction: Direction = Direction.INBOUND,
    in_reply_to: str | None = None,
    thread_key: str | None = None,
    public: bool = False,
    noise: str | None = None,
) -> InboundInteraction:
    return InboundInteraction.model_validate(
        {
            "channel": "email",
            "external_id": ext,
            "text": f"text of {ext}",
            "created_at": at,
            "author": Author(external_id="brand" if direction is Direction.OUTBOUND else "ann"),
            "direction": direction,
            "in_reply_to": in_reply_to,
            "thread_key": thread_key,
            "public": public,
            "noise": noise,
        }
    )


def decision(
    category: str = "invoice", kind: Kind = Kind.COMPLAINT, department: str | None = "billing"
) -> Decision:
    return Decision(
        Classification(kind=kind, category=category), RouteDecision(department=department)
    )


def stored_case(
    case_id: int,
    *,
    customer_id: int = 7,
    category: str = "invoice",
    department: str = "billing",
    status: CaseStatus = CaseStatus.ACKNOWLEDGED,
    last_activity: datetime = T0,
    closed_at: datetime | None = None,
) -> Case:
    return Case(
        id=case_id,
        customer_id=customer_id,
        department_id=DEPARTMENTS[department],
        channel="email",
        kind="complaint",
        category=category,
        status=status.value,
        opened_at=last_activity - timedelta(hours=1),
        last_activity_at=last_activity,
        closed_at=closed_at,
    )


def stored_row(
    row_id: int,
    ext: str,
    *,
    case_id: int | None,
    customer_id: int | None = 7,
    direction: Direction = Direction.INBOUND,
    in_reply_to: str | None = None,
    at: datetime = T0,
) -> StoredRow:
    return StoredRow(
        id=row_id,
        channel="email",
        external_id=ext,
        direction=direction.value,
        public=False,
        text=f"text of {ext}",
        subject=None,
        created_at=at,
        labels={"kind": "complaint", "category": "invoice"},
        case_id=case_id,
        customer_id=customer_id,
        in_reply_to=in_reply_to,
    )


class Opener:
    """The persist side's ``open_case``, in memory: records what the decide stage asked."""

    def __init__(self) -> None:
        self.asked: list[NewCase] = []

    def __call__(self, spec: NewCase) -> Case:
        self.asked.append(spec)
        return Case(
            customer_id=spec.customer_id,
            department_id=DEPARTMENTS[spec.department],
            channel=spec.channel,
            kind=spec.kind.value,
            category=spec.category,
            status=CaseStatus.NEW.value,
            opened_at=spec.at,
            last_activity_at=spec.at,
        )


def inbound(
    ctx: CaseContext, it: InboundInteraction, opener: Opener, d: Decision | None = None
) -> Case | None:
    return place_inbound(
        ctx,
        it,
        7,
        d or decision(),
        window=WINDOW,
        department_id=DEPARTMENTS.__getitem__,
        open_case=opener,
    )


def test_a_message_inside_the_window_continues_the_case() -> None:
    case = stored_case(1)
    ctx = CaseContext(Candidates(cases=(case,)), CONFIG)
    opener = Opener()
    assert inbound(ctx, message("m1", T0 + WINDOW), opener) is case
    assert case.last_activity_at == T0 + WINDOW
    assert opener.asked == []


def test_a_message_just_past_the_window_opens_a_new_case() -> None:
    case = stored_case(1)
    ctx = CaseContext(Candidates(cases=(case,)), CONFIG)
    opener = Opener()
    placed = inbound(ctx, message("m1", T0 + WINDOW + timedelta(seconds=1)), opener)
    assert placed is not case and placed is not None
    assert [s.category for s in opener.asked] == ["invoice"]
    assert ctx.new_cases == [placed]
    assert case.last_activity_at == T0


def test_same_customer_different_matter_opens_its_own_case() -> None:
    case = stored_case(1, category="invoice")
    ctx = CaseContext(Candidates(cases=(case,)), CONFIG)
    opener = Opener()
    placed = inbound(
        ctx, message("m1", T0 + timedelta(hours=1)), opener, decision(category="delivery")
    )
    assert placed is not case
    assert [(s.category, s.department) for s in opener.asked] == [("delivery", "billing")]
    # Next message of the new matter continues the new case, not the old one.
    again = inbound(
        ctx, message("m2", T0 + timedelta(hours=2)), opener, decision(category="delivery")
    )
    assert again is placed and len(opener.asked) == 1


def test_a_brand_reply_lands_on_its_parents_case() -> None:
    case = stored_case(1)
    parent = stored_row(10, "p1", case_id=1)
    ctx = CaseContext(Candidates(parents={("email", "p1"): parent}, cases=(case,)), CONFIG)
    reply = message("r1", T0 + timedelta(hours=3), direction=Direction.OUTBOUND, in_reply_to="p1")
    placed, customer = place_outbound(ctx, reply, None, Opener())
    assert placed is case and customer == 7
    assert case.last_activity_at == T0 + timedelta(hours=3)


def test_a_brand_reply_to_a_caseless_message_opens_a_triage_case_for_it() -> None:
    parent = stored_row(10, "p1", case_id=None)
    ctx = CaseContext(Candidates(parents={("email", "p1"): parent}), CONFIG)
    opener = Opener()
    reply = message("r1", T0 + timedelta(hours=3), direction=Direction.OUTBOUND, in_reply_to="p1")
    placed, customer = place_outbound(ctx, reply, None, opener)
    assert placed is not None and customer == 7
    assert [(s.department, s.at) for s in opener.asked] == [(TRIAGE, T0)]
    assert ctx.moves == {10: placed}


def test_an_orphan_reply_stored_earlier_moves_onto_its_parents_new_case() -> None:
    orphan = stored_row(
        20,
        "r1",
        case_id=None,
        customer_id=None,
        direction=Direction.OUTBOUND,
        in_reply_to="m1",
        at=T0 + timedelta(hours=1),
    )
    ctx = CaseContext(Candidates(children={("email", "m1"): (orphan,)}), CONFIG)
    opener = Opener()
    parent = message("m1", T0)
    placed = inbound(ctx, parent, opener)
    assert placed is not None
    ctx.remember(parent, placed, 7)
    assert ctx.moves == {20: placed}
    assert [m.external_id for m in ctx.moved[placed]] == ["r1"]
    assert placed.last_activity_at == T0 + timedelta(hours=1)


def test_an_orphan_customer_reply_without_a_customer_message_opens_nothing() -> None:
    ctx = CaseContext(Candidates(), CONFIG)
    opener = Opener()
    placed = place_inbound(
        ctx,
        message("r1", T0, in_reply_to="unknown"),
        None,
        decision(),
        window=WINDOW,
        department_id=DEPARTMENTS.__getitem__,
        open_case=opener,
    )
    assert placed is None and opener.asked == []


def test_a_closed_case_reopens_inside_the_reopen_window_only() -> None:
    closed_at = T0
    for delay, reopens in ((CONFIG.reopen_window, True), (CONFIG.reopen_window * 2, False)):
        case = stored_case(1, status=CaseStatus.CLOSED, closed_at=closed_at)
        parent = stored_row(10, "p1", case_id=1)
        ctx = CaseContext(Candidates(parents={("email", "p1"): parent}, cases=(case,)), CONFIG)
        opener = Opener()
        placed = inbound(ctx, message("m1", closed_at + delay, in_reply_to="p1"), opener)
        assert (placed is case) is reopens
        assert len(opener.asked) == (0 if reopens else 1)


def test_noise_joins_its_thread_but_opens_nothing() -> None:
    ctx = CaseContext(Candidates(), CONFIG)
    opener = Opener()
    placed = inbound(ctx, message("m1", T0, noise="auto_reply"), opener)
    assert placed is None and opener.asked == []


def test_spam_answered_by_the_brand_gets_a_triage_case() -> None:
    answer = stored_row(
        20, "r1", case_id=None, direction=Direction.OUTBOUND, in_reply_to="m1", customer_id=None
    )
    spam = decision(kind=Kind.SPAM, department=None)
    opener = Opener()
    ctx = CaseContext(Candidates(), CONFIG)
    assert inbound(ctx, message("m0", T0), opener, spam) is None
    ctx = CaseContext(Candidates(children={("email", "m1"): (answer,)}), CONFIG)
    assert inbound(ctx, message("m1", T0), opener, spam) is not None
    assert [(s.department, s.kind) for s in opener.asked] == [(TRIAGE, Kind.QUESTION)]


def test_a_batch_is_placed_oldest_first_customer_before_brand() -> None:
    brand = message("b", T0, direction=Direction.OUTBOUND, in_reply_to="a")
    customer = message("a", T0)
    later = message("c", T0 + timedelta(seconds=1))
    earlier = message("z", T0 - timedelta(seconds=1))
    batch = [later, brand, customer, earlier]
    assert [it.external_id for it in sorted(batch, key=order_key)] == ["z", "a", "b", "c"]
