"""Turn a status's HTML ``content`` into plain text, in one linear pass.

The HTML comes from any server of the federation and is untrusted: it is never rendered,
only read.  Tags are dropped, ``<br>`` and block ends become line breaks, entities are
decoded, and links are kept: Mastodon shows a long URL shortened (its hidden parts in
``<span class="invisible">``), and the text of all the spans is the whole URL again; a link
whose text is something else keeps its address after the text, in parentheses.  Mentions
and hashtags keep their text (``@name``, ``#tag``).  ``<script>`` and ``<style>`` contents
and comments are dropped.

Every step moves forward with ``str.find`` over the input, so the time is linear in its
length whatever it holds (unclosed tags, thousands of ``<``, nested anchors); the caller
bounds the length first (:data:`MAX_HTML_LENGTH`).
"""

from __future__ import annotations

import html
import re

__all__ = ["MAX_HTML_LENGTH", "html_to_text"]

#: Longest ``content`` read (characters); a longer status is rejected, not cut.
MAX_HTML_LENGTH = 400_000

_BLOCK = frozenset(
    {"p", "div", "li", "ul", "ol", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6"}
)
_DROP = ("script", "style")
# Matched at a position only (``match``, never ``search``): each call reads forward once.
_GAP = re.compile(r"[\s/]*")
_NAME = re.compile(r"[^\s=/]*")
_BARE = re.compile(r"[^\s]*")
_BLANK_LINES = re.compile(r"\n{3,}")
#: Where a tag may start: '<' and a letter, '/' or '!' ('< b' and '<3' are text, as a browser
#: reads them).  A fixed-length pattern: each search reads forward once.
_TAG_START = re.compile(r"<[A-Za-z/!]")


def _attrs(tag: str) -> dict[str, str]:
    """Return the attributes of ``tag`` (the text between ``<`` and ``>``), first one wins."""
    found: dict[str, str] = {}
    i = _NAME.match(tag).end()  # type: ignore[union-attr]  # the element's name
    n = len(tag)
    while i < n:
        i = _GAP.match(tag, i).end()  # type: ignore[union-attr]
        end = _NAME.match(tag, i).end()  # type: ignore[union-attr]
        name, i = tag[i:end].lower(), end
        value = ""
        if tag.startswith("=", i):
            i = _GAP.match(tag, i + 1).end()  # type: ignore[union-attr]
            if tag.startswith(('"', "'"), i):
                close = tag.find(tag[i], i + 1)
                close = n if close < 0 else close
                value, i = tag[i + 1 : close], close + 1
            else:
                end = _BARE.match(tag, i).end()  # type: ignore[union-attr]
                value, i = tag[i:end], end
        if name and name not in found:
            found[name] = html.unescape(value)
    return found


class _Link:
    __slots__ = ("href", "plain", "start")

    def __init__(self, href: str, plain: bool, start: int) -> None:
        self.href, self.plain, self.start = href, plain, start


def html_to_text(content: str) -> str:
    """Return the text of ``content`` (see the module docstring for what is kept)."""
    out: list[str] = []
    link: _Link | None = None
    lower = content.lower()
    i, n = 0, len(content)
    while i < n:
        start = _TAG_START.search(content, i)
        if start is None:
            out.append(html.unescape(content[i:]))
            break
        lt = start.start()
        if lt > i:
            out.append(html.unescape(content[i:lt]))
        if content.startswith("<!--", lt):
            end = content.find("-->", lt + 4)
            i = n if end < 0 else end + 3
            continue
        gt = content.find(">", lt + 1)
        if gt < 0:  # a lone '<' to the end: it was text
            out.append(html.unescape(content[lt:]))
            break
        tag = content[lt + 1 : gt]
        i = gt + 1
        closing = tag.startswith("/")
        name = tag.lstrip("/").split(None, 1)[0].rstrip("/").lower() if tag.strip("/ ") else ""
        if name in _DROP and not closing:
            end = lower.find(f"</{name}", i)
            i = n if end < 0 else end
            continue
        if name == "br":
            out.append("\n")
        elif name in _BLOCK:
            out.append("\n\n")
        elif name == "a":
            _close(link, out)
            link = None
            if not closing:
                attrs = _attrs(tag)
                classes = attrs.get("class", "").split()
                plain = "mention" not in classes and "hashtag" not in classes
                link = _Link(attrs.get("href", ""), plain, len(out))
    _close(link, out)
    text = "\n".join(line.rstrip(" \t") for line in "".join(out).split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def _close(link: _Link | None, out: list[str]) -> None:
    """End an open link: add its address when its text does not show it."""
    if link is None or not link.plain or not link.href.startswith(("https://", "http://")):
        return
    href = link.href.rstrip("/")
    shown = "".join(out[link.start :]).strip().rstrip("/")
    if shown not in (href, href.split("://", 1)[1]):
        out.append(f" ({link.href})" if shown else link.href)
