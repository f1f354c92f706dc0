"""The one base class every channel implements.

A channel turns native payloads into :class:`~scrm.core.schemas.InboundInteraction`
(``parse``), checks that a delivery really comes from the platform (``verify``) and
delivers replies (``send``).  Channels never touch the database.

A channel speaks for one or several of the brands' own accounts (an X user, a Facebook
page, a mailbox).  ``[channels.<name>]`` configures one account (label ``default``), or
holds the settings its accounts share while each ``[channels.<name>.accounts.<label>]``
table configures one account (its keys win over the shared ones).  The configured channel
is the first account's instance; :meth:`Channel.accounts` gives one instance per account,
each with its own settings, and :meth:`Channel.account_ids` names what the instance's
messages carry in ``account`` (what ``[brands.<key>] accounts`` lists).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Self, cast

from pydantic import BaseModel, ConfigDict

from scrm.core.schemas import InboundInteraction, OutboundMessage, SendResult

__all__ = [
    "ACCOUNTS_KEY",
    "DEFAULT_ACCOUNT",
    "Channel",
    "ChannelError",
    "ParseError",
    "PermanentSendError",
    "TransientSendError",
]


#: The label of the account ``[channels.<name>]`` configures when it has no accounts tables.
DEFAULT_ACCOUNT = "default"
#: The key of a channel section's accounts tables (``[channels.<name>.accounts.<label>]``).
ACCOUNTS_KEY = "accounts"
_LABEL = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def account_sections(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Return each account's raw settings by label, from one ``[channels.<name>]`` section.

    Without an ``accounts`` table the section is the one account ``default``; with one, each
    ``accounts.<label>`` table is an account: the section's other keys, with the table's
    keys replacing them (a nested table, such as e-mail's ``smtp``, is replaced whole).

    :raises ValueError: when ``accounts`` is not a table of tables with usable labels.
    """
    shared = dict(section)
    tables = shared.pop(ACCOUNTS_KEY, None)
    if tables is None:
        return {DEFAULT_ACCOUNT: shared}
    if not isinstance(tables, Mapping) or not tables:
        raise ValueError(
            f"{ACCOUNTS_KEY}: expected one table per account, [{ACCOUNTS_KEY}.<label>]"
        )
    found: dict[str, dict[str, Any]] = {}
    for label, table in tables.items():
        if not isinstance(label, str) or not _LABEL.match(label):
            raise ValueError(
                f"{ACCOUNTS_KEY}: account label {str(label)[:70]!r}: lower-case letters, digits, "
                "'.', '-' and '_', at most 64"
            )
        if not isinstance(table, Mapping):
            raise ValueError(f"{ACCOUNTS_KEY}.{label}: expected a table of settings")
        found[label] = {**shared, **table}
    return found


class ChannelError(Exception):
    """Base class of channel errors."""


class ParseError(ChannelError):
    """A native payload could not be turned into an interaction.

    :param reason: one sentence saying what is wrong.
    :param field: dotted path of the offending field, if one is to blame.
    """

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.reason = reason
        self.field = field


