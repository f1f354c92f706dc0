"""Read one feed document: conditionally over HTTP (ETag, Last-Modified), or from a file.

A server that answers ``304 Not Modified`` costs one small request; a file is re-read only
when its size or modification time changed.  Every failure is a :class:`FetchError` whose
message names the source's problem in one line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from scrm.plugin.polling import retry_after

__all__ = ["FetchError", "Fetched", "fetch_file", "fetch_http"]


class FetchError(Exception):
    """The document could not be read.

    :param retry_after: seconds the server asked us to wait (429/503 ``Retry-After``), if any.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Fetched:
    """What a read returned: ``body`` is None when nothing changed since the last read."""

    body: bytes | None
    content_type: str | None = None
    validators: dict[str, Any] | None = None
    """What to send next time (etag, last_modified; a file's size and mtime)."""
    status: int = 200


def fetch_http(
    client: httpx.Client, url: str, validators: dict[str, Any], *, max_bytes: int
) -> Fetched:
    """GET ``url`` with ``If-None-Match``/``If-Modified-Since`` from ``validators``.

    :raises FetchError: on a network error, a status other than 200/304, or a body over
        ``max_bytes``.
    """
    headers = {"Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
               "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"}  # fmt: skip
    if validators.get("etag"):
        headers["If-None-Match"] = str(validators["etag"])
    if validators.get("last_modified"):
        headers["If-Modified-Since"] = str(validators["last_modified"])
    try:
        with client.stream("GET", url, headers=headers) as r:
            if r.status_code == 304:
                return Fetched(None, validators=validators, status=304)
            if r.status_code != 200:
                raise FetchError(
                    f"HTTP {r.status_code} {r.reason_phrase} from {url}",
                    retry_after=retry_after(r.headers.get("retry-after"), time.time()),
                )
            declared = r.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"the feed is {int(declared)} bytes; max_bytes is {max_bytes}")
            chunks, size = [], 0
            for chunk in r.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"the feed is larger than max_bytes ({max_bytes} bytes)")
                chunks.append(chunk)
            new = {
                k: v
                for k, v in (
                    ("etag", r.headers.get("etag")),
                    ("last_modified", r.headers.get("last-modified")),
                )
                if v and len(v) <= 1024
            }
            return Fetched(b"".join(chunks), r.headers.get("content-type"), new)
    except httpx.TooManyRedirects:
        raise FetchError(f"too many redirects from {url}") from None
    except httpx.TimeoutException:
        raise FetchError(f"timed out reading {url}") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"could not read {url}: {type(exc).__name__}: {exc}") from None


def fetch_file(path: str, validators: dict[str, Any], *, max_bytes: int) -> Fetched:
    """Read a feed file unless its size and modification time are those already read.

    :raises FetchError: when it is missing, unreadable, or over ``max_bytes``.
    """
    p = Path(path)
    try:
        st = p.stat()
        mark = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
        if (
            validators.get("size") == mark["size"]
            and validators.get("mtime_ns") == mark["mtime_ns"]
        ):
            return Fetched(None, validators=validators, status=304)
        if st.st_size > max_bytes:
            raise FetchError(f"{path} is {st.st_size} bytes; max_bytes is {max_bytes}")
        with p.open("rb") as fh:
            body = fh.read(max_bytes + 1)
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(body) > max_bytes:
        raise FetchError(f"{path} is larger than max_bytes ({max_bytes} bytes)")
    ctype = "application/feed+json" if p.suffix == ".json" else None
    return Fetched(body, ctype, mark)
