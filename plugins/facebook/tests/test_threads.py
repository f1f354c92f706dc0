"""Conversations of a post's comments, over any shape of comment tree (no database)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from scrm_facebook.threads import Conversations, comment_thread

PAGE = "1"
POST = f"{PAGE}_9"
PEOPLE = [PAGE, "100", "200", "300"]


@st.composite
def trees(draw: st.DrawFn, *, cycles: bool = False) -> list[dict[str, Any]]:
    """Comments ``c0…cn`` by the page or customers; each on the post or under another."""
    n = draw(st.integers(1, 12))
    authors = [draw(st.sampled_from(PEOPLE)) for _ in range(n)]
    comments = []
    for i in range(n):
        choices = list(range(n)) if cycles else list(range(i))
        parent = draw(st.none() | st.just(-1) | st.sampled_from(choices)) if choices else None
        obj: dict[str, Any] = {"id": f"c{i}", "from": {"id": authors[i]}}
        if parent == -1:
            obj["parent"] = {"id": POST}
        elif parent is not None:
            obj["parent"] = {"id": f"c{parent}", "from": {"id": authors[parent]}}
        comments.append(obj)
    return comments


@given(trees(), st.sampled_from([None, PAGE, "200"]))
def test_no_conversation_holds_two_customers(
    comments: list[dict[str, Any]], post_author: str | None
) -> None:
    talk = Conversations(POST, PAGE, comments, post_author)
    places = {c["id"]: talk.place(c) for c in comments}
    people: dict[str, set[str]] = defaultdict(set)
    for c in comments:
        if c["from"]["id"] != PAGE:
            people[places[c["id"]].thread_key].add(c["from"]["id"])
    if post_author == "200":
        people[POST].add("200")  # the visitor's post is their conversation
    assert all(len(who) == 1 for who in people.values()), people
    for c in comments:
        place = places[c["id"]]
        if place.in_reply_to is not None:  # it answers a message of its own conversation
            assert place.in_reply_to == c["parent"]["id"]
            assert places[place.in_reply_to].thread_key == place.thread_key


@given(trees(cycles=True))
def test_any_tree_of_parents_is_placed(comments: list[dict[str, Any]]) -> None:
    talk = Conversations(POST, PAGE, comments)
    ids = {c["id"] for c in comments} | {POST}
    for c in comments:
        assert talk.place(c).thread_key in ids


def test_a_reply_under_a_comment_read_earlier_is_placed_by_its_author() -> None:
    mine = {"id": "c2", "from": {"id": "100"}, "parent": {"id": "c1", "from": {"id": "100"}}}
    other = {"id": "c3", "from": {"id": "200"}, "parent": {"id": "c1", "from": {"id": "100"}}}
    unknown = {"id": "c4", "from": {"id": "200"}, "parent": {"id": "c1"}}
    talk = Conversations(POST, PAGE, [mine, other, unknown])
    assert (talk.place(mine).thread_key, talk.place(mine).in_reply_to) == ("c1", "c1")
    assert (talk.place(other).thread_key, talk.place(other).in_reply_to) == ("c3", None)
    # Without the parent's author, as in a webhook: the conversation of the comment answered.
    assert talk.place(unknown).thread_key == comment_thread("c4", "c1", POST, own=False) == "c1"
