"""Read stored mail for bulk import: .eml files, mbox files and Maildir folders.

Messages are read one at a time (an mbox is indexed, not loaded), so a mailbox history of
any size is imported in bounded memory.
"""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scrm_email.parse import encode_payload

__all__ = ["detect_kind", "iter_payloads"]


def detect_kind(path: Path) -> str:
    """Return ``maildir``, ``directory`` (of .eml files), ``mbox`` or ``eml`` for ``path``."""
    if path.is_dir():
        if all((path / sub).is_dir() for sub in ("cur", "new")):
            return "maildir"
        return "directory"
    with path.open("rb") as f:
        head = f.read(5)
    return "mbox" if head == b"From " else "eml"


def iter_payloads(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the native payload of every message under ``path``, in a stable order."""
    kind = detect_kind(path)
    if kind == "eml":
        yield encode_payload(path.read_bytes(), source=str(path))
    elif kind == "directory":
        for file in sorted(p for p in path.iterdir() if p.suffix.lower() == ".eml"):
            yield encode_payload(file.read_bytes(), source=str(file))
    elif kind == "mbox":
        box = mailbox.mbox(str(path), create=False)
        try:
            for key in box.iterkeys():
                yield encode_payload(box.get_bytes(key), source=f"{path}#{key}")
        finally:
            box.close()
    else:
        md = mailbox.Maildir(str(path), factory=None, create=False)
        for key in sorted(md.iterkeys()):
            yield encode_payload(md.get_bytes(key), source=f"{path}#{key}")
