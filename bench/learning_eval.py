"""Measure learning from labels on real data: the rules alone against ``scrm train``'s model.

Run ``SCRM_REAL_DATA=/path .venv/bin/python bench/learning_eval.py`` (needs ``pip install -e
'.[ml]'``).  For each real corpus that ``tests/realdata.py`` finds, the labelled records of the
``tune`` half (even positions) are written as the JSONL ``scrm train`` reads, and the model is
trained with the CLI an operator uses (``scrm train --no-corrections --json``, whose guard
compares model and rules on a share of the training labels and keeps the model only for the
fields where it wins); then ``scrm eval --json`` scores the ``held`` half (odd positions), which
neither the rules' authors nor the model saw, once before training (the rules alone) and once
after (the installed classifier: the model where it is sure and trusted, the rules elsewhere).

Printed per corpus: macro-F1 of each field for the rules, the model alone and the installed
classifier; precision and recall of ``complaint`` before and after; the training time.

Corpora: the US airline tweets (sentiment, and the kind derived from the labels as in
``realdata.load_kind_mix``: complaint, praise, question) and the Turkish store reviews
(sentiment).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from realdata import (
    Record,
    airline_kind,
    held_out,
    load_airline,
    load_turkish_store_reviews,
)

SCRM = Path(sys.executable).with_name("scrm")


def airline_row(rec: Record) -> dict[str, str]:
    """Return the labelled JSONL row of an airline tweet: sentiment, and kind where known."""
    row = {"text": rec.text, "sentiment": rec.labels["sentiment"]}
    kind = airline_kind(rec)
    if kind is not None:
        row["kind"] = kind
    return row


def review_row(rec: Record) -> dict[str, str]:
    """Return the labelled JSONL row of a Turkish store review: its sentiment."""
    return {"text": rec.text, "sentiment": rec.labels["sentiment"]}


CORPORA: dict[str, tuple[Callable[[], list[Record]], Callable[[Record], dict[str, str]]]] = {
    "airline": (load_airline, airline_row),
    "tr-store-reviews": (load_turkish_store_reviews, review_row),
}


def scrm(folder: Path, *args: str) -> dict:
    """Run the ``scrm`` CLI in ``folder`` (its ``scrm.toml``) and return its JSON output."""
    done = subprocess.run(
        [str(SCRM), *args], cwd=folder, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"scrm {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return json.loads(done.stdout)


def write(path: Path, rows: list[dict[str, str]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")


def complaint(figures: dict) -> str:
    label = figures["kind"]["labels"].get("complaint")
    if label is None:
        return "-"
    return f"P {label['precision']:.3f} R {label['recall']:.3f}"


def report(name: str, records: list[Record], to_row: Callable[[Record], dict[str, str]]) -> None:
    """Train on the tune half of ``records`` and print the held half's figures."""
    with tempfile.TemporaryDirectory(prefix="scrm-learning-") as tmp:
        folder = Path(tmp)
        config = folder / "scrm.toml"
        config.write_text('[plugins.classifier]\nmodel = "model.pkl"\n', "utf-8")
        config.chmod(0o600)
        write(folder / "tune.jsonl", [to_row(r) for r in records if not held_out(r.n)])
        write(folder / "held.jsonl", [to_row(r) for r in records if held_out(r.n)])
        rules = scrm(folder, "eval", "--json", "held.jsonl")
        start = time.perf_counter()
        trained = scrm(folder, "train", "--no-corrections", "--json", "tune.jsonl")
        seconds = time.perf_counter() - start
        after = scrm(folder, "eval", "--json", "held.jsonl")
    print(f"\n== {name}: trained on {trained['examples']} tune records in {seconds:.1f} s")
    for field in trained["fields"]:
        held = after["compare"][field["field"]]
        print(
            f"  {field['field']:<9}  guard (tune share): rules {field['rules_macro_f1']:.3f} "
            f"model {field['model_macro_f1']:.3f} at confidence {field['confidence']}"
            f" -> {field['why']}"
        )
        print(
            f"  {'':<9}  held half macro-F1:  rules {held['rules']:.3f} model {held['model']:.3f}"
            f" installed {held['installed']:.3f}"
        )
    if "kind" in rules and "complaint" in rules["kind"]["labels"]:
        print(f"  complaint on the held half: rules {complaint(rules)}, installed {complaint(after)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(CORPORA), help="one corpus")
    args = parser.parse_args()
    found = 0
    for name, (load, to_row) in CORPORA.items():
        if args.only and name != args.only:
            continue
        records = load()
        if not records:
            print(f"\n== {name}: not found (../shared/data or SCRM_REAL_DATA)")
            continue
        found += 1
        report(name, records, to_row)
    if not found:
        raise SystemExit("no corpus found: set SCRM_REAL_DATA (see bench/README.md)")


if __name__ == "__main__":
    main()
