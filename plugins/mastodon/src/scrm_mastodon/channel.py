"""The Mastodon channel: parse statuses, deliver public and direct replies.

Settings live under ``[channels.mastodon]`` in ``scrm.toml`` or in the environment
(``SCRM_CHANNELS__MASTODON__ACCESS_TOKEN=...``).  The token is a ``SecretStr``: it prints as
``**********`` and never reaches a log line, an error message or a stored payload.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr

from scrm.plugin import (
    Channel,
    InboundInteraction,
    OutboundMessage,
    PermanentSendError,
    SendResult,
    TransientSendError,
)
from scrm.plugin.polling import ApiError, TransientError
from scrm_mastodon.client import MastodonClient
from scrm_mastodon.content import MAX_HTML_LENGTH, html_to_text
from scrm_mastodon.mapping import FOR_ACCOUNT, ID_PATTERN, Mapper, split_payload

__all__ = ["MastodonChannel", "MastodonSettings", "status_length"]

_URL = re.compile(r"https?://\S+")
#: ``@user@domain`` counts as ``@user``: Mastodon counts only the local part of a mention.
_REMOTE_MENTION = re.compile(r"(@\w+)@[\w.-]+")
_URL_WEIGHT = 23


def status_length(text: str) -> int:
    """Return the length Mastodon counts: a link is 23 characters, a mention its username."""
    return len(_REMOTE_MENTION.sub(r"\1", _URL.sub("x" * _URL_WEIGHT, text)))


class MastodonChannel(Channel):
    """Mentions, search results and the brand's own statuses on one Mastodon instance."""

    name = "mastodon"
    social = True

    class Settings(Channel.Settings):
        """``[channels.mastodon]``: the instance, the brand's account, what to listen to."""

        instance_url: str | None = Field(
            default=None,
            pattern=r"^https?://[^\s/?#]+$",
            description="The instance's root URL, e.g. https://mastodon.social (no path).",
        )
        access_token: SecretStr | None = Field(
            default=None,
            description="User token of the brand account, scopes read and write:statuses.",
        )
        brand_account_id: str | None = Field(
            default=None,
            pattern=ID_PATTERN,
            description="The brand account's id on the instance: its notifications are polled "
            "and its statuses are outbound (`scrm mastodon check` prints it).",
        )
        brand_acct: str | None = Field(
            default=None,
            pattern=r"^[A-Za-z0-9_]{1,30}@[A-Za-z0-9.-]{1,253}$",
            description="The brand account's address, user@instance (acmedestek@mastodon.social): "
            "what its messages carry in `account` and [brands.<key>] accounts lists "
            "(`scrm mastodon check` prints it); unset: messages name no account.",
        )
        other_brand_account_ids: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field(
            default_factory=list,
            description="Further accounts of the brand on the same instance: their statuses "
            "are outbound too.",
        )
        poll_mentions: bool = Field(
            default=True,
            description="Poll GET /api/v1/notifications?types[]=mention (the token's account).",
        )
        poll_own_statuses: bool = Field(
            default=True,
            description="Poll the brand account's statuses, so that replies written in the "
            "Mastodon app move their cases (needs brand_account_id).",
        )
        search_queries: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
            default_factory=list,
            description="Searches for GET /api/v2/search?type=statuses (brand and product "
            "names); full-text search depends on the instance.",
        )
        fetch_context: bool = Field(
            default=True,
            description="For a mention that answers another status, read its thread "
            "(GET /api/v1/statuses/:id/context) and store the statuses it answers.",
        )
        page_size: int = Field(default=40, ge=1, le=40, description="Statuses per page.")
        max_pages: int = Field(
            default=10, ge=1, description="Pages per stream in one polling cycle."
        )
        public_visibility: Literal["public", "unlisted"] = Field(
            default="public", description="Visibility of public replies."
        )
        max_length: int = Field(
            default=500,
            ge=1,
            description="Characters per status on the instance (500 by default on Mastodon).",
        )
        poll_interval: float = Field(
            default=120.0, ge=1, description="Seconds between polling cycles."
        )
        timeout: float = Field(default=15.0, gt=0, description="HTTP timeout in seconds.")
        max_retries: int = Field(default=3, ge=0, description="Retries of 5xx and network errors.")
        backoff: float = Field(
            default=2.0, ge=0, description="First retry delay in seconds; doubles on each retry."
        )
        streaming_url: str | None = Field(
            default=None,
            pattern=r"^https?://[^\s/?#]+$",
            description="Root URL of the streaming API when it is not the instance's own "
            "(its /api/v1/instance tells: configuration.urls.streaming).",
        )
        stream_read_timeout: float = Field(
            default=90.0,
            gt=0,
            description="Seconds without a byte (Mastodon sends a heartbeat every few seconds) "
            "after which `scrm mastodon stream` reconnects.",
        )
        max_rate_limit_wait: float = Field(
            default=300.0,
            ge=0,
            description="Longest wait for a rate-limit window (seconds); beyond it a stream "
            "stops until the next cycle.",
        )

        def brand_ids(self) -> list[str]:
            """Return the brand's account ids, the primary one first."""
            first = [self.brand_account_id] if self.brand_account_id else []
            return first + [i for i in self.other_brand_account_ids if i not in first]

    settings: Settings

    def __init__(self, settings: BaseModel | Mapping[str, Any] | None = None) -> None:
        super().__init__(settings)
        self._client: MastodonClient | None = None

    @property
    def mapper(self) -> Mapper:
        return Mapper(self.settings.brand_ids(), self.settings.brand_acct)

    def account_ids(self) -> tuple[str, ...]:
        """The brand account's address (``brand_acct``), if configured."""
        return (self.settings.brand_acct,) if self.settings.brand_acct else ()

    def client(self) -> MastodonClient:
        """Return the channel's HTTP client (made on first use)."""
        if self._client is None:
            self._client = MastodonClient(self)
        return self._client

    # -- inbound ---------------------------------------------------------------------------

    def parse(self, payload: Any) -> Iterator[InboundInteraction]:
        """Yield the interactions of a status, a page, a notification, a search or a context.

        A status a poller read names its account in ``for_account``: it is read from that
        account's point of view.
        """
        named = payload.get(FOR_ACCOUNT) if isinstance(payload, dict) else None
        account = self.for_account(named if isinstance(named, str) else None)
        return (account if isinstance(account, MastodonChannel) else self).mapper.parse(payload)

    def split(self, payload: Any) -> Iterator[Any]:
        """Yield one status per message, so a bad status is rejected on its own."""
        return split_payload(payload)

    # -- outbound --------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> SendResult:
        """Post a reply: public (``public_visibility``) or direct, mentioning the customer.

        Mastodon delivers a direct status to the accounts it mentions only, so the
        customer's ``@acct`` opens both kinds of reply (unless the text already names them).
        The outbox's idempotency key goes out as ``Idempotency-Key``: a repeated request
        within the hour returns the status already posted instead of a second one.
        """
        client = self.client()
        try:
            acct = self._customer_acct(client, message)
            text = message.text.strip()
            if acct and not _names(text, acct):
                text = f"@{acct} {text}"
            length = status_length(text)
            if length > self.settings.max_length:
                raise PermanentSendError(
                    f"the reply is {length} characters and the instance allows "
                    f"{self.settings.max_length} (channels.mastodon.max_length): shorten it"
                )
            body: dict[str, Any] = {
                "status": text,
                "visibility": self.settings.public_visibility if message.public else "direct",
            }
            if message.in_reply_to:
                body["in_reply_to_id"] = message.in_reply_to
            key = hashlib.sha256(message.idempotency_key.encode()).hexdigest()
            r = client.request(
                "POST", "/api/v1/statuses", endpoint="POST /api/v1/statuses", json=body,
                headers={"idempotency-key": key}, wait=False, retries=0,
            )  # fmt: skip
        except TransientError as exc:
            raise TransientSendError(
                str(exc), retry_after=exc.retry_after(client.clock())
            ) from None
        except ApiError as exc:  # AuthError, 404 (the status is gone), 422 (refused)
            raise PermanentSendError(str(exc)) from None
        sid = r.body.get("id") if isinstance(r.body, dict) else None
        if not isinstance(sid, str) or not re.match(ID_PATTERN, sid):
            raise PermanentSendError("the instance accepted the status but returned no id")
        return SendResult(
            external_id=sid,
            raw={"id": sid, "url": r.body.get("url"), "visibility": r.body.get("visibility")},
        )

    def reconcile(self, message: OutboundMessage) -> SendResult | None:
        """Find ``message`` among the brand account's latest statuses, if it went out.

        A status answering the same status with the same text (whitespace aside) is the
        message.  When none is found the message may still have gone out earlier than the
        page reaches, so the outbox is told the channel cannot tell (a person checks).

        :raises NotImplementedError: when the message is not found, or there is no
            ``brand_account_id`` to look under.
        :raises ApiError: when the instance cannot be asked.
        """
        s = self.settings
        if not s.brand_account_id:
            raise NotImplementedError("no channels.mastodon.brand_account_id to look under")
        r = self.client().request(
            "GET", f"/api/v1/accounts/{s.brand_account_id}/statuses",
            endpoint="GET /api/v1/accounts/:id/statuses", params={"limit": "40"},
        )  # fmt: skip
        wanted = " ".join(message.text.split())
        for st in r.body if isinstance(r.body, list) else []:
            if not isinstance(st, dict) or st.get("in_reply_to_id") != message.in_reply_to:
                continue
            content = st.get("content")
            if not isinstance(content, str) or len(content) > MAX_HTML_LENGTH:
                continue
            if " ".join(html_to_text(content).split()).endswith(wanted):
                sid = st.get("id")
                if isinstance(sid, str) and re.match(ID_PATTERN, sid):
                    return SendResult(external_id=sid, raw={"id": sid, "reconciled": True})
        raise NotImplementedError(
            "no status with this text among the brand account's latest 40: it may have gone "
            "out earlier; check the account before retrying"
        )

    def _customer_acct(self, client: MastodonClient, message: OutboundMessage) -> str | None:
        """The ``acct`` of the account answered: the status's author, else ``message.to``."""
        brands = set(self.settings.brand_ids())
        account: Any = None
        if message.in_reply_to:
            account = _lookup(client, "statuses", message.in_reply_to).get("account")
            if isinstance(account, dict) and account.get("id") in brands:
                account = None  # answering the brand's own status: address message.to
        if account is None and message.to and message.to not in brands:
            account = _lookup(client, "accounts", message.to)
        acct = account.get("acct") if isinstance(account, dict) else None
        if isinstance(acct, str) and re.match(r"^[\w.-]{1,64}(@[\w.-]{1,253})?$", acct):
            return acct
        if not message.public:
            raise PermanentSendError(
                "a direct reply on Mastodon needs the customer's account: the status answered "
                "(in_reply_to) or their account id (to)"
            )
        return None


def _lookup(client: MastodonClient, kind: Literal["statuses", "accounts"], ident: str) -> Any:
    """Return the status or account ``ident`` (an empty dict when the answer is no object).

    :raises PermanentSendError: when ``ident`` is not an id.
    :raises ApiError: as the client raises it (404: deleted or not visible).
    """
    if not re.match(ID_PATTERN, ident):
        what = "status" if kind == "statuses" else "account"
        raise PermanentSendError(f"not a Mastodon {what} id: {ident!r}")
    r = client.request(
        "GET", f"/api/v1/{kind}/{ident}", endpoint=f"GET /api/v1/{kind}/:id", wait=False
    )
    return r.body if isinstance(r.body, dict) else {}


def _names(text: str, acct: str) -> bool:
    """Whether ``text`` already mentions ``acct`` (``@name`` locally, ``@name@domain`` remotely)."""
    words = {w.rstrip(".,:;!?").lower() for w in text.split() if w.startswith("@")}
    return f"@{acct}".lower() in words


MastodonSettings = MastodonChannel.Settings
