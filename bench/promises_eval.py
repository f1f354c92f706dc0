"""Measure the promise detector on the labelled set: quality per split and language, and speed.

Run ``python bench/promises_eval.py [path/to/promises_eval.jsonl] [--errors] [--real]``. Prints,
for the dev and heldout splits separately and per language: precision/recall/F1 of
``promise`` true/false and of each kind, exact-match accuracy of ``due``, then throughput.

``--real`` adds the brands' real replies found by ``tests/realdata.py`` (``../shared/data`` or
``SCRM_REAL_DATA``), per source and half (even positions ``tune``, odd ``held``): the same
table on the hand-labelled replies and the kinds found on all of them.  The sources: IBM's
customer-care agents (English; ``tests/data/ibm_agent_promise_labels.jsonl``, ids and kinds),
the banks' replies to Şikayetvar complaints (Turkish; ``tests/data/
sikayetvar_bank_promise_labels.jsonl``, a kind per reply template, keyed by
``realdata.reply_template``) and, independent of those, other brands' replies there (Ziraat
Bankası, Setur; ``tests/data/sikayetvar_brand_promise_labels.jsonl``), also by brand.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from scrm.core.promises import PromiseKind, detect_promise

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from realdata import (
    Record,
    held_out,
    load_ibm_agent_replies,
    load_sikayetvar_bank_replies,
    load_sikayetvar_brand_replies,
)

__all__ = ["REAL_SOURCES", "evaluate", "main", "prf", "real_halves"]

DEFAULT = Path(__file__).resolve().parent.parent / "tests" / "data" / "promises_eval.jsonl"


def prf(pairs: Iterable[tuple[str, str]], label: str) -> tuple[float, float, float, int]:
    """Return precision, recall, F1 and support of ``label`` over (gold, predicted) pairs."""
    tp = fp = fn = 0
    for gold, pred in pairs:
        tp += gold == label and pred == label
        fp += gold != label and pred == label
        fn += gold == label and pred != label
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f, tp + fn


def evaluate(rows: list[dict]) -> dict[str, float]:
    """Score ``rows`` (labelled records) and return the headline figures."""
    kinds, flags, due_hits = [], [], 0
    for row in rows:
        got = detect_promise(row["text"], row.get("lang"))
        kinds.append((row["kind"], got.kind.value))
        flags.append((str(row["promise"]), str(got.promise)))
        due_hits += got.due_iso == row["due"]
    out = {"n": float(len(rows)), "due_accuracy": due_hits / len(rows) if rows else 1.0}
    for label in ("True", "False"):
        p, r, f, _ = prf(flags, label)
        out |= {f"promise_{label}_p": p, f"promise_{label}_r": r, f"promise_{label}_f1": f}
    for kind in PromiseKind:
        p, r, f, _ = prf(kinds, kind.value)
        out |= {f"{kind.value}_p": p, f"{kind.value}_r": r, f"{kind.value}_f1": f}
    out["kind_accuracy"] = sum(g == p for g, p in kinds) / len(kinds) if kinds else 1.0
    return out


def _report(title: str, rows: list[dict]) -> None:
    if not rows:
        return
    m = evaluate(rows)
    print(f"\n== {title}  (n={len(rows)})")
    print(f"  {'label':<16} {'P':>6} {'R':>6} {'F1':>6}")
    for label in ("promise_True", "promise_False", *(k.value for k in PromiseKind)):
        p, r, f = (m[f"{label}_{x}"] for x in ("p", "r", "f1"))
        print(f"  {label:<16} {p:6.3f} {r:6.3f} {f:6.3f}")
    print(f"  kind accuracy {m['kind_accuracy']:.3f}   due exact-match {m['due_accuracy']:.3f}")


#: The real sources of brand replies: (name, loader, language).
REAL_SOURCES = (
    ("ibm-agents", load_ibm_agent_replies, "en"),
    ("tr-bank-replies", load_sikayetvar_bank_replies, "tr"),
    ("tr-brand-replies", load_sikayetvar_brand_replies, "tr"),
)


def real_halves() -> Iterator[tuple[str, str, list[Record], list[dict]]]:
    """Yield (source, half, its brand replies, its hand-labelled rows) for each real source found.

    A reply labelled ``not_brand`` (the complainant's own words in a reply column) is left
    out of both; a reply without a label is among the replies but not the labelled rows.
    """
    for name, load, lang in REAL_SOURCES:
        recs = [r for r in load() if r.labels.get("kind") != "not_brand"]
        if not recs:
            continue
        for half, keep in (("tune", False), ("held", True)):
            sub = [r for r in recs if held_out(r.n) is keep]
            labelled = [
                {"text": r.text, "kind": r.labels["kind"], "promise": r.labels["promise"] == "True",
                 "due": None, "lang": lang}
                for r in sub if "kind" in r.labels
            ]  # fmt: skip
            yield name, half, sub, labelled


def _report_real() -> None:
    """Print the figures on the brands' real replies, per source and half."""
    found = set()
    for name, half, sub, labelled in real_halves():
        found.add(name)
        _report(f"real {name}/{half} (hand-labelled)", labelled)
        kinds = Counter(detect_promise(r.text).kind.value for r in sub)
        print(f"  all {len(sub)} replies: {dict(sorted(kinds.items()))}"
              f"{f', {len(sub) - len(labelled)} unlabelled' if len(sub) > len(labelled) else ''}")  # fmt: skip
        brands = sorted({r.labels.get("brand", "") for r in sub})
        for brand in brands if len(brands) > 1 else ():
            mine = [r for r in sub if r.labels.get("brand") == brand and "kind" in r.labels]
            hits = sum(detect_promise(r.text).kind.value == r.labels["kind"] for r in mine)
            print(f"  {brand}: kind accuracy {hits / len(mine):.3f} ({hits} of {len(mine)})")
    for name, _, _ in REAL_SOURCES:
        if name not in found:
            print(f"\n== real {name}: corpus not found (../shared/data or SCRM_REAL_DATA)")


def main(argv: list[str]) -> None:
    """Print the evaluation tables and throughput."""
    if "--real" in argv:
        _report_real()
    args = [a for a in argv if not a.startswith("--")]
    rows = [json.loads(x) for x in Path(args[0] if args else DEFAULT).read_text().splitlines() if x]
    for split in ("dev", "heldout"):
        part = [r for r in rows if r["split"] == split]
        _report(f"{split} / all", part)
        for lang in ("tr", "en"):
            _report(f"{split} / {lang}", [r for r in part if r["lang"] == lang])
    if "--errors" in argv:  # dev only: the heldout split is never used to write rules
        for r in (r for r in rows if r["split"] == "dev"):
            got = detect_promise(r["text"])
            due = got.due_iso
            if (got.kind.value, due) != (r["kind"], r["due"]):
                print(f"{r['id']}: gold={r['kind']}/{r['due']} got={got.kind.value}/{due} "
                      f"ev={got.evidence!r}\n    {r['text']}")  # fmt: skip
    texts = [r["text"] for r in rows] * 20
    start = time.perf_counter()
    for t in texts:
        detect_promise(t)
    elapsed = time.perf_counter() - start
    print(f"\nthroughput: {len(texts) / elapsed:,.0f} replies/s ({len(texts)} replies)")


if __name__ == "__main__":
    main(sys.argv[1:])
