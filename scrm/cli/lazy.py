"""The root group loads each built-in command's module when that command is used.

``scrm --help`` lists the built-in commands from :data:`BUILTIN_COMMANDS` without importing
their modules, which import the database layer, FastAPI or Alembic; ``scrm cases list``
imports the cases module only.  tests/test_cli_help.py checks the table against the modules,
so a command's help here cannot drift from its docstring.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

import click

from scrm.cli.context import ScrmGroup

__all__ = ["BUILTIN_COMMANDS", "MODULE_NEEDS", "LazyRootGroup"]

#: Each built-in command: the module under ``scrm.cli`` that registers it, and the first
#: paragraph of its help (what ``scrm --help`` shows, cut to the terminal's width).
BUILTIN_COMMANDS: dict[str, tuple[str, str]] = {
    "init": (
        "admin",
        "Create the database, then write a commented starter scrm.toml pointing to it.",
    ),
    "config": ("admin", "The configuration: where it comes from and whether it is valid."),
    "db": ("admin", "Database schema: upgrade, check, current."),
    "plugins": ("admin", "List installed plugins with their version and the hooks they implement."),
    "schema": ("admin", "Print JSON Schemas of scrm's file formats."),
    "ingest": (
        "ingest",
        "Ingest FILE (or - for stdin): one JSON object per line, any size, in bounded memory.",
    ),
    "interactions": ("interactions", "Messages on every channel."),
    "customers": ("customers", "One record per person, across channels."),
    "cases": ("cases", "The case board."),
    "case": ("loop", "Work one case."),
    "reply": (
        "loop",
        "Queue a reply on CASE_ID through the outbox (delivered by `scrm outbox deliver`).",
    ),
    "outbox": ("loop", "Replies waiting for delivery, delivered, or failed."),
    "sla": ("loop", "Deadlines: breached and soon-to-breach cases; escalation."),
    "playbook": ("loop", "The written complaint guide: templates and steps per category."),
    "agents": ("loop", "People who work cases."),
    "label": (
        "learning",
        "Correct how INTERACTION_ID was classified; the correction is kept for training.",
    ),
    "train": (
        "learning",
        "Train the learned classifier on agents' corrections and labelled JSONL FILES.",
    ),
    "eval": (
        "learning",
        "Score the installed classifier on a labelled JSONL FILE: accuracy, per-label precision/recall, macro-F1.",
    ),
    "rejects": ("rejects", "Records that could not be ingested (nothing is dropped)."),
    "report": (
        "report",
        "Service metrics for a period, per slice, with social vs traditional channel parity.",
    ),
    "retention": (
        "retention",
        "Retention of personal data (the [retention] section of the configuration).",
    ),
    "serve": (
        "serve",
        "Run the HTTP service: REST API under /api/v1, agent console under /app, /healthz, /readyz, channel webhooks.",
    ),
    "apikey": ("serve", "REST API keys (stored hashed; the token is shown once)."),
    "webhooks": ("serve", "Outgoing webhooks: subscribers receive signed events."),
    "inbox": ("serve", "Channel webhook deliveries stored before they were acknowledged."),
    "classify": (
        "textjobs",
        'Classify JSONL lines {"id", "text", "lang"?, "followers"?, "subject"?} from FILE or stdin.',
    ),
    "promises": ("textjobs", "Promised follow-ups in the brand's replies."),
    "worker": (
        "worker",
        "Deliver replies and webhooks, process received webhooks, check SLAs, assign, poll channels.",
    ),
}

#: Modules that extend a group another module makes (``loop`` adds to ``scrm case``).
MODULE_NEEDS: dict[str, Sequence[str]] = {"loop": ("cases",)}


class LazyRootGroup(ScrmGroup):
    """The root group: built-in commands are imported when used, or when listed with help;
    so are the commands plugins add with :meth:`add_lazy_command`."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._loaded: set[str] = set()
        #: Plugin commands not built yet: name -> (help shown by ``scrm --help``, builder).
        self._lazy: dict[str, tuple[str, Callable[[], click.Command]]] = {}

    def add_lazy_command(self, name: str, help: str, build: Callable[[], click.Command]) -> None:
        """Add command ``name``, made by ``build()`` when it is first used (see
        :func:`scrm.plugin.cli.add_lazy_command`)."""
        self._lazy[name] = (help, build)

    def load(self, module: str) -> None:
        """Import ``scrm.cli.<module>`` and register its commands (once)."""
        if module in self._loaded:
            return
        for needed in MODULE_NEEDS.get(module, ()):
            self.load(needed)
        self._loaded.add(module)
        importlib.import_module(f"scrm.cli.{module}").register(self)

    def build(self, name: str) -> None:
        """Build the plugin command ``name`` added with :meth:`add_lazy_command` (once)."""
        _help, build = self._lazy.pop(name)
        command = build()
        self.add_command(command, name)

    def load_all(self) -> None:
        """Register every built-in and plugin command (for tools that walk the whole tree)."""
        for module, _help in BUILTIN_COMMANDS.values():
            self.load(module)
        for name in list(self._lazy):
            self.build(name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(BUILTIN_COMMANDS) | set(self._lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            if cmd_name in self._lazy:
                self.build(cmd_name)
            elif cmd_name in BUILTIN_COMMANDS:
                self.load(BUILTIN_COMMANDS[cmd_name][0])
        return self.commands.get(cmd_name)

    def _unloaded_help(self, name: str) -> str:
        lazy = self._lazy.get(name)
        return lazy[0] if lazy is not None else BUILTIN_COMMANDS[name][1]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click's own version asks every command for its help, importing every module.
        names = self.list_commands(ctx)
        shown = [n for n in names if n not in self.commands or not self.commands[n].hidden]
        if not shown:
            return
        limit = formatter.width - 6 - max(len(n) for n in shown)
        rows = []
        for name in shown:
            # An unloaded command is shown through a stand-in with its help: click cuts it.
            cmd = self.commands.get(name) or click.Command(name, help=self._unloaded_help(name))
            rows.append((name, cmd.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)
