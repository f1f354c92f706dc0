"""The Twitter/X channel: parse X payloads, verify webhooks, deliver replies.

Settings live under ``[channels.twitter]`` in ``scrm.toml`` or in the environment
(``SCRM_CHANNELS__TWITTER__BEARER_TOKEN=...``); with several brand accounts, each has its
``[channels.twitter.accounts.<label>]`` table (``brand_user_id``, its user credentials, its
searches) over the shared keys.  A message's ``account`` is the brand user id it arrived on
or was sent from (see :class:`~scrm_twitter.mapping.Mapper`).  Credentials are ``SecretStr``: they print
as ``**********`` and never reach a log line, an error message or a stored payload.
"""

from __future__ import annotations

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
from scrm_twitter.client import XClient
from scrm_twitter.mapping import Mapper, payload_account, split_payload
from scrm_twitter.text import split_thread, tweet_length
from scrm_twitter.webhooks import crc_response, verify_signature

__all__ = ["DM_MAX_LENGTH", "ENDPOINTS", "TwitterChannel", "TwitterSettings"]

#: Budget keys: the polled endpoints (replies are not capped here: the outbox decides).
ENDPOINTS = ("mentions", "search", "dm_events")
DM_MAX_LENGTH = 10_000


class TwitterChannel(Channel):
    """Tweets, mentions, search results and DMs from X (API v2 and Account Activity webhooks)."""

    name = "twitter"
    social = True

    class Settings(Channel.Settings):
        """``[channels.twitter]``: credentials, what to listen to, budgets and reply behaviour."""

        base_url: str = Field(
            default="https://api.x.com", description="API root; tests point it at a local fake."
        )
        bearer_token: SecretStr | None = Field(
            default=None,
            description="App-only OAuth 2.0 bearer token: enough for search and mentions.",
        )
        consumer_key: SecretStr | None = Field(default=None, description="OAuth 1.0a API key.")
        consumer_secret: SecretStr | None = Field(
            default=None,
            description="OAuth 1.0a API key secret; also signs webhook CRC answers and deliveries.",
        )
        access_token: SecretStr | None = Field(
            default=None, description="OAuth 1.0a access token of the brand account (posting, DMs)."
        )
        access_token_secret: SecretStr | None = Field(
            default=None, description="OAuth 1.0a access token secret of the brand account."
        )
        user_access_token: SecretStr | None = Field(
            default=None,
            description="OAuth 2.0 user-context token of the brand account; used instead of the "
            "OAuth 1.0a keys for posting and DMs when set.",
        )
        brand_user_id: str | None = Field(
            default=None,
            pattern=r"^\d+$",
            description="The brand account's numeric user id: its mentions are polled, its own "
            "tweets and DMs are recorded as outbound; the credentials should be this account's.",
        )
        other_brand_user_ids: list[Annotated[str, Field(pattern=r"^\d+$")]] = Field(
            default_factory=list,
            description="Further accounts of the brand (an English support account, say): "
            "their mentions are polled and their tweets and DMs are outbound too.",
        )
        poll_mentions: bool = Field(
            default=True, description="Poll GET /2/users/:id/mentions (needs brand_user_id)."
        )
        search_queries: list[str] = Field(
            default_factory=list,
            description="Search queries for GET /2/tweets/search/recent (brand and product names, "
            "misspellings, in every language), e.g. 'acme OR akme lang:tr -is:retweet'.",
        )
        poll_direct_messages: bool = Field(
            default=False, description="Poll GET /2/dm_events (needs user-context credentials)."
        )
        max_results: int = Field(default=100, ge=10, le=100, description="Tweets per page.")
        max_pages: int = Field(
            default=10, ge=1, description="Pages per endpoint and query in one polling cycle."
        )
        daily_request_budget: int | None = Field(
            default=None,
            ge=0,
            description="Requests per UTC day over all endpoints; unset: no cap.",
        )
        endpoint_budgets: dict[Literal["mentions", "search", "dm_events"], int] = Field(
            default_factory=dict,
            description="Requests per UTC day per endpoint, e.g. {search = 200, mentions = 100}.",
        )
        long_text: Literal["split", "refuse"] = Field(
            default="split",
            description="A public reply over max_length: post a numbered thread, or refuse it.",
        )
        max_length: int = Field(
            default=280, ge=1, description="Characters per post (280; more on paid accounts)."
        )
        poll_interval: float = Field(
            default=300.0, ge=1, description="Seconds between polling cycles at the least."
        )
        max_poll_interval: float = Field(
            default=3600.0,
            ge=1,
            description="Longest pause the budget may stretch the interval to.",
        )
        timeout: float = Field(default=15.0, gt=0, description="HTTP timeout in seconds.")
        max_retries: int = Field(default=3, ge=0, description="Retries of 5xx and network errors.")
        backoff: float = Field(
            default=2.0, ge=0, description="First retry delay in seconds; doubles on each retry."
        )
        max_rate_limit_wait: float = Field(
            default=900.0,
            ge=0,
            description="Longest wait for a rate-limit window (seconds); beyond it polling stops.",
        )

        def has_oauth1(self) -> bool:
            """Return True when all four OAuth 1.0a keys are set."""
            return all(
                (
                    self.consumer_key,
                    self.consumer_secret,
                    self.access_token,
                    self.access_token_secret,
                )
            )

        def has_user_auth(self) -> bool:
            return bool(self.user_access_token) or self.has_oauth1()

        def brand_ids(self) -> list[str]:
            """Return the brand's account ids, the primary one first."""
            first = [self.brand_user_id] if self.brand_user_id else []
            return first + [i for i in self.other_brand_user_ids if i not in first]

    settings: Settings

    def __init__(self, settings: BaseModel | Mapping[str, Any] | None = None) -> None:
        super().__init__(settings)
        self._client: XClient | None = None

    @property
    def mapper(self) -> Mapper:
        return Mapper(self.settings.brand_ids())

    def account_ids(self) -> tuple[str, ...]:
        """The brand user ids of this account (``brand_user_id`` first): what its messages
        carry in ``account`` and ``[brands.<key>] accounts = {twitter = [...]}`` lists."""
        return tuple(self.settings.brand_ids())

    def reply_account(self, account: str | None) -> str | None:
        """The account this table's credentials post as (``brand_user_id``): a mention of one
        of ``other_brand_user_ids`` is answered from it too."""
        return super().reply_account(None)

    def client(self) -> XClient:
        """Return the channel's HTTP client (made on first use)."""
        if self._client is None:
            self._client = XClient(self)
        return self._client

    # -- inbound ---------------------------------------------------------------------------

    def parse(self, payload: Any) -> Iterator[InboundInteraction]:
        """Yield the interactions of a v2 page, a v2 DM events page or an AAA delivery.

        The payload is read from the point of view of the account it names (an Account
        Activity delivery's ``for_user_id``, the ``for_account`` a poller adds to its pages),
        else of this one.
        """
        account = self.for_account(payload_account(payload))
        return (account if isinstance(account, TwitterChannel) else self).mapper.parse(payload)

    def split(self, payload: Any) -> Iterator[Any]:
        """Yield one self-contained payload per item, so a bad item is rejected on its own."""
        return split_payload(payload)

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Check ``x-twitter-webhooks-signature`` over the raw body with the consumer secret."""
        secret = self.settings.consumer_secret
        return bool(secret) and verify_signature(secret.get_secret_value(), headers, body)  # type: ignore[union-attr]

    def crc_response(self, crc_token: str) -> dict[str, str]:
        """Answer X's webhook CRC challenge (``GET ?crc_token=...``).

        :raises PermanentSendError: when no consumer secret is configured.
        """
        secret = self.settings.consumer_secret
        if secret is None:
            raise PermanentSendError("webhooks need channels.twitter.consumer_secret")
        return crc_response(secret.get_secret_value(), crc_token)

    # -- outbound --------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> SendResult:
        """Post a public reply (split into a thread if configured) or send a DM."""
        client = self.client()
        try:
            if message.public:
                return self._post_thread(client, message)
            return self._send_dm(client, message)
        except TransientError as exc:
            raise TransientSendError(
                str(exc), retry_after=exc.retry_after(client.clock())
            ) from None
        except ApiError as exc:  # AuthError included: fixing credentials needs a person
            raise PermanentSendError(str(exc)) from None

    def _post_thread(self, client: XClient, message: OutboundMessage) -> SendResult:
        s = self.settings
        length = tweet_length(message.text)
        if length > s.max_length and s.long_text == "refuse":
            raise PermanentSendError(
                f"the reply is {length} characters and X allows {s.max_length}: shorten it, "
                "or set channels.twitter.long_text = 'split' to post a numbered thread"
            )
        parts = split_thread(message.text, s.max_length)
        ids: list[str] = []
        parent = message.in_reply_to
        for part in parts:
            body: dict[str, Any] = {"text": part}
            if parent:
                body["reply"] = {"in_reply_to_tweet_id": parent}
            try:
                r = client.request(
                    "POST", "/2/tweets", endpoint="POST /2/tweets", json=body, auth="user",
                    wait=False, retries=0,
                )  # fmt: skip
            except ApiError as exc:
                if not ids:
                    raise
                # Retrying would post the first parts twice: a person must finish the thread.
                raise PermanentSendError(
                    f"posted {len(ids)} of {len(parts)} parts of the reply (ids "
                    f"{', '.join(ids)}), then: {exc}"
                ) from None
            tid = (r.body.get("data") or {}).get("id")
            if not isinstance(tid, str):
                raise PermanentSendError("X accepted the post but returned no data.id")
            ids.append(tid)
            parent = tid
        return SendResult(external_id=ids[0], raw={"ids": ids, "parts": len(parts)})

    def _send_dm(self, client: XClient, message: OutboundMessage) -> SendResult:
        to = message.to or self._other_participant(message.thread_key)
        if not to:
            raise PermanentSendError(
                "a private reply on X needs the recipient's user id (OutboundMessage.to) or a "
                "'dm:<conversation id>' thread"
            )
        if not to.isdigit():
            raise PermanentSendError(f"not an X user id: {to!r}")
        if len(message.text) > DM_MAX_LENGTH:
            raise PermanentSendError(
                f"the DM is {len(message.text)} characters; X allows {DM_MAX_LENGTH}"
            )
        r = client.request(
            "POST",
            f"/2/dm_conversations/with/{to}/messages",
            endpoint="POST /2/dm_conversations/with/:participant_id/messages",
            json={"text": message.text},
            auth="user",
            wait=False,
            retries=0,
        )
        data = r.body.get("data") or {}
        eid = data.get("dm_event_id")
        if not isinstance(eid, str):
            raise PermanentSendError("X accepted the DM but returned no data.dm_event_id")
        return SendResult(external_id=eid, raw={"data": data})

    def _other_participant(self, thread_key: str | None) -> str | None:
        if not thread_key or not thread_key.startswith("dm:"):
            return None
        ids = [p for p in thread_key[3:].split("-") if p not in self.settings.brand_ids()]
        return ids[0] if len(ids) == 1 else None


TwitterSettings = TwitterChannel.Settings
