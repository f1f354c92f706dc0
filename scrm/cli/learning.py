"""Learning from agents: ``scrm label``, ``scrm train``, ``scrm eval``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import click
import sqlalchemy as sa
from pydantic import ValidationError

from scrm.cli.context import CliContext, emit, table
from scrm.core.bounds import INT32_MAX
from scrm.core.config import plain_message
from scrm.core.labels import least_certain
from scrm.core.models import Interaction, LabelCorrection
from scrm.core.schemas import Author, InboundInteraction
from scrm.plugins.learned import (
    FIELDS,
    LearnedModel,
    RulesFn,
    Sample,
    evaluate,
    read_labelled,
    train_guarded,
)

__all__ = ["register"]

DEFAULT_MODEL = "scrm-model.pkl"


class _IdOrNext(click.ParamType):
    name = "ID|next"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int) or value == "next":
            return value
        try:
            number = int(value)
        except ValueError:
            self.fail(f"{value!r} is neither an interaction id nor 'next'", param, ctx)
        if not 1 <= number <= INT32_MAX:
            self.fail(f"{value} is not an interaction id", param, ctx)
        return number


@click.command("label")
@click.argument("interaction_id", type=_IdOrNext())
@click.option(
    "--kind",
    type=click.Choice(["complaint", "question", "praise", "lead", "idea", "spam", "other"]),
    help="The right kind.",
)
@click.option("--category", help="The right category.")
@click.option(
    "--sentiment",
    type=click.Choice(["negative", "neutral", "positive"]),
    help="The right sentiment.",
)
@click.option("--language", help="The right language (tr, en...).")
@click.option(
    "--urgency",
    help="Comma-separated flags (churn, legal, safety, public, suspected_spam, or a plugin's "
    "own); empty to clear.",
)
@click.option(
    "--actor",
    envvar="SCRM_AGENT",
    default="cli",
    show_default=True,
    help="Who labels it (also SCRM_AGENT); recorded with the label.",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="With 'next': how many messages to list.",
)
@click.option("--json", "as_json", is_flag=True, help="With 'next': print JSON lines.")
@click.pass_obj
def label(
    obj: CliContext,
    interaction_id: int | str,
    kind: str | None,
    category: str | None,
    sentiment: str | None,
    language: str | None,
    urgency: str | None,
    actor: str,
    limit: int,
    as_json: bool,
) -> None:
    """Correct how INTERACTION_ID was classified; the correction is kept for training.

    `scrm label next` lists the messages the classifier was least sure of and no agent has
    labelled yet, least certain first: the ones whose labels teach `scrm train` the most.
    """
    if interaction_id == "next":
        if any(v is not None for v in (kind, category, sentiment, language, urgency)):
            raise click.UsageError("'next' lists messages to label; label one by its id")
        with obj.app().session(read_only=True) as s:
            waiting = least_certain(s, limit=limit)
        if as_json:
            for item in waiting:
                emit(asdict(item))
            return
        obj.console.print(
            table(
                "least certain first: label one with scrm label ID --kind ... --sentiment ...",
                ["id", "confidence", "kind", "sentiment", "category", "text"],
                [
                    (w.id, w.confidence, w.kind, w.sentiment, w.category, w.text[:120])
                    for w in waiting
                ],
            )
        )
        return
    assert isinstance(interaction_id, int)
    fields = {
        "kind": kind,
        "category": category,
        "sentiment": sentiment,
        "language": language,
        "urgency": [u.strip() for u in urgency.split(",") if u.strip()]
        if urgency is not None
        else None,
    }
    try:
        row = obj.app().relabel(
            interaction_id, actor, **{k: v for k, v in fields.items() if v is not None}
        )
        changed = {
            f: getattr(row, f)
            for f in ("kind", "category", "sentiment", "language", "urgency")
            if getattr(row, f) is not None
        }
    except ValidationError as exc:
        raise click.UsageError(plain_message(exc.errors()[0])) from None
    click.echo(
        f"interaction {interaction_id} relabelled: "
        + ", ".join(f"{k}={v}" for k, v in changed.items())
    )


def _corrected_samples(obj: CliContext) -> Iterator[Sample]:
    """Every corrected interaction with its labels as they stand now."""
    with obj.app().session() as s:
        ids = sa.select(LabelCorrection.interaction_id).distinct().scalar_subquery()
        rows = s.execute(
            sa.select(
                Interaction.text, Interaction.kind, Interaction.sentiment, Interaction.category
            ).where(Interaction.id.in_(ids))
        )
        for text, kind, sentiment, category in rows:
            labels = {
                k: v
                for k, v in (("kind", kind), ("sentiment", sentiment), ("category", category))
                if v
            }
            yield Sample(text, labels)


@click.command("train")
@click.argument("files", type=click.Path(exists=True, dir_okay=False), nargs=-1)
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    help="Where to save the model (default: [plugins.classifier] model, else scrm-model.pkl).",
)
@click.option(
    "--no-corrections", is_flag=True, help="Train on the files only; do not open the database."
)
@click.option(
    "--min-examples",
    type=int,
    default=10,
    show_default=True,
    help="Refuse to train on fewer labelled examples than this.",
)
@click.option(
    "--held-out",
    type=click.FloatRange(0.05, 0.5),
    default=0.2,
    show_default=True,
    help="Share of the examples held out to compare the model with the rules.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the held-out figures as JSON.")
@click.pass_obj
def train_cmd(
    obj: CliContext,
    files: tuple[str, ...],
    output: str | None,
    no_corrections: bool,
    min_examples: int,
    held_out: float,
    as_json: bool,
) -> None:
    """Train the learned classifier on agents' corrections and labelled JSONL FILES.

    A share of the examples (--held-out) is classified by the rules and by a model trained
    on the rest: the saved model answers only for the fields where it scored a higher
    macro-F1 than the rules.  The figures are printed per field.
    """
    samples: list[Sample] = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            try:
                samples.extend(read_labelled(fh, f))
            except ValueError as exc:
                raise click.ClickException(str(exc)) from None
    corrected = 0 if no_corrections else len(before := list(_corrected_samples(obj))) or 0
    if not no_corrections:
        samples.extend(before)
    settings = obj.config.plugin_settings("classifier")
    try:
        model = train_guarded(
            samples,
            _rules(obj),
            min_per_field=min_examples,
            held_out_share=held_out,
            confidence=settings.get("model_confidence"),
        )
    except (RuntimeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    path = Path(output or settings.get("model") or DEFAULT_MODEL)
    model.save(path)
    if as_json:
        emit({"path": str(path), "examples": len(samples), "corrections": corrected,
              "fields": [asdict(f) for f in model.figures]})  # fmt: skip
        return
    counts = ", ".join(f"{f}: {n}" for f, n in model.counts.items())
    click.echo(
        f"trained on {len(samples)} examples ({corrected} agent corrections); {counts}; saved to {path}"
    )
    obj.console.print(
        table(
            f"held out: {held_out:.0%} of the examples; macro-F1 of the rules and of the model",
            ["field", "trained on", "held out", "rules", "model", "used", "overrules at", "why"],
            [
                (
                    f.field,
                    f.trained_on,
                    f.held_out,
                    _f1(f.rules_macro_f1),
                    _f1(f.model_macro_f1),
                    "yes" if f.trusted else "no",
                    "-" if f.confidence is None else f"{f.confidence:.1f}",
                    f.why,
                )
                for f in model.figures
            ],
        )
    )
    if not model.trusted:
        click.echo("the model beats the rules on no field: the rules keep classifying")
    if not settings.get("model"):
        click.echo(f'to use it, add to scrm.toml:\n[plugins.classifier]\nmodel = "{path}"')


def _f1(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _rules(obj: CliContext) -> RulesFn:
    """The built-in rules alone, with the configured taxonomy: what a model must beat."""
    from scrm.plugins.classifier import RuleClassifier
    from scrm.plugins.taxonomy import configured_taxonomy

    rules = RuleClassifier(configured_taxonomy(obj.config.plugin_settings("classifier")))

    def labels(text: str) -> dict[str, str]:
        c = rules.classify(text)
        return {"kind": c.kind.value, "sentiment": c.sentiment, "category": c.category}

    return labels


@click.command("eval")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def eval_cmd(obj: CliContext, file: IO[str], as_json: bool) -> None:
    """Score the installed classifier on a labelled JSONL FILE: accuracy, per-label precision/recall, macro-F1.

    With `scrm --brand KEY`, the classifier with that brand's settings.
    """
    hooks = obj.hooks
    gold: dict[str, list[tuple[str, str]]] = {f: [] for f in FIELDS}
    complaint: list[tuple[str, str]] = []
    now = datetime.now(UTC)
    try:
        samples = list(read_labelled(file, file.name))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for n, sample in enumerate(samples, start=1):
        it = InboundInteraction(
            channel="eval",
            external_id=str(n),
            text=sample.text or " ",
            created_at=now,
            author=Author(external_id="eval"),
        )
        got = hooks.classify(it)
        for f in FIELDS:
            if f in sample.labels:
                gold[f].append(
                    (
                        sample.labels[f],
                        str(getattr(got, f).value if f == "kind" else getattr(got, f)),
                    )
                )
        if "kind" in sample.labels:
            complaint.append(
                (str(sample.labels["kind"] == "complaint"), str(got.kind.value == "complaint"))
            )
    report: dict[str, Any] = {f: evaluate(pairs) for f, pairs in gold.items() if pairs}
    if complaint:
        report["complaint_vs_not"] = evaluate(complaint)
    report["compare"] = _compare(obj, samples, report)
    if as_json:
        emit(report)
        return
    rows = [
        (f, r["n"], f"{r['accuracy']:.3f}", f"{r['macro_f1']:.3f}")
        for f, r in report.items()
        if f != "compare"
    ]
    obj.console.print(
        table(f"{file.name}: {len(samples)} messages", ["field", "n", "accuracy", "macro-F1"], rows)
    )
    obj.console.print(
        table(
            "macro-F1: the rules alone, the trained model alone, and as installed",
            ["field", "rules", "model", "installed", "model used"],
            [
                (
                    f,
                    _f1(c["rules"]),
                    _f1(c["model"]),
                    _f1(c["installed"]),
                    {True: "yes", False: "no", None: "-"}[c["model_used"]],
                )
                for f, c in report["compare"].items()
            ],
        )
    )
    for f, r in report.items():
        if f in ("complaint_vs_not", "compare"):
            continue
        obj.console.print(
            table(
                f,
                ["label", "precision", "recall", "F1", "support"],
                [
                    (
                        lab,
                        f"{v['precision']:.3f}",
                        f"{v['recall']:.3f}",
                        f"{v['f1']:.3f}",
                        v["support"],
                    )
                    for lab, v in r["labels"].items()
                ],
            )
        )


def _compare(
    obj: CliContext, samples: list[Sample], installed: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Per field: macro-F1 of the rules alone, of the configured model alone, as installed."""
    rules = _rules(obj)
    by_rules = [rules(s.text) for s in samples]
    model = _configured_model(obj)
    by_model = model.predict_many([s.text for s in samples]) if model is not None else {}
    out: dict[str, dict[str, Any]] = {}
    for field in FIELDS:
        rows = [(i, s.labels[field]) for i, s in enumerate(samples) if field in s.labels]
        if not rows:
            continue
        answers = by_model.get(field)
        out[field] = {
            "rules": evaluate((gold, by_rules[i][field]) for i, gold in rows)["macro_f1"],
            "model": evaluate((gold, answers[i][0]) for i, gold in rows)["macro_f1"]
            if answers is not None
            else None,
            "installed": installed[field]["macro_f1"] if field in installed else None,
            "model_used": (field in model.trusted) if model is not None and answers else None,
        }
    return out


def _configured_model(obj: CliContext) -> LearnedModel | None:
    path = obj.config.plugin_settings("classifier").get("model")
    if not path or not Path(path).exists():
        return None
    try:
        return LearnedModel.load(path)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


def register(cli: click.Group) -> None:
    for cmd in (label, train_cmd, eval_cmd):
        cli.add_command(cmd)
