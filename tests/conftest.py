"""Fixtures for scrm's own tests; the general ones come from the ``scrm.testing`` plugin."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import settings

# No per-example deadline: on a loaded two-core CI machine a slow example is not a failure
# (hypothesis would call it flaky).  Costs are measured in bench/, never in tests.
settings.register_profile("scrm", deadline=None)
settings.load_profile("scrm")


@pytest.fixture
def write_jsonl(tmp_path):
    def write(items: list[dict[str, Any] | str], name: str = "in.jsonl"):
        path = tmp_path / name
        with path.open("w", encoding="utf-8") as f:
            for i in items:
                f.write((i if isinstance(i, str) else json.dumps(i, ensure_ascii=False)) + "\n")
        return path

    return write
