"""Evaluate the rule-based classifier on tests/data/classify_eval.jsonl.

Prints, for the dev and held-out splits and per language: accuracy and macro-F1 for
sentiment, kind and category; complaint-vs-not F1; urgency flag precision/recall; the
throughput of the classifier; and, when ``vaderSentiment`` is importable, a VADER baseline
on the English half (sentiment, and complaint = compound < -0.05).

With ``--real``, the same figures on real third-party corpora found by ``tests/realdata.py``
(``../shared/data`` or ``SCRM_REAL_DATA``), per source and per half: positions are split into
even (``tune``: the only half rules are written against) and odd (``held``).  Real sets have
the labels their source has: sentiment for the airline tweets and the Turkish store reviews;
for every source, no message may be spam and every message a person wrote about a problem
should be a complaint (the airline tweets with a named reason, every Turkish bank complaint,
read with its title as ``scrm`` reads a complaint site's title, every CFPB consumer complaint
narrative).  Kind macro-F1 is measured on
a Turkish/English mix whose kinds come from the sources' own labels (``load_kind_mix`` in
``tests/realdata.py``: complaint, praise and, in English, question), with the throughput on
those real texts in CPU time.
Urgency precision there comes from ``tests/data/real_urgency_audit.jsonl`` (a hand verdict per
flag raised by the rules before and after issue 20, by source and id; flags nobody audited
are counted apart); recall is pooled: the share of all flags judged correct that one version
raises.

With ``--sectors``, the category distribution of the IBM customers' messages to the brands of
each sector (banks, airlines, telecom operators, online retailers, streaming and games), with the generic taxonomy
and with the sector's pack, and the throughput of each pack against the generic taxonomy on
the same texts (issue 20).

Run: ``.venv/bin/python bench/classify_eval.py [--errors dev] [--real [--show-flags]] [--sectors]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from realdata import (  # noqa: E402
    AIRLINE_PROBLEMS,
    Record,
    held_out,
    load_airline,
    load_cfpb_complaints,
    load_ibm_customers,
    load_kind_mix,
    load_sikayetvar_banks,
    load_turkish_store_reviews,
)

from scrm.plugins.classifier import RuleClassifier, with_subject  # noqa: E402
from scrm.plugins.taxonomy import configured_taxonomy  # noqa: E402

EVAL = ROOT / "tests" / "data" / "classify_eval.jsonl"
FLAGS = ("churn", "legal", "safety", "public", "suspected_spam")


def macro_f1(gold: Sequence[str], pred: Sequence[str]) -> float:
    """Return the unweighted mean F1 over the labels present in ``gold``."""
    labels = sorted(set(gold))
    total = 0.0
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, pred, strict=True))
        fp = sum(g != label and p == label for g, p in zip(gold, pred, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, pred, strict=True))
        total += 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return total / len(labels) if labels else 0.0


def binary_f1(gold: Sequence[bool], pred: Sequence[bool]) -> float:
    """Return F1 of the positive class."""
    tp = sum(g and p for g, p in zip(gold, pred, strict=True))
    fp = sum(p and not g for g, p in zip(gold, pred, strict=True))
    fn = sum(g and not p for g, p in zip(gold, pred, strict=True))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def accuracy(gold: Sequence[str], pred: Sequence[str]) -> float:
    """Return the share of equal pairs."""
    return sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold) if gold else 0.0


def report(name: str, rows: list[dict], preds: list[dict]) -> None:
    """Print one block of metrics."""
    print(f"\n== {name}: {len(rows)} messages")
    for field in ("sentiment", "kind", "category"):
        gold = [r[field] for r in rows]
        pred = [p[field] for p in preds]
        print(f"  {field:<10} acc {accuracy(gold, pred):.3f}  macro-F1 {macro_f1(gold, pred):.3f}")
    lang_gold = [r["lang"] for r in rows]
    lang_pred = [p["language"] for p in preds]
    print(f"  language   acc {accuracy(lang_gold, lang_pred):.3f}")
    gold_c = [r["kind"] == "complaint" for r in rows]
    pred_c = [p["kind"] == "complaint" for p in preds]
    print(f"  complaint-vs-not F1 {binary_f1(gold_c, pred_c):.3f}")
    for flag in FLAGS:
        tp = sum(
            flag in r["urgency"] and flag in p["urgency"] for r, p in zip(rows, preds, strict=True)
        )
        n_pred = sum(flag in p["urgency"] for p in preds)
        n_gold = sum(flag in r["urgency"] for r in rows)
        prec = f"{tp / n_pred:.2f}" if n_pred else "  - "
        rec = f"{tp / n_gold:.2f}" if n_gold else "  - "
        print(f"  urgency {flag:<7} P {prec} R {rec}  (gold {n_gold}, predicted {n_pred})")


def vader_baseline(rows: list[dict]) -> None:
    """Print VADER's sentiment and complaint-vs-not scores on English rows."""
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        print("\nVADER baseline skipped: vaderSentiment is not installed")
        return
    analyzer = SentimentIntensityAnalyzer()
    for split in ("dev", "heldout"):
        sub = [r for r in rows if r["lang"] == "en" and r["split"] == split]
        comp = [analyzer.polarity_scores(r["text"])["compound"] for r in sub]
        sent = ["negative" if c < -0.05 else "positive" if c > 0.05 else "neutral" for c in comp]
        gold = [r["sentiment"] for r in sub]
        f1 = binary_f1([r["kind"] == "complaint" for r in sub], [c < -0.05 for c in comp])
        print(
            f"\nVADER en/{split} ({len(sub)}): sentiment acc {accuracy(gold, sent):.3f} "
            f"macro-F1 {macro_f1(gold, sent):.3f}  complaint-vs-not F1 {f1:.3f}"
        )


