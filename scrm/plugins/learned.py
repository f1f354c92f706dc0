"""A classifier learned from agents' corrections and labelled files (optional: ``pip install scrm[ml]``).

``scrm train`` fits one model per field (kind, sentiment, category) on character n-grams of
the Turkish-normalised text (so "şikayet", "sikayet" and "şikayetçiyim" share features),
from every stored label correction plus any labelled JSONL file, and saves it to the file
named by ``[plugins.classifier] model``.

A model replaces the rules only where it beats them (:func:`train_guarded`): a held-out
share of the examples, chosen by a hash of the text so the same file always splits the same
way, is classified by the rules and by the model trained on the rest, combined as the
classifier would combine them.  A field whose model does not score a higher macro-F1 than
the rules on those held-out labels is not *trusted*: the saved model keeps its figures but
never answers for it.  For the trusted fields, the built-in classifier takes the model's
answer when the model is at least as sure as the field's *confidence*, and the rules' answer
otherwise.  The guard chooses that confidence per field among :data:`CONFIDENCES` (0: the
model alone) as the one that scores best on the held-out labels, unless ``[plugins.classifier]
model_confidence`` sets one for every field.  Language, urgency and reach always come from the
rules.

Scoring (``scrm eval``) needs no scikit-learn: :func:`evaluate` computes accuracy,
per-label precision and recall, and macro-F1 in plain Python.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from scrm.plugin import normalize

__all__ = [
    "CONFIDENCES",
    "DEFAULT_CONFIDENCE",
    "FIELDS",
    "FieldFigures",
    "LearnedModel",
    "RulesFn",
    "Sample",
    "evaluate",
    "held_out",
    "read_labelled",
    "train",
    "train_guarded",
]

FIELDS = ("kind", "sentiment", "category")
FORMAT_VERSION = 3
#: How sure a model must be to overrule the rules when neither the model file nor the
#: configuration says (models saved before the guard chose it, format 1 and 2).
DEFAULT_CONFIDENCE = 0.6
#: The confidences the guard tries per field: 0.0 is the model alone; higher ones leave more
#: answers to the rules.  On real Turkish store reviews the model alone scored best (0.692
#: macro-F1 on the held half against 0.655 at 0.6); on airline tweets a combination did
#: (bench/learning_eval.py).
CONFIDENCES = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9)
MIN_HELD_OUT = 5
"""Held-out labels a field needs before its model can be trusted over the rules."""


@dataclass(frozen=True)
class Sample:
    text: str
    labels: dict[str, str]


def read_labelled(lines: Iterable[str], source: str) -> Iterator[Sample]:
    """Read labelled JSONL ``{"text", "kind"?, "sentiment"?, "category"?}``; bad lines raise naming the line."""
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"{source} line {n}: not valid JSON: {exc}") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise ValueError(f'{source} line {n}: expected an object with a string "text"')
        labels = {f: str(obj[f]) for f in FIELDS if obj.get(f) is not None}
        yield Sample(obj["text"], labels)


@dataclass(frozen=True)
class FieldFigures:
    """How a field's model did against the rules on the held-out labels."""

    field: str
    trained_on: int
    held_out: int
    rules_macro_f1: float | None
    model_macro_f1: float | None
    trusted: bool
    why: str
    #: How sure the model must be to overrule the rules (0.0: it always answers), or ``None``
    #: when no comparison was made.
    confidence: float | None = None


class LearnedModel:
    """Per-field text classifiers, what they were trained on, and which fields are trusted.

    :param trusted: the fields :meth:`predict` answers for; ``None``: every trained field.
    :param figures: the held-out comparison with the rules, per field (see :func:`train_guarded`).
    """

    def __init__(
        self,
        models: dict[str, Any],
        counts: dict[str, int],
        trusted: Iterable[str] | None = None,
        figures: Sequence[FieldFigures] = (),
    ) -> None:
        self.models = models
        self.counts = counts
        self.trusted = tuple(models if trusted is None else (f for f in trusted if f in models))
        self.figures = list(figures)

    def confidence(self, field: str) -> float:
        """How sure the model must be for ``field`` to overrule the rules, as the guard chose."""
        for f in self.figures:
            if f.field == field and f.confidence is not None:
                return f.confidence
        return DEFAULT_CONFIDENCE

    def predict(self, text: str) -> dict[str, tuple[str, float]]:
        """Return, per trusted field, the predicted label and the model's probability for it."""
        return {f: answers[0] for f, answers in self.predict_many([text], self.trusted).items()}

    def predict_many(
        self, texts: Sequence[str], fields: Iterable[str] | None = None
    ) -> dict[str, list[tuple[str, float]]]:
        """Return, per field (default: every trained one), the label and probability per text."""
        docs = [normalize(t) for t in texts]
        out: dict[str, list[tuple[str, float]]] = {}
        for field in self.models if fields is None else fields:
            model = self.models[field]
            answers = []
            for proba in model.predict_proba(docs):
                best = int(proba.argmax())
                answers.append((str(model.classes_[best]), float(proba[best])))
            out[field] = answers
        return out

    def save(self, path: str | Path) -> None:
        data = {
            "format": FORMAT_VERSION,
            "models": self.models,
            "counts": self.counts,
            "trusted": list(self.trusted),
            "figures": [asdict(f) for f in self.figures],
        }
        with open(path, "wb") as f:
            pickle.dump(data, f)

    @classmethod
    def load(cls, path: str | Path) -> LearnedModel:
        """Load a model saved by :meth:`save` (only load files you trained yourself: it is a pickle).

        A model of format 1 (before the held-out guard) is trusted for every field it has; one of
        format 1 or 2 (before the guard chose a confidence) overrules the rules at
        :data:`DEFAULT_CONFIDENCE`.
        """
        with open(path, "rb") as f:
            data = pickle.load(f)
        if not isinstance(data, dict) or data.get("format") not in (1, 2, FORMAT_VERSION):
            raise ValueError(f"{path} is not an scrm model file (retrain it with `scrm train`)")
        figures = [FieldFigures(**f) for f in data.get("figures", [])]
        return cls(data["models"], data["counts"], data.get("trusted"), figures)


