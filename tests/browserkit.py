"""Debian's Chromium for the browser tests: found on the PATH, or installed when missing.

``make test`` runs on a fresh machine: when no ``chromium`` is installed and the tests run as
root with ``apt-get``, Debian's ``chromium`` package is installed once (as
``scripts/test-postgres`` installs PostgreSQL).  Otherwise the browser tests skip, naming
what is missing.  ``$SCRM_CHROMIUM`` points at another binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache

import pytest

__all__ = ["chromium"]


def chromium() -> str:
    """The path of a headless-capable Chromium; skips the test when there is none."""
    found, reason = _find_or_install()
    if found is None:
        pytest.skip(reason)
    return found


@cache
def _find_or_install() -> tuple[str | None, str]:
    named = os.environ.get("SCRM_CHROMIUM")
    if named:
        ok = os.path.exists(named)
        return (named, "") if ok else (None, f"SCRM_CHROMIUM={named} does not exist")
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found, ""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, (
            "headless Chromium is not installed and this user cannot install it "
            "(needs root and apt-get): apt-get install chromium"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            return (
                None,
                f"could not install Debian's chromium ({' '.join(cmd)}): {done.stderr[-300:]}",
            )
    found = shutil.which("chromium")
    return (found, "") if found else (None, "apt-get installed chromium but none is on PATH")
