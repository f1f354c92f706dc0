"""Write facebook.jsonl: the bundled sample's Facebook lines as the webhook bodies Meta sends.

Run from the repository root: ``.venv/bin/python plugins/facebook/sample/build.py``.  One
line per delivery, one event per delivery; comment times in seconds, Messenger in
milliseconds, as Meta sends them.  What a webhook does not carry (Messenger names, like
counts, e-mail addresses not typed into a message) is not invented.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

PAGE_ID = "112233445566778"
HERE = Path(__file__).parent


def to_webhook(line: dict[str, Any]) -> dict[str, Any]:
    raw = line["raw"]
    if raw.get("field") == "feed":
        value = {**raw["value"], "message": line["text"]}
        entry = {
            "id": PAGE_ID,
            "time": value["created_time"] + 2,
            "changes": [{"field": "feed", "value": value}],
        }
    else:
        message = {**raw["message"], "text": line["text"]}
        event = {**raw, "message": message}
        entry = {"id": PAGE_ID, "time": raw["timestamp"] + 150, "messaging": [event]}
    return {"object": "page", "entry": [entry]}


def main() -> None:
    sample = resources.files("scrm") / "data" / "sample" / "interactions.jsonl"
    with (
        sample.open(encoding="utf-8") as src,
        (HERE / "facebook.jsonl").open("w", encoding="utf-8") as out,
    ):
        for text in src:
            line = json.loads(text)
            if line["channel"] == "facebook":
                # Meta escapes non-ASCII as \\uXXXX; keep the bytes exactly like a recording.
                out.write(json.dumps(to_webhook(line), separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
