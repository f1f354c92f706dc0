"""Scan every regular expression of scrm and the channel plugins for ReDoS, with regexploit.

Run by ``make lint`` and ``scripts/run-tests`` as ``python scripts/redos_scan.py``; exits 1 on
a finding.  Two sources of patterns:

- the literals in ``scrm/`` and ``plugins/*/src/`` that regexploit reads from the source
  (``re.compile(r"...")``, ``re.sub(r"...", ...)``), named by file and line;
- every compiled pattern held by a module once imported (those built from data files, such as
  the promise phrases, or from f-strings), named ``module.attribute``.

A finding is a pattern that regexploit shows can backtrack quadratically or worse on one
starting position (its "starriness" of 2 or more; regexploit itself reports from 3), or one it
cannot analyse, or not within ``BUDGET`` seconds of CPU.  What it cannot see, a pattern
rescanning a long run from each starting position, is what ``tests/test_redos.py`` measures.
A false positive goes in ``ALLOWED``, by name, with the reason.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import signal
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("scrm", "scrm_email", "scrm_facebook", "scrm_mastodon", "scrm_twitter")
#: CPU seconds regexploit may spend on one pattern.
BUDGET = 2.0
_SLOW = "regexploit needs over 2 s (20 s for _DUE_EN) on its optional blanks; linear in tests/test_redos.py"
#: Where a pattern is (file:line or module.attribute) -> why its finding is a false positive.
ALLOWED: dict[str, str] = {
    "scrm.core.promises._DUE_EN": _SLOW,
    "scrm.core.promises._DUE_TR": _SLOW,
}


class _OverBudget(Exception):
    pass


def _over_budget(signum: int, frame: Any) -> None:
    raise _OverBudget


def collect(obj: Any, name: str, out: dict[str, re.Pattern[str]]) -> None:
    """Add the compiled patterns in ``obj`` (a pattern, or dicts and sequences of them) to ``out``."""
    if isinstance(obj, re.Pattern):
        if all(obj is not known for known in out.values()):  # one name for an alias
            out[name] = obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            collect(value, f"{name}[{key}]", out)
    elif isinstance(obj, tuple | list):
        for i, value in enumerate(obj):
            collect(value, f"{name}[{i}]", out)


def modules() -> Iterator[Any]:
    """Import and yield every module of scrm and the channel plugins but the migrations."""
    for top in PACKAGES:
        package = importlib.import_module(top)
        yield package
        for info in pkgutil.walk_packages(package.__path__, f"{top}."):
            if ".migrations" not in info.name:
                yield importlib.import_module(info.name)


def compiled_patterns() -> dict[str, re.Pattern[str]]:
    """Return the compiled patterns held by modules, by ``module.attribute`` name."""
    found: dict[str, re.Pattern[str]] = {}
    for module in modules():
        for key, value in vars(module).items():
            collect(value, f"{module.__name__}.{key}", found)
    return found


def literal_patterns() -> Iterator[tuple[str, str, int]]:
    """Yield (where, pattern, flags) for the pattern literals in the source."""
    from regexploit.languages.python_node_visitor import PythonNodeVisitor

    files = sorted((ROOT / "scrm").rglob("*.py")) + sorted(ROOT.glob("plugins/*/src/**/*.py"))
    for path in files:
        visitor = PythonNodeVisitor()
        visitor.visit(ast.parse(path.read_bytes()))
        for rx in visitor.patterns:
            yield f"{path.relative_to(ROOT)}:{rx.lineno}", rx.pattern, rx.flags


def findings() -> Iterator[str]:
    """Yield one line per pattern that can backtrack quadratically or worse."""
    from regexploit.ast.sre import SreOpParser  # imports the deprecated sre modules
    from regexploit.redos import find

    seen: set[tuple[str, int]] = set()
    candidates = list(literal_patterns())
    candidates += [(n, p.pattern, p.flags) for n, p in compiled_patterns().items()]
    for where, pattern, flags in candidates:
        if (pattern, flags) in seen or where in ALLOWED:
            continue
        seen.add((pattern, flags))
        try:
            parsed = SreOpParser().parse_sre(pattern, flags)
        except re.error:
            continue  # a string the visitor took for a pattern that is none
        except Exception as exc:  # a construct regexploit does not know: not proven, so a finding
            yield f"{where}: regexploit cannot analyse {pattern!r} ({exc})"
            continue
        signal.setitimer(signal.ITIMER_VIRTUAL, BUDGET)
        try:
            worst = max((r.starriness for r in find(parsed)), default=0)
        except _OverBudget:
            yield f"{where}: regexploit did not finish on {pattern!r} within {BUDGET} s"
            continue
        finally:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        if worst >= 2:
            yield f"{where}: {pattern!r} backtracks like n**{worst}"


def main() -> int:
    sys.path[:0] = [str(ROOT)]
    signal.signal(signal.SIGVTALRM, _over_budget)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        bad = list(findings())
    for line in bad:
        print(line)
    print(f"ReDoS scan: {len(bad)} finding(s)" if bad else "ReDoS scan: no finding")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