def train(samples: Iterable[Sample], *, min_per_field: int = 10) -> LearnedModel:
    """Fit one model per field that has at least two labels and ``min_per_field`` examples.

    :raises RuntimeError: when scikit-learn is not installed (``pip install scrm[ml]``).
    :raises ValueError: when no field has enough examples.
    """
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
    except ImportError:
        raise RuntimeError("training needs scikit-learn: pip install 'scrm[ml]'") from None
    data = list(samples)
    models: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for field in FIELDS:
        rows = [(normalize(s.text), s.labels[field]) for s in data if field in s.labels]
        labels = Counter(label for _, label in rows)
        if len(rows) < min_per_field or len(labels) < 2:
            continue
        model = make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1),
            LogisticRegression(max_iter=2000, class_weight="balanced"),
        )
        model.fit([t for t, _ in rows], [label for _, label in rows])
        models[field] = model
        counts[field] = len(rows)
    if not models:
        raise ValueError(
            f"not enough labelled examples: each field needs {min_per_field} with at least two labels"
        )
    return LearnedModel(models, counts)


def held_out(sample: Sample, share: float) -> bool:
    """Whether ``sample`` is held out: decided by a hash of its text, the same on every run."""
    digest = hashlib.sha256(sample.text.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


#: The rules' labels for a text, per field (``kind``, ``sentiment``, ``category``).
RulesFn = Callable[[str], dict[str, str]]


def train_guarded(
    samples: Iterable[Sample],
    rules: RulesFn,
    *,
    min_per_field: int = 10,
    held_out_share: float = 0.2,
    confidence: float | None = None,
) -> LearnedModel:
    """Train on every sample; trust a field only where it beat ``rules`` on held-out labels.

    The comparison: a model trained without the held-out samples classifies them, combined
    with the rules as the classifier combines them (the model's label where it is at least
    ``confidence`` sure; with ``None``, each of :data:`CONFIDENCES` is tried and the best kept,
    the highest on a tie, so the rules answer as much as they can); the field is trusted when
    that scores a higher macro-F1 than the rules alone.  The returned model is then trained on
    every sample.

    :raises RuntimeError: when scikit-learn is not installed.
    :raises ValueError: when no field has enough examples.
    """
    data = list(samples)
    model = train(data, min_per_field=min_per_field)
    probe_part: list[Sample] = []
    held: list[Sample] = []
    for s in data:
        (held if held_out(s, held_out_share) else probe_part).append(s)
    try:
        probe = train(probe_part, min_per_field=min_per_field)
    except ValueError:
        probe = LearnedModel({}, {})
    by_rules = [rules(s.text) for s in held]
    figures = []
    for field in model.models:
        rows = [(i, s.labels[field]) for i, s in enumerate(held) if field in s.labels]
        trained_on = sum(1 for s in probe_part if field in s.labels)
        if len(rows) < MIN_HELD_OUT or field not in probe.models:
            if len(rows) < MIN_HELD_OUT:
                why = f"fewer than {MIN_HELD_OUT} held-out labels"
            else:
                why = "too few examples without the held-out ones"
            figures.append(FieldFigures(field, trained_on, len(rows), None, None, False, why))
            continue
        answers = probe.predict_many([held[i].text for i, _ in rows], [field])[field]
        rules_f1 = evaluate((gold, by_rules[i][field]) for i, gold in rows)["macro_f1"]
        scores = []
        for level in CONFIDENCES if confidence is None else (confidence,):
            combined = [
                (gold, label if proba >= level else by_rules[i][field])
                for (i, gold), (label, proba) in zip(rows, answers, strict=True)
            ]
            scores.append((evaluate(combined)["macro_f1"], level))
        model_f1, level = max(scores)
        trusted = model_f1 > rules_f1
        why = "beats the rules" if trusted else "does not beat the rules"
        figures.append(
            FieldFigures(field, trained_on, len(rows), rules_f1, model_f1, trusted, why, level)
        )
    return LearnedModel(
        model.models, model.counts, [f.field for f in figures if f.trusted], figures
    )


def evaluate(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Score (gold, predicted) pairs: accuracy, per-label precision/recall/F1, macro-F1."""
    pairs = list(pairs)
    if not pairs:
        return {"n": 0, "accuracy": None, "macro_f1": None, "labels": {}}
    labels = sorted({g for g, _ in pairs} | {p for _, p in pairs})
    per = {}
    for label in labels:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per[label] = {"precision": prec, "recall": rec, "f1": f1, "support": tp + fn}
    gold_labels = [lab for lab in labels if per[lab]["support"]]
    return {
        "n": len(pairs),
        "accuracy": sum(1 for g, p in pairs if g == p) / len(pairs),
        "macro_f1": sum(per[lab]["f1"] for lab in gold_labels) / len(gold_labels),
        "labels": per,
    }
