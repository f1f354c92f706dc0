"""The Facebook channel: page comments and Messenger conversations.

Webhooks are the main way Facebook delivers (:meth:`FacebookChannel.verify_subscription` for
the GET handshake, :meth:`~FacebookChannel.verify` for the POST signature,
:meth:`~FacebookChannel.parse` for the body); :mod:`scrm_facebook.poll` catches up after
downtime; :meth:`~FacebookChannel.send` replies through the Graph API.

Several pages (one per brand, say) are ``[channels.facebook.accounts.<label>]`` tables, each
with its ``page_id`` and ``page_access_token``, over the shared keys (the app's
``app_secret`` and ``verify_token``).  A message's ``account`` is the id of the page it
arrived on (a webhook entry's ``id``), and a reply goes out with the token of the page its
case's brand owns.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from scrm.plugin import Channel, InboundInteraction, OutboundMessage, PermanentSendError, SendResult
from scrm_facebook.graph import GraphClient
from scrm_facebook.webhook import (
    FeedMapper,
    SubscriptionError,
    check_subscription,
    signature_ok,
    split_payload,
)

__all__ = ["MESSAGING_WINDOW", "FacebookChannel"]

#: Messenger's standard messaging window: RESPONSE messages only this long after the
#: customer's last message.
MESSAGING_WINDOW = timedelta(hours=24)
_COMMENT_ID = re.compile(r"^\d+_\d+$")


class FacebookChannel(Channel):
    """Comments on a Facebook page's posts and the page's Messenger conversations."""

    name = "facebook"

    class Settings(BaseModel):
        """``[channels.facebook]`` in scrm.toml, or ``SCRM_CHANNELS__FACEBOOK__<FIELD>``."""

        model_config = ConfigDict(extra="forbid")

        graph_url: str = Field(
            default="https://graph.facebook.com/v21.0",
            description="Graph API base URL, with the API version.",
        )
        page_id: str = Field(
            description="The page's numeric id; its own comments and messages are outbound.",
            pattern=r"^\d+$",
        )
        page_name: str | None = Field(
            default=None, description="The page's name, shown as the author of its replies."
        )
        page_access_token: SecretStr | None = Field(
            default=None,
            description="Page access token (pages_manage_metadata, pages_read_engagement, "
            "pages_manage_engagement, pages_messaging); needed to poll and reply.",
        )
        app_secret: SecretStr | None = Field(
            default=None,
            description="The app secret; webhook POSTs are refused until it is set.",
        )
        verify_token: SecretStr | None = Field(
            default=None,
            description="Token you typed in the app's webhook settings; checked in the handshake.",
        )
        emails_from_messages: bool = Field(
            default=True,
            description="Take an e-mail address a customer types in a Messenger message as theirs "
            "(links them to their e-mail and phone records).",
        )
        timeout: float = Field(default=10.0, gt=0, description="HTTP timeout in seconds.")
        usage_threshold: float = Field(
            default=90.0,
            gt=0,
            le=100,
            description="Slow down when X-App-Usage / X-Business-Use-Case-Usage reach this percentage.",
        )
        throttle_pause: float = Field(
            default=60.0, ge=0, description="Seconds to wait at the threshold, at most."
        )
        poll_lookback_days: int = Field(
            default=7, ge=1, description="How far back the first poll reads."
        )

    settings: Settings

    def __init__(self, settings: BaseModel | Mapping[str, Any] | None = None) -> None:
        super().__init__(settings)
        #: Called with seconds to wait when the usage headers say so; tests replace it.
        self.sleep: Callable[[float], None] = time.sleep
        #: The clock used for the 24-hour window; tests replace it.
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._client: GraphClient | None = None
        s = self.settings
        self.mapper = FeedMapper(s.page_id, s.page_name, s.emails_from_messages)

    def account_ids(self) -> tuple[str, ...]:
        """The page id: what this page's messages carry in ``account``."""
        return (self.settings.page_id,)

    # -- webhooks -----------------------------------------------------------------------

    def _secrets(self, name: str) -> list[str | None]:
        """The distinct values of secret setting ``name`` over the accounts (one app: one)."""
        found: list[str | None] = []
        for account in self.accounts():
            secret = getattr(account.settings, name)
            value = secret.get_secret_value() if secret else None
            if value not in found:
                found.append(value)
        return found

    def verify_subscription(self, params: Mapping[str, str]) -> str:
        """Return ``hub.challenge`` for a valid GET handshake (answer it as text/plain, 200).

        :raises scrm_facebook.webhook.SubscriptionError: otherwise (answer 403).
        """
        tokens = self._secrets("verify_token")
        for token in tokens[:-1]:
            try:
                return check_subscription(params, token)
            except SubscriptionError:
                continue
        return check_subscription(params, tokens[-1])

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Return True if ``X-Hub-Signature-256`` signs the raw ``body`` with the app secret
        (of any of the accounts, when pages of several apps share the route)."""
        return any(signature_ok(headers, body, secret) for secret in self._secrets("app_secret"))

    def parse(self, payload: Any) -> Iterator[InboundInteraction]:
        """Yield the interactions of one webhook body ``{"object": "page", "entry": [...]}``.

        The body is read by the account of the page its first entry is for.

        :raises ParseError: naming the first bad event (the core calls :meth:`split` first,
            so that a bad event does not hold up the good ones).
        """
        account = self.for_account(_page_of(payload))
        return (account if isinstance(account, FacebookChannel) else self).mapper.parse(payload)

    def split(self, payload: Any) -> Iterator[Any]:
        """Yield one webhook body per event of ``payload`` (see :func:`split_payload`).

        The core parses each part on its own, so one bad event is one reject.
        """
        yield from split_payload(payload)

    # -- Graph API ----------------------------------------------------------------------

    def client(self) -> GraphClient:
        """Return the Graph API client (made on first use).

        :raises PermanentSendError: when no page access token is configured.
        """
        if self._client is None:
            token = self.settings.page_access_token
            if token is None or not token.get_secret_value():
                raise PermanentSendError(
                    "channels.facebook.page_access_token is not set "
                    "(or SCRM_CHANNELS__FACEBOOK__PAGE_ACCESS_TOKEN)"
                )
            self._client = GraphClient(
                self.settings.graph_url,
                token.get_secret_value(),
                timeout=self.settings.timeout,
                sleep=lambda seconds: self.sleep(seconds),
                threshold=self.settings.usage_threshold,
                pause=self.settings.throttle_pause,
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def send(self, message: OutboundMessage) -> SendResult:
        """Deliver a reply.

        * ``public``: a comment under ``in_reply_to`` (a comment id), else under the post in
          ``thread_key`` (``POST /{id}/comments``).
        * private, ``in_reply_to`` a comment id: a private reply to that comment
          (``recipient: {"comment_id": …}``).
        * private otherwise: a Messenger message to ``to`` (or the PSID in ``thread_key``)
          with ``messaging_type`` RESPONSE.  ``metadata["last_inbound_at"]`` (ISO 8601 or a
          datetime) must say when the customer last wrote: outside the 24-hour window the
          message is refused.  ``metadata["tag"]`` sends a MESSAGE_TAG message instead.

        :raises TransientSendError: throttled, Graph 1/2, 5xx, network.
        :raises PermanentSendError: window closed, bad token, missing permission, bad id.
        """
        target = _original(message.in_reply_to)
        if message.public:
            target = target or message.thread_key
            if not target or target.startswith(("m_", "mid.", "messenger:")):
                raise PermanentSendError(
                    "a public Facebook reply needs the comment or post id it answers (in_reply_to)"
                )
            body = self.client().post(f"{target}/comments", data={"message": message.text})
            return SendResult(external_id=_id(body, "id"), raw=body)
        if target and _COMMENT_ID.match(target):
            body = self.client().post(
                "me/messages",
                json_body={"recipient": {"comment_id": target}, "message": {"text": message.text}},
            )
            return SendResult(external_id=_id(body, "message_id"), raw=body)
        psid = message.to or (message.thread_key or "").removeprefix("messenger:")
        if not psid or not psid.isdigit():
            raise PermanentSendError(
                "a Messenger message needs the customer's page-scoped id (to, or thread_key "
                "'messenger:<psid>')"
            )
        payload: dict[str, Any] = {"recipient": {"id": psid}, "message": {"text": message.text}}
        tag = message.metadata.get("tag")
        if tag:
            payload.update(messaging_type="MESSAGE_TAG", tag=str(tag))
        else:
            self._check_window(message.metadata.get("last_inbound_at"))
            payload["messaging_type"] = "RESPONSE"
        body = self.client().post("me/messages", json_body=payload)
        return SendResult(external_id=_id(body, "message_id"), raw=body)

    def _check_window(self, last: Any) -> None:
        if last is None:
            raise PermanentSendError(
                "cannot send a Messenger RESPONSE without metadata['last_inbound_at']: "
                "Messenger only allows it within 24 hours of the customer's last message"
            )
        try:
            at = last if isinstance(last, datetime) else datetime.fromisoformat(str(last))
        except ValueError:
            raise PermanentSendError(
                f"metadata['last_inbound_at'] is not an ISO 8601 time: {last!r}"
            ) from None
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        age = self.now() - at
        if age > MESSAGING_WINDOW:
            hours = age.total_seconds() / 3600
            raise PermanentSendError(
                f"outside Messenger's 24-hour window: the customer last wrote {hours:.0f} hours "
                "ago; answer with a public reply, another channel, or a message tag"
            )


def _page_of(payload: Any) -> str | None:
    """The id of the page a webhook body's first entry is for."""
    entries = payload.get("entry") if isinstance(payload, dict) else None
    first = entries[0] if isinstance(entries, list) and entries else None
    page = first.get("id") if isinstance(first, dict) else None
    return str(page) if isinstance(page, str | int) else None


def _original(external_id: str | None) -> str | None:
    """Return the comment id behind an edit/removal record id (``<id>#edit-…``)."""
    return external_id.split("#", 1)[0] if external_id else None


def _id(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise PermanentSendError(f"the Graph API answered without {key!r}")
    return value
