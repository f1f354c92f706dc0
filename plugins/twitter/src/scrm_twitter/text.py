"""Count tweet length the way X does (approximately) and split long replies into threads."""

from __future__ import annotations

import re

__all__ = ["MAX_TWEET_LENGTH", "split_thread", "tweet_length"]

MAX_TWEET_LENGTH = 280

#: X wraps every link in a t.co URL, which counts as 23 characters whatever its length.
_URL_WEIGHT = 23
_URL_RE = re.compile(r"https?://\S+")
#: Code point ranges that weigh 1 in twitter-text v3; everything else (CJK, emoji) weighs 2.
_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))


def _weight(ch: str) -> int:
    cp = ord(ch)
    return 1 if any(lo <= cp <= hi for lo, hi in _LIGHT) else 2


def tweet_length(text: str) -> int:
    """Return the weighted length of ``text`` (links count 23, CJK and emoji count 2)."""
    total, pos = 0, 0
    for m in _URL_RE.finditer(text):
        total += sum(_weight(c) for c in text[pos : m.start()]) + _URL_WEIGHT
        pos = m.end()
    return total + sum(_weight(c) for c in text[pos:])


def split_thread(text: str, limit: int = MAX_TWEET_LENGTH) -> list[str]:
    """Split ``text`` at word boundaries into numbered parts (`` (1/3)``) of at most ``limit``.

    A text that fits is returned unchanged as the only part.  A single word longer than a
    part is cut.
    """
    text = text.strip()
    if tweet_length(text) <= limit:
        return [text]
    # The suffix grows with the number of parts; retry until the count is stable.
    guess = 2
    while True:
        parts = _fill(text, limit - tweet_length(f" ({guess}/{guess})"))
        if len(parts) <= guess:
            n = len(parts)
            return [f"{p} ({i}/{n})" for i, p in enumerate(parts, start=1)]
        guess = len(parts)


def _fill(text: str, room: int) -> list[str]:
    parts: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if tweet_length(candidate) <= room:
            current = candidate
            continue
        if current:
            parts.append(current)
        while tweet_length(word) > room:
            cut = room
            while tweet_length(word[:cut]) > room:
                cut -= 1
            parts.append(word[:cut])
            word = word[cut:]
        current = word
    if current:
        parts.append(current)
    return parts