def throughput(
    clf: RuleClassifier,
    texts: list[str],
    seconds: float = 2.0,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Return messages per second on one core, over at least ``seconds`` of ``clock``
    (``time.process_time``: CPU time, steady on a loaded machine)."""
    done, start = 0, clock()
    while clock() - start < seconds:
        for text in texts:
            clf.classify(text)
        done += len(texts)
    return done / (clock() - start)


AUDIT = ROOT / "tests" / "data" / "real_urgency_audit.jsonl"


def real_text(rec: Record) -> str:
    """Return what the classifier reads of a real record: its title (a complaint site's)
    and its text."""
    return with_subject(rec.labels.get("title"), rec.text)


def is_problem(rec: Record) -> bool:
    """Return whether a real record is labelled as a person's problem (a complaint)."""
    return rec.labels.get("reason") in AIRLINE_PROBLEMS or rec.labels.get("complaint") == "yes"


def _audit() -> dict[tuple[str, str, str], bool]:
    """Return the hand verdicts on raised urgency flags: (source, id, flag) -> correct."""
    if not AUDIT.exists():
        return {}
    rows = (json.loads(x) for x in AUDIT.read_text(encoding="utf-8").splitlines() if x.strip())
    return {(r["source"], r["id"], r["flag"]): bool(r["correct"]) for r in rows}


def report_real(name: str, recs: list[Record], show_flags: bool = False) -> None:
    """Print the real-data figures of one source, for each half."""
    clf, audit = RuleClassifier(), _audit()
    for half, keep in (("tune", False), ("held", True)):
        sub = [r for r in recs if held_out(r.n) is keep]
        if not sub:
            continue
        preds = [clf.classify(real_text(r)) for r in sub]
        print(f"\n== real {name}/{half}: {len(sub)} messages")
        if "sentiment" in sub[0].labels:
            gold = [r.labels["sentiment"] for r in sub]
            got = [p.sentiment for p in preds]
            neg_neutral = sum(
                g == "negative" and p == "neutral" for g, p in zip(gold, got, strict=True)
            )
            print(f"  sentiment  acc {accuracy(gold, got):.3f}  macro-F1 {macro_f1(gold, got):.3f}"
                  f"  (negative read as neutral: {neg_neutral} of {gold.count('negative')})")  # fmt: skip
        problems = [i for i, r in enumerate(sub) if is_problem(r)]
        if problems:
            hit = sum(preds[i].kind == "complaint" for i in problems)
            print(
                f"  complaint recall on labelled problems {hit / len(problems):.3f} ({len(problems)})"
            )
            # The other side of recall: praise the annotators saw, read as a complaint.
            praised = [p for r, p in zip(sub, preds, strict=True)
                       if r.labels.get("sentiment") == "positive"]  # fmt: skip
            if praised:
                wrong = sum(p.kind == "complaint" for p in praised)
                print(f"  positive messages read as complaints {wrong} of {len(praised)}")
        spam = sum(p.kind == "spam" for p in preds)
        kinds: dict[str, int] = {}
        for p in preds:
            kinds[str(p.kind)] = kinds.get(str(p.kind), 0) + 1
        print(f"  spam {spam}  kinds {dict(sorted(kinds.items()))}")
        for flag in FLAGS:
            raised = [(r, p) for r, p in zip(sub, preds, strict=True) if flag in p.urgency]
            verdicts = [audit.get((r.source, r.id, flag)) for r, _ in raised]
            judged = [v for v in verdicts if v is not None]
            prec = f"{sum(judged) / len(judged):.2f}" if judged else "  - "
            # Pooled recall: of every flag judged correct (raised by any audited version of the
            # rules), the share this version raises.
            ids = {r.id for r in sub}
            pool = sum(ok for (src, id_, fl), ok in audit.items()
                       if src == sub[0].source and fl == flag and id_ in ids)  # fmt: skip
            rec = f"{sum(judged) / pool:.2f}" if pool else "  - "
            print(
                f"  urgency {flag:<7} raised {len(raised):4d}  audited {len(judged):4d}  P {prec}"
                f"  pooled R {rec} (of {pool})"
            )
            if show_flags:
                for (r, _), v in zip(raised, verdicts, strict=True):
                    if v is None:
                        print(f"    ? {r.source} {r.id} {flag}: {r.text[:160]!r}")


def report_kinds(recs: list[Record]) -> None:
    """Print kind macro-F1 on the real mix (``load_kind_mix``), per half and language."""
    clf = RuleClassifier()
    for half, keep in (("tune", False), ("held", True)):
        sub = [r for r in recs if held_out(r.n) is keep]
        got = [str(clf.classify(real_text(r)).kind) for r in sub]
        for lang in ("tr", "en", None):
            idx = [i for i, r in enumerate(sub) if lang in (None, r.labels["lang"])]
            gold = [sub[i].labels["kind"] for i in idx]
            pred = [got[i] for i in idx]
            per = ", ".join(f"{k} {binary_f1([g == k for g in gold], [p == k for p in pred]):.3f}"
                            f" ({gold.count(k)})" for k in sorted(set(gold)))  # fmt: skip
            print(f"  kind {half}/{lang or 'mixed'}: macro-F1 {macro_f1(gold, pred):.3f}"
                  f"  F1 per kind: {per}")  # fmt: skip


#: The IBM brands of each sector with a pack (the rest are software and web services).
SECTOR_BRANDS = {
    "banking": ("Ask_WellsFargo", "ChaseSupport"),
    "airline": ("Delta", "SouthwestAir"),
    "telecom": ("TMobileHelp", "Ask_Spectrum"),
    "retail": ("AmazonHelp", "AskeBay"),
    "media": ("hulu_support", "SpotifyCares", "TeamYouTube", "AskPlayStation", "XboxSupport",
              "RockstarSupport"),
}  # fmt: skip


def _distribution(clf: RuleClassifier, texts: list[str]) -> str:
    counts: dict[str, int] = {}
    for text in texts:
        category = clf.classify(text).category
        counts[category] = counts.get(category, 0) + 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{k} {100 * v / len(texts):.0f}%" for k, v in top)


def report_sectors() -> None:
    """Print the category distribution per sector, generic against the pack, and the speed."""
    recs = load_ibm_customers()
    if not recs:
        print("\n== sectors: IBM corpus not found (../shared/data or SCRM_REAL_DATA)")
        return
    generic = RuleClassifier()
    everything = [r.text for r in recs]
    print(f"\n== sectors: IBM customers' messages ({len(recs)} in all)")
    print(f"  all brands, generic: {_distribution(generic, everything)}")
    cpu = time.process_time
    base = throughput(generic, everything, seconds=3.0, clock=cpu)
    print(f"  throughput generic: {base:,.0f} messages per CPU second on the {len(everything)} IBM messages")
    for sector, brands in SECTOR_BRANDS.items():
        texts = [r.text for r in recs if r.labels.get("company") in brands]
        pack = RuleClassifier(configured_taxonomy({"sectors": [sector]}))
        print(f"  {sector} ({', '.join(brands)}: {len(texts)} messages)")
        print(f"    generic: {_distribution(generic, texts)}")
        print(f"    {sector} pack: {_distribution(pack, texts)}")
        rate = throughput(pack, everything, seconds=3.0, clock=cpu)
        print(f"    throughput {sector} pack: {rate:,.0f} messages per CPU second ({rate / base:.2f}x generic)")


def main() -> None:
    """Run the evaluation."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", choices=("dev", "heldout"), help="print misclassified rows")
    parser.add_argument("--real", action="store_true", help="also measure on real corpora")
    parser.add_argument("--show-flags", action="store_true", help="list unaudited real flags")
    parser.add_argument(
        "--sectors", action="store_true", help="category distribution and speed per sector pack"
    )
    args = parser.parse_args()
    if args.sectors:
        report_sectors()
    if args.real:
        for name, loader in (
            ("airline", load_airline),
            ("ibm-customers", load_ibm_customers),
            ("tr-store-reviews", load_turkish_store_reviews),
            ("tr-bank-complaints", load_sikayetvar_banks),
            ("us-cfpb-complaints", load_cfpb_complaints),
        ):
            recs = loader()
            if not recs:
                print(f"\n== real {name}: corpus not found (../shared/data or SCRM_REAL_DATA)")
                continue
            report_real(name, recs, args.show_flags)
        mix = load_kind_mix()
        if mix:
            print(f"\n== real kind mix (kinds from the sources' labels): {len(mix)} messages")
            report_kinds(mix)
            texts = [real_text(r) for r in mix[::7]]
            rate = throughput(RuleClassifier(), texts, clock=time.process_time)
            print(f"  throughput: {rate:,.0f} messages per CPU second ({len(texts)} real texts)")
    rows = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line]
    clf = RuleClassifier()
    preds = []
    for r in rows:
        c = clf.classify(r["text"])
        preds.append(
            {"language": c.language, "sentiment": c.sentiment, "kind": str(c.kind),
             "category": c.category, "urgency": list(c.urgency)}
        )  # fmt: skip
    for split in ("dev", "heldout"):
        for lang in ("tr", "en", None):
            idx = [
                i for i, r in enumerate(rows) if r["split"] == split and lang in (None, r["lang"])
            ]
            report(f"{split}/{lang or 'all'}", [rows[i] for i in idx], [preds[i] for i in idx])
    if args.errors:
        print(f"\n== errors ({args.errors})")
        for r, p in zip(rows, preds, strict=True):
            if r["split"] != args.errors:
                continue
            wrong = [f for f in ("sentiment", "kind", "category") if r[f] != p[f]]
            if sorted(r["urgency"]) != sorted(p["urgency"]):
                wrong.append("urgency")
            if wrong:
                diffs = ", ".join(f"{f}: {r[f]}->{p[f]}" for f in wrong)
                print(f"  {r['id']} {r['text'][:70]!r}  {diffs}")
    vader_baseline(rows)
    texts = [r["text"] for r in rows]
    rate = throughput(RuleClassifier(), texts, clock=time.process_time)
    print(f"\nthroughput: {rate:,.0f} messages per CPU second ({len(texts)} eval texts, warm cache)")
    cold = RuleClassifier()
    start = time.perf_counter()
    for t in texts:
        cold.classify(t + " x")
    print(
        f"first pass (cold token cache): {len(texts) / (time.perf_counter() - start):,.0f} messages/s"
    )


if __name__ == "__main__":
    main()
