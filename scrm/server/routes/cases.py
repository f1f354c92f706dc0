"""``/api/v1/cases``: the case board, a case's timeline, and working the loop.

Case responses carry ``version`` and an ``ETag`` (``"<version>"``).  A change sent with
``If-Match`` (or a ``version`` field) that is not the current version is refused with 409
and the case as it is now, so two agents never overwrite each other.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from scrm.core import queries
from scrm.core.app import Scrm
from scrm.core.bounds import Instant
from scrm.core.promises import parse_duration
from scrm.core.queries import CaseDetail, CaseOut, FollowUpOut
from scrm.core.schemas import CaseStatus
from scrm.core.services import cases, outbox
from scrm.server.auth import AnyKey, WorkerKey, check_case, get_scrm, scope
from scrm.server.errors import ApiError, ConflictOut, ErrorOut
from scrm.server.pagination import MAX_ID, IdPath, IdQuery, Page, decode_cursor, page

__all__ = ["router"]

router = APIRouter(prefix="/cases", tags=["cases"])
App = Annotated[Scrm, Depends(get_scrm)]
IfMatch = Annotated[
    str | None,
    Header(
        max_length=64,
        description='The ETag of the case as the caller read it (`"3"`); stale: 409.',
    ),
]
WRITE = ("admin", "agent")
_CHANGE: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ConflictOut,
        "description": "Stale version (with the current case) or a refused transition.",
    }
}


class Versioned(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(
        default=None,
        ge=0,
        le=MAX_ID,
        description="The case version the caller read (like If-Match).",
    )


class TransitionIn(Versioned):
    to: CaseStatus
    note: str | None = Field(default=None, max_length=2000)


class AssignIn(Versioned):
    agent: str = Field(min_length=1, max_length=64, description="Agent username.")


class ReplyIn(Versioned):
    text: str | None = Field(default=None, min_length=1, max_length=20_000)
    template: str | None = Field(
        default=None, pattern=r"^[a-z_]{1,32}$", description="Playbook template, e.g. acknowledge."
    )
    public: bool | None = Field(default=None, description="Default: as the customer's message.")
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one(self) -> ReplyIn:
        if (self.text is None) == (self.template is None):
            raise ValueError("give either text or template")
        return self


class ReplyOut(BaseModel):
    outbox_id: int
    status: str = Field(description="Outbox status: pending until delivered.")
    channel: str
    account: str | None = Field(
        default=None,
        description="The brand's account the customer wrote to, which the reply goes out from "
        "when the case's brand owns it; None: not known.",
    )
    public: bool
    text: str
    case: CaseDetail


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=20_000, description="The answer as it was given.")
    url: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^https?://",
        description="Where it was given; default: the page the case names (answer_url).",
    )
    at: Instant | None = Field(default=None, description="When it was given; default: now.")


class PromiseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    due: str = Field(min_length=1, max_length=32, description="From now: 4h, 30m, 2d or PT4H.")
    kind: str = Field(default="callback", pattern=r"^[a-z_]{1,32}$")
    note: str | None = Field(default=None, max_length=2000)


def _expected(if_match: str | None, version: int | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return version
    tag = if_match.strip().removeprefix("W/").strip('"')
    if not tag.isdigit() or int(tag) > MAX_ID:
        raise ApiError(422, "invalid", 'If-Match must be an ETag of this API, like "3"', "If-Match")
    return int(tag)


def _detail(app: Scrm, case_id: int, response: Response) -> CaseDetail:
    detail = app.case(case_id)
    response.headers["ETag"] = f'"{detail.version}"'
    return detail


@router.get("", summary="The case board, with filters")
def list_cases(
    app: App,
    who: AnyKey,
    status: Annotated[str | None, Query(max_length=32, description="A status, or open.")] = None,
    department: Annotated[str | None, Query(max_length=32)] = None,
    assignee: Annotated[str | None, Query(max_length=64)] = None,
    customer: IdQuery = None,
    breaching: Annotated[bool, Query(description="Open cases past a deadline only.")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[CaseOut]:
    with app.session(read_only=True) as s:
        items = queries.list_cases(
            s,
            status=status,
            department=department,
            assignee=assignee,
            customer=customer,
            breaching=breaching,
            limit=limit + 1,
            after=decode_cursor(cursor),
            departments=scope(who),
        )
    return page(items, limit)


@router.get("/{case_id}", summary="A case with its timeline (messages, events, promises)")
def get_case(app: App, case_id: IdPath, response: Response, who: AnyKey) -> CaseDetail:
    check_case(app, who, case_id)
    return _detail(app, case_id, response)


@router.post("/{case_id}/transitions", summary="Move the case along the loop", responses=_CHANGE)
def transition(
    app: App,
    case_id: IdPath,
    body: TransitionIn,
    response: Response,
    who: WorkerKey,
    if_match: IfMatch = None,
) -> CaseDetail:
    check_case(app, who, case_id)
    cases.transition(
        app,
        case_id,
        body.to,
        actor=who.actor,
        note=body.note,
        expected_version=_expected(if_match, body.version),
    )
    return _detail(app, case_id, response)


@router.post("/{case_id}/assign", summary="Assign the case to an agent", responses=_CHANGE)
def assign(
    app: App,
    case_id: IdPath,
    body: AssignIn,
    response: Response,
    who: WorkerKey,
    if_match: IfMatch = None,
) -> CaseDetail:
    check_case(app, who, case_id)
    cases.assign(
        app,
        case_id,
        body.agent,
        actor=who.actor,
        expected_version=_expected(if_match, body.version),
    )
    return _detail(app, case_id, response)


@router.post(
    "/{case_id}/replies",
    status_code=202,
    summary="Queue a reply through the outbox (a template moves the case along)",
    responses=_CHANGE,
)
def reply(
    app: App,
    case_id: IdPath,
    body: ReplyIn,
    response: Response,
    who: WorkerKey,
    if_match: IfMatch = None,
) -> ReplyOut:
    check_case(app, who, case_id)
    row = outbox.reply(
        app,
        case_id,
        actor=who.actor,
        text=body.text,
        template=body.template,
        public=body.public,
        idempotency_key=body.idempotency_key,
        expected_version=_expected(if_match, body.version),
    )
    detail = _detail(app, case_id, response)
    return ReplyOut(
        outbox_id=row.id,
        status=row.status,
        channel=row.channel,
        account=row.account,
        public=row.public,
        text=row.text,
        case=detail,
    )


@router.post(
    "/{case_id}/answers",
    status_code=201,
    summary="Record an answer given outside scrm (on the blog post or news page the case names)",
    responses={409: {"model": ErrorOut, "description": "Refused."}},
)
def answered(
    app: App, case_id: IdPath, body: AnswerIn, response: Response, who: WorkerKey
) -> CaseDetail:
    check_case(app, who, case_id)
    outbox.record_answer(app, case_id, actor=who.actor, text=body.text, url=body.url, at=body.at)
    return _detail(app, case_id, response)


@router.post(
    "/{case_id}/promises",
    status_code=201,
    summary="Record a promise made to the customer (a follow-up with a deadline)",
    responses={409: {"model": ErrorOut, "description": "Refused."}},
)
def promise(app: App, case_id: IdPath, body: PromiseIn, who: WorkerKey) -> FollowUpOut:
    check_case(app, who, case_id)
    try:
        due = parse_duration(body.due)
    except (ValueError, OverflowError) as exc:
        raise ApiError(422, "invalid", str(exc), "due") from None
    fu = cases.promise(app, case_id, due, actor=who.actor, kind=body.kind, note=body.note)
    return FollowUpOut.model_validate(fu)
