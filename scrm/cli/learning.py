"""Learning from agents: ``scrm label``, ``scrm train``, ``scrm eval``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import click
import sqlalchemy as sa
from pydantic import ValidationError

from scrm.cli.context import CliContext, emit, table
from scrm.core.models import Interaction, LabelCorrection
from scrm.core.plugins import Hooks
from scrm.core.schemas import Author, InboundInteraction
from scrm.plugins.learned import FIELDS, Sample, evaluate, read_labelled, train

__all__ = ["register"]

DEFAULT_MODEL = "scrm-model.pkl"


@click.command("label")
@click.argument("interaction_id", type=int)
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
    "--urgency", help="Comma-separated flags (churn, legal, safety, public); empty to clear."
)
@click.option(
    "--actor",
    envvar="SCRM_AGENT",
    default="cli",
    show_default=True,
    help="Who labels it (also SCRM_AGENT); recorded with the label.",
)
@click.pass_obj
def label(
    obj: CliContext,
    interaction_id: int,
    kind: str | None,
    category: str | None,
    sentiment: str | None,
    language: str | None,
    urgency: str | None,
    actor: str,
) -> None:
    """Correct how INTERACTION_ID was classified; the correction is kept for training."""
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
        raise click.UsageError(exc.errors()[0]["msg"]) from None
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
@click.pass_obj
def train_cmd(
    obj: CliContext,
    files: tuple[str, ...],
    output: str | None,
    no_corrections: bool,
    min_examples: int,
) -> None:
    """Train the learned classifier on agents' corrections and labelled JSONL FILES."""
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
    try:
        model = train(samples, min_per_field=min_examples)
    except (RuntimeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    path = Path(output or obj.config.plugin_settings("classifier").get("model") or DEFAULT_MODEL)
    model.save(path)
    counts = ", ".join(f"{f}: {n}" for f, n in model.counts.items())
    click.echo(
        f"trained on {len(samples)} examples ({corrected} agent corrections); {counts}; saved to {path}"
    )
    if not obj.config.plugin_settings("classifier").get("model"):
        click.echo(f'to use it, add to scrm.toml:\n[plugins.classifier]\nmodel = "{path}"')


@click.command("eval")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def eval_cmd(obj: CliContext, file: IO[str], as_json: bool) -> None:
    """Score the installed classifier on a labelled JSONL FILE: accuracy, per-label precision/recall, macro-F1."""
    hooks = Hooks(obj.pm) if obj.pm is not None else obj.app(check_schema=False).hooks
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
    report = {f: evaluate(pairs) for f, pairs in gold.items() if pairs}
    if complaint:
        report["complaint_vs_not"] = evaluate(complaint)
    if as_json:
        emit(report)
        return
    rows = [(f, r["n"], f"{r['accuracy']:.3f}", f"{r['macro_f1']:.3f}") for f, r in report.items()]
    obj.console.print(
        table(f"{file.name}: {len(samples)} messages", ["field", "n", "accuracy", "macro-F1"], rows)
    )
    for f, r in report.items():
        if f == "complaint_vs_not":
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


def register(cli: click.Group) -> None:
    for cmd in (label, train_cmd, eval_cmd):
        cli.add_command(cmd)