class TransientSendError(ChannelError):
    """Delivery failed but may succeed later (rate limit, 5xx, connection drop)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentSendError(ChannelError):
    """Delivery failed and retrying will not help (bad recipient, revoked token)."""


class Channel:
    """Base class of channels. Subclass it and register the subclass with ``register_channels``.

    ``names`` lists the channel names this class handles (the manual channel handles phone,
    letter, fax and walk_in); by default it is ``(name,)``.
    """

    name: ClassVar[str]
    names: ClassVar[tuple[str, ...]] = ()
    #: True when the channel's messages are public posts by nature (used for parity reports).
    social: ClassVar[bool] = True

    class Settings(BaseModel):
        model_config = ConfigDict(extra="forbid")

    #: This instance's account, ``[channels.<name>.accounts.<label>]`` (``default``: the
    #: section itself); name state keys and reports with it (:meth:`state_key`).
    account_label: str = DEFAULT_ACCOUNT

    def __init__(self, settings: BaseModel | Mapping[str, Any] | None = None) -> None:
        if settings is None or isinstance(settings, Mapping):
            sections = account_sections(settings or {})
            labels = iter(sections)
            first = next(labels)
            settings = self.Settings.model_validate(sections[first])
            if first != DEFAULT_ACCOUNT:
                self.account_label = first
            self._pending = [
                (label, self.Settings.model_validate(sections[label])) for label in labels
            ]
        else:
            self._pending = []
        self.settings = settings
        self._family: dict[str, Self] = {self.account_label: cast("Self", self)}

    @classmethod
    def handles(cls) -> tuple[str, ...]:
        return cls.names or (cls.name,)

    # -- accounts ----------------------------------------------------------------------------

    def account_ids(self) -> tuple[str, ...]:
        """Return the brand-side accounts this instance speaks for, primary first.

        Each is written exactly as this channel's messages carry it in ``account`` and as
        ``[brands.<key>] accounts`` lists it (an X user id, a page id, a mailbox address).
        The default, ``()``, is a channel with no accounts of its own: it belongs to no brand
        in particular, and replies on it go out as they always did.
        """
        return ()

    def accounts(self) -> list[Self]:
        """Return one instance per configured account, this one (the first) first.

        Each has its own settings (and so its own credentials, clients and cursors); they
        share this list, so any of them finds the others.
        """
        for label, settings in self._pending:
            sibling = type(self)(settings)
            sibling.account_label = label
            sibling._family = self._family
            self._family[label] = sibling
        self._pending = []
        return list(self._family.values())

    def by_label(self, label: str) -> Self:
        """Return the account configured as ``[channels.<name>.accounts.<label>]``.

        :raises LookupError: naming the accounts there are.
        """
        known = {ch.account_label: ch for ch in self.accounts()}
        if label not in known:
            raise LookupError(
                f"no {self.name} account {label!r}; accounts: {', '.join(sorted(known))}"
            )
        return known[label]

    def for_account(self, account: str | None) -> Self | None:
        """Return the instance that speaks for ``account`` (one of its :meth:`account_ids`)."""
        if account is None:
            return None
        return next((ch for ch in self.accounts() if account in ch.account_ids()), None)

    def reply_account(self, account: str | None) -> str | None:
        """Return the account a reply on this instance leaves from, when the customer wrote to
        ``account`` (one of :meth:`account_ids`; None: not known).

        The default is ``account`` itself, else the first of :meth:`account_ids`.  A channel
        whose credentials send as one of its accounts only returns that one (X: its
        ``brand_user_id``); one with a sender of its own returns it for None (e-mail: the
        SMTP ``from_address``).  Delivery names the result in ``OutboundMessage.account``.
        """
        return account if account is not None else next(iter(self.account_ids()), None)

    def state_key(self, key: str) -> str:
        """Return ``key`` made this account's: ``<label>/<key>``, and ``key`` itself for the
        ``default`` account (so a single account's cursors stay where they always were)."""
        return key if self.account_label == DEFAULT_ACCOUNT else f"{self.account_label}/{key}"

    def split(self, payload: Any) -> Iterator[Any]:
        """Yield the independent parts of one native payload (a page of tweets, a webhook's entries).

        Each part is parsed on its own, so one bad item becomes one reject and the others are
        stored.  The default treats the payload as a single part.
        """
        yield payload

    def parse(self, payload: Any) -> Iterator[InboundInteraction]:
        """Yield the interactions in one native payload (one line of a native JSONL file).

        :raises ParseError: naming the field at fault, when the payload is not understood.
        """
        raise NotImplementedError(f"channel {self.name!r} cannot parse native payloads")

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Return True if a webhook delivery is authentic (signature over the raw ``body``)."""
        return False

    def reconcile(self, message: OutboundMessage) -> SendResult | None:
        """Say whether ``message``, whose delivery was interrupted, reached the channel.

        Called only for a message whose sender crashed between sending and recording it.
        Return its result if it was delivered, ``None`` if it certainly was not (it will be
        sent again).

        :raises NotImplementedError: if the channel cannot tell (the default); the message is
            then marked failed for a person to check, never re-sent on a guess.
        """
        raise NotImplementedError

    def send(self, message: OutboundMessage) -> SendResult:
        """Deliver ``message``; return the channel's id of the delivered message.

        :raises TransientSendError: when a retry may succeed.
        :raises PermanentSendError: when it will not.
        """
        raise PermanentSendError(f"channel {self.name!r} cannot send messages")
