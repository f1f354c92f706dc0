"""Commands that read JSONL text and need no database: ``scrm classify``, ``scrm promises detect``.

Both follow :mod:`scrm.core.linejobs`: one JSON line out per line in, in order, with an error
object in place of a line that cannot be handled.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

import click

from scrm.cli.context import CliContext
from scrm.core.promises import run_detect
from scrm.plugins.classifier import run_classify

__all__ = ["register"]


def _lines(stream: IO[str]) -> Iterator[str]:
    for line in stream:
        yield line.rstrip("\n")


def _write(results: Iterator[dict[str, Any]]) -> None:
    for r in results:
        click.echo(json.dumps(r, ensure_ascii=False))


@click.command()
@click.argument("file", type=click.File("r", encoding="utf-8-sig"), default="-")
@click.pass_obj
def classify(obj: CliContext, file: IO[str]) -> None:
    """Classify JSONL lines {"id", "text", "lang"?, "followers"?, "subject"?} from FILE or stdin.

    Writes one line per input line, in order: {"id", "language", "sentiment",
    "sentiment_score", "kind", "category", "urgency"}; a bad line gives {"id", "error", "line"}.
    Uses the installed classifier plugins (the built-in rules unless a plugin replaces them),
    with the settings of `scrm --brand KEY` ([brands.KEY.plugins.classifier]) when given.
    Needs no database.
    """
    _write(run_classify(_lines(file), obj.hooks.classify_or_none))


@click.group()
def promises() -> None:
    """Promised follow-ups in the brand's replies."""


@promises.command("detect")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"), default="-")
def detect(file: IO[str]) -> None:
    """Detect promises in JSONL replies {"id", "text", "lang"?} from FILE or stdin.

    Writes one line per input line, in order: {"id", "promise", "kind", "due"} with kind one
    of contact_request, callback, investigating, none and due an ISO 8601 duration or null.
    A bad line gives {"id", "error", "line"}.  Needs no database.
    """
    _write(run_detect(_lines(file)))


def register(cli: click.Group) -> None:
    cli.add_command(classify)
    cli.add_command(promises)
