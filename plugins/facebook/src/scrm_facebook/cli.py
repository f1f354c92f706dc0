"""``scrm facebook poll`` and ``scrm facebook check``."""

from __future__ import annotations

import click

from scrm.plugin import ChannelError
from scrm.plugin.cli import CliContext, emit
from scrm_facebook.channel import FacebookChannel
from scrm_facebook.sync import PollResult, poll_pages

__all__ = ["REQUIRED_FIELDS", "facebook"]

#: Webhook fields the page must be subscribed to.
REQUIRED_FIELDS = ("feed", "messages", "message_echoes")


@click.group()
def facebook() -> None:
    """Facebook page comments and Messenger."""


@facebook.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def poll(obj: CliContext, as_json: bool) -> None:
    """Read the pages' posts and comments since the last poll (catch-up after downtime).

    Every configured page is read ([channels.facebook.accounts.<label>]); with several,
    each result names its account and page (one JSON object a line), a page that fails is
    reported and the others are still read, and the command then exits with status 1.
    """
    app = obj.app()
    try:
        results = poll_pages(app)
    except ChannelError as exc:
        raise click.ClickException(f"facebook poll failed: {exc}") from None
    several = len(results) > 1
    for result in results:
        _show(obj, result, as_json, several)
    if any(r.error for r in results):
        raise SystemExit(1)


def _show(obj: CliContext, result: PollResult, as_json: bool, several: bool) -> None:
    report = result.report.as_dict() if result.report else {}
    page = {"account": result.account, "page": result.page} if several else {}
    if result.error is not None:
        if as_json:
            emit({**page, "error": result.error})
        obj.err.print(
            f"{result.account} (page {result.page}): facebook poll failed: {result.error}"
        )
        return
    if as_json:
        emit(
            {
                **page,
                "since": result.since.isoformat(),
                "until": result.until.isoformat() if result.until else None,
                "posts": result.posts,
                "comments": result.comments,
                "skipped": result.skipped,
                **report,
            }
        )
    else:
        where = f"{result.account} (page {result.page}): " if several else ""
        obj.console.print(
            f"{where}read {result.posts} posts and {result.comments} comments since "
            f"{obj.time(result.since, offset=True)}; stored {report.get('stored', 0)}, "
            f"duplicates {report.get('duplicates', 0)}, updated {report.get('updated', 0)}"
        )
    for note in result.notes:
        obj.err.print(note)


@facebook.command()
@click.option(
    "--account",
    "label",
    help="The page to check ([channels.facebook.accounts.<label>]); default: the first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def check(obj: CliContext, label: str | None, as_json: bool) -> None:
    """Check the settings, the page token and the page's webhook subscription."""
    ch = obj.app(check_schema=False).channel("facebook")
    assert isinstance(ch, FacebookChannel)
    if label is not None:
        try:
            ch = ch.by_label(label)
        except LookupError as exc:
            raise click.ClickException(str(exc)) from None
    s = ch.settings
    problems = [
        f"channels.facebook.{name} is not set"
        for name, value in (("app_secret", s.app_secret), ("verify_token", s.verify_token))
        if value is None
    ]
    try:
        page = ch.client().get(s.page_id, {"fields": "id,name"})
        subs = ch.client().get(f"{s.page_id}/subscribed_apps")
    except ChannelError as exc:
        raise click.ClickException(f"facebook check failed: {exc}") from None
    fields: set[str] = set()
    for app_sub in subs.get("data") or []:
        fields.update(app_sub.get("subscribed_fields") or [])
    missing = [f for f in REQUIRED_FIELDS if f not in fields]
    if missing:
        problems.append(
            f"the page is not subscribed to {', '.join(missing)}: POST /{s.page_id}/"
            f"subscribed_apps?subscribed_fields={','.join(REQUIRED_FIELDS)}"
        )
    if as_json:
        emit({"page": page, "subscribed_fields": sorted(fields), "problems": problems})
    else:
        obj.console.print(f"page {page.get('name')} ({page.get('id')}): token works")
        for p in problems:
            obj.err.print(f"problem: {p}")
    if problems:
        raise SystemExit(1)
