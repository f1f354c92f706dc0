"""Which conversation a comment on a page post belongs to.

A post gathers comments from many people; one conversation per post would put them all on
one case.  So every commenter's top-level comment starts a conversation of its own (its
``thread_key`` is the comment's id), and the replies under it belong to it: the commenter's
follow-ups and the page's answers, which answer that commenter.

A webhook names only a comment's parent, so a reply is keyed by its parent: that is the
top-level comment in Facebook's usual two levels, and deeper down the core joins the reply
to its parent's case through ``in_reply_to``.  A poll reads a post's comments with their
parents' authors, so it does better (:class:`Conversations`): it keys each reply by the
comment that started its conversation, and a customer's reply under *another* customer's
comment (or under the page's own top-level comment) starts a conversation of its own instead
of joining theirs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["PAGE", "Conversations", "Place", "comment_thread"]


def comment_thread(comment_id: str, parent_id: str | None, post_id: str, *, own: bool) -> str:
    """Return the ``thread_key`` of a comment from what a webhook tells about it.

    :param parent_id: the comment it answers; None (or the post id) for a top-level comment.
    :param own: whether the page wrote it.  The page's top-level comment answers the post
        itself (a visitor's post), so it belongs to the post's conversation.
    """
    if parent_id and parent_id != post_id:
        return parent_id
    return post_id if own else comment_id


@dataclass(frozen=True)
class Place:
    """Where one comment goes: its ``thread_key`` and ``in_reply_to``."""

    thread_key: str
    in_reply_to: str | None


def _id(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


#: The owner of a conversation the page started (its top-level comment on its own post).
PAGE = "page"


class Conversations:
    """Place the Graph API comments of one post (``/{post-id}/comments?filter=stream``).

    Each comment object carries ``id``, ``from{id}`` and, for a reply, ``parent{id,from}``.
    A customer's reply joins the conversation of the comment it answers when that
    conversation is theirs, or when whose it is cannot be told (as a webhook would); under
    another customer's comment, or under the page's own top-level comment, it starts one.

    :param post_id: the post the comments are on.
    :param page_id: the page: its comments answer a conversation and start none.
    :param comments: the comments read in this poll, in any order.
    :param post_author: who wrote the post, when a visitor did: the page's top-level
        comments answer them.
    """

    def __init__(
        self,
        post_id: str,
        page_id: str,
        comments: Iterable[Mapping[str, Any]],
        post_author: str | None = None,
    ) -> None:
        self.post_id = post_id
        self.page_id = page_id
        self.post_owner = post_author if post_author and post_author != page_id else PAGE
        self.by_id = {cid: c for c in comments if (cid := _id(c.get("id")))}
        self._found: dict[str, tuple[str, str | None]] = {}

    @staticmethod
    def author(obj: Mapping[str, Any] | None) -> str | None:
        sender = obj.get("from") if obj else None
        return _id(sender.get("id")) if isinstance(sender, Mapping) else None

    @staticmethod
    def parent(obj: Mapping[str, Any]) -> str | None:
        parent = obj.get("parent")
        return _id(parent.get("id")) if isinstance(parent, Mapping) else None

    def place(self, obj: Mapping[str, Any]) -> Place:
        """Return where ``obj`` (one of this post's comments) goes."""
        cid = _id(obj.get("id")) or ""
        parent = self.parent(obj)
        start, _ = self._conversation(cid, obj, set())
        if parent is None or parent == self.post_id:
            return Place(start, None)
        # A reply that starts a conversation keeps its parent in ``raw`` only: as
        # ``in_reply_to`` it would pull the reply onto the other customer's case.
        return Place(start, None if start == cid else parent)

    def _conversation(
        self, cid: str, obj: Mapping[str, Any], visiting: set[str]
    ) -> tuple[str, str | None]:
        """Return (the thread key of ``cid``'s conversation, whose it is: an id, PAGE or None)."""
        if cid in self._found:
            return self._found[cid]
        visiting.add(cid)
        who = self.author(obj)
        customer = who if who != self.page_id else None
        pid = self.parent(obj)
        found: tuple[str, str | None]
        if pid is None or pid == self.post_id:
            found = (cid, customer) if customer else (self.post_id, self.post_owner)
        else:
            above = self.by_id.get(pid)
            if above is not None and pid not in visiting:
                start, owner = self._conversation(pid, above, visiting)
            else:  # the parent was read by an earlier poll: only its author is known
                parent_author = self.author(obj.get("parent"))
                start = pid
                owner = parent_author if parent_author != self.page_id else None
            if customer is None or owner is None or owner == customer:
                found = (start, owner or customer)
            else:  # under another customer's comment, or the page's own: a new conversation
                found = (cid, customer)
        self._found[cid] = found
        return found
