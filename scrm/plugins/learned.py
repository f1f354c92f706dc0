"""A classifier learned from agents' corrections and labelled files (optional: ``pip install scrm[ml]``).

``scrm train`` fits one model per field (kind, sentiment, category) on character n-grams of
the Turkish-normalised text (so "şikayet", "sikayet" and "şikayetçiyim" share features),
from every stored label correction plus any labelled JSONL file, and saves it to the file
named by ``[plugins.classifier] model``.  Once a model exists the built-in classifier uses
it *combined* with the rules: a field takes the model's answer when the model is at least
``model_confidence`` sure (default 0.6), and the rules' answer otherwise.  Language,
urgency and reach always come from the rules.

Scoring (``scrm eval``) needs no scikit-learn: :func:`evaluate` computes accuracy,
per-label precision and recall, and macro-F1 in plain Python.
"""

from __future__ import annotations

import json
import pickle
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrm.plugin import normalize

__all__ = ["FIELDS", "LearnedModel", "Sample", "evaluate", "read_labelled", "train"]

FIELDS = ("kind", "sentiment", "category")
FORMAT_VERSION = 1


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


class LearnedModel:
    """Per-field text classifiers and what they were trained on."""

    def __init__(self, models: dict[str, Any], counts: dict[str, int]) -> None:
        self.models = models
        self.counts = counts

    def predict(self, text: str) -> dict[str, tuple[str, float]]:
        """Return, per field, the predicted label and the model's probability for it."""
        out = {}
        doc = [normalize(text)]
        for field, model in self.models.items():
            proba = model.predict_proba(doc)[0]
            best = int(proba.argmax())
            out[field] = (str(model.classes_[best]), float(proba[best]))
        return out

    def save(self, path: str | Path) -> None:
        with open(path, "wb") as f:
            pickle.dump({"format": FORMAT_VERSION, "models": self.models, "counts": self.counts}, f)

    @classmethod
    def load(cls, path: str | Path) -> LearnedModel:
        """Load a model saved by :meth:`save` (only load files you trained yourself: it is a pickle)."""
        with open(path, "rb") as f:
            data = pickle.load(f)
        if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
            raise ValueError(f"{path} is not an scrm model file (retrain it with `scrm train`)")
        return cls(data["models"], data["counts"])


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
