"""``scrm facebook poll`` and ``scrm facebook check``."""

from __future__ import annotations

import click

from scrm.plugin import ChannelError
from scrm.plugin.cli import CliContext, emit
from scrm_facebook.channel import FacebookChannel
from scrm_facebook.sync import poll as poll_page

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
    """Read the page's posts and comments since the last poll (catch-up after downtime)."""
    app = obj.app()
    try:
        result = poll_page(app)
    except ChannelError as exc:
        raise click.ClickException(f"facebook poll failed: {exc}") from None
    report = result.report.as_dict() if result.report else {}
    if as_json:
        emit(
            {
                "since": result.since.isoformat(),
                "until": result.until.isoformat() if result.until else None,
                "posts": result.posts,
                "comments": result.comments,
                "skipped": result.skipped,
                **report,
            }
        )
    else:
        obj.console.print(
            f"read {result.posts} posts and {result.comments} comments since "
            f"{obj.time(result.since, offset=True)}; stored {report.get('stored', 0)}, "
            f"duplicates {report.get('duplicates', 0)}, updated {report.get('updated', 0)}"
        )
    for note in result.notes:
        obj.err.print(note)


@facebook.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def check(obj: CliContext, as_json: bool) -> None:
    """Check the settings, the page token and the page's webhook subscription."""
    ch = obj.app(check_schema=False).channel("facebook")
    assert isinstance(ch, FacebookChannel)
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
