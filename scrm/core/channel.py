"""The one base class every channel implements.

A channel turns native payloads into :class:`~scrm.core.schemas.InboundInteraction`
(``parse``), checks that a delivery really comes from the platform (``verify``) and
delivers replies (``send``).  Channels never touch the database.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from scrm.core.schemas import InboundInteraction, OutboundMessage, SendResult

__all__ = [
    "Channel",
    "ChannelError",
    "ParseError",
    "PermanentSendError",
    "TransientSendError",
]


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

    def __init__(self, settings: BaseModel | Mapping[str, Any] | None = None) -> None:
        if settings is None or isinstance(settings, Mapping):
            settings = self.Settings.model_validate(dict(settings or {}))
        self.settings = settings

    @classmethod
    def handles(cls) -> tuple[str, ...]:
        return cls.names or (cls.name,)

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
