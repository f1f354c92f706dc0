"""Regenerate the generated sections of the docs from the code.

* ``docs/hooks.md``, between ``<!-- hooks:start -->`` and ``<!-- hooks:end -->``: the hook
  reference, rendered from :mod:`scrm.core.hookspecs` (section banners, signatures,
  ``firstresult`` flags and docstrings), each hook followed by its example implementation
  from ``docs/hook_examples.py`` (a function or class named after the hook).
* ``docs/operators.md``, between ``<!-- cli:start -->`` and ``<!-- cli:end -->``: the CLI
  reference, rendered from the click tree ``scrm.cli.build_cli(pm)`` of scrm and its built-in
  plugins (installed channel plugins are documented in ``docs/channels/``).
* ``docs/complaint-loop.md`` and ``docs/index.md``, between ``<!-- transitions:start -->`` and
  ``<!-- transitions:end -->``: the case lifecycle table, rendered from
  :data:`scrm.core.cases.TRANSITIONS`, with the command and the reply template that move a
  case into each status (``scrm.cli.loop.ACTIONS``, ``scrm.core.replies.TEMPLATE_STATUS``).

Run it after changing a hookspec or a command::

    .venv/bin/python docs/gen_hooks.py          # rewrite the sections
    .venv/bin/python docs/gen_hooks.py --check  # exit 1 if they are stale

``tests/test_docs.py`` fails when a section differs from what this script renders.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

DOCS = Path(__file__).resolve().parent
HOOKS_MD = DOCS / "hooks.md"
HOOK_EXAMPLES = DOCS / "hook_examples.py"
OPERATORS_MD = DOCS / "operators.md"
HOOKS_MARKERS = ("<!-- hooks:start -->", "<!-- hooks:end -->")
CLI_MARKERS = ("<!-- cli:start -->", "<!-- cli:end -->")
LOOP_MD = DOCS / "complaint-loop.md"
INDEX_MD = DOCS / "index.md"
TRANSITIONS_MARKERS = ("<!-- transitions:start -->", "<!-- transitions:end -->")
REGENERATE = ".venv/bin/python docs/gen_hooks.py"
HELP_WIDTH = 88

_BANNER = re.compile(r"^# -{10,}\n((?:# .*\n)+)# -{10,}\n", re.MULTILINE)


# --------------------------------------------------------------------------- hooks


def hookspecs() -> list[tuple[str, Any, dict[str, Any]]]:
    """Return ``(name, function, options)`` of every hookspec, in source order."""
    from scrm.core import hookspecs as module

    marker = f"{module.PROJECT}_spec"
    found = [
        (name, fn, getattr(fn, marker))
        for name, fn in vars(module).items()
        if inspect.isfunction(fn) and hasattr(fn, marker)
    ]
    found.sort(key=lambda item: item[1].__code__.co_firstlineno)
    return found


def signature(fn: Any) -> str:
    """Return ``def name(arg: type, ...) -> type`` with the annotations as written."""
    sig = inspect.signature(fn)
    params = []
    for p in sig.parameters.values():
        ann = "" if p.annotation is inspect.Parameter.empty else f": {_ann(p.annotation)}"
        params.append(f"{p.name}{ann}")
    ret = (
        ""
        if sig.return_annotation is inspect.Signature.empty
        else f" -> {_ann(sig.return_annotation)}"
    )
    return f"def {fn.__name__}({', '.join(params)}){ret}"


def _ann(annotation: Any) -> str:
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)


def _sections(source: str) -> list[tuple[int, str, str]]:
    """Return ``(line, title, description)`` of each banner comment in the hookspecs module."""
    out = []
    for m in _BANNER.finditer(source):
        lines = [line[2:].strip() for line in m.group(1).splitlines()]
        head, _, rest = lines[0].partition(":")
        description = " ".join([rest.strip(), *lines[1:]]).strip()
        description = description[:1].upper() + description[1:]
        out.append((source.count("\n", 0, m.start()) + 1, head.strip(), description))
    return out


def rst_to_md(text: str) -> str:
    """Turn the reST a hookspec docstring uses into Markdown."""
    text = re.sub(r":\w+:`~[\w.]*\.(\w+)`", r"`\1`", text)
    text = re.sub(r":\w+:`([^`]+)`", r"`\1`", text)
    text = re.sub(r"``([^`]+)``", r"`\1`", text)
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text.strip()):
        fields = re.split(r"\n(?=:(?:param \w+|returns?|raises \w+):)", para.strip())
        if fields[0].startswith(":"):
            for f in fields:
                m = re.match(r":(param (\w+)|returns?|raises (\w+)):\s*(.*)", f, re.DOTALL)
                assert m, f"unparsed docstring field: {f!r}"
                name = (
                    f"`{m.group(2)}`"
                    if m.group(2)
                    else (f"raises `{m.group(3)}`" if m.group(3) else "returns")
                )
                out.append(f"- **{name}**: {_join(m.group(4))}")
            out.append("")
        else:
            out.extend([_join(para), ""])
    return "\n".join(out).strip()


def _join(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def load_examples() -> ModuleType:
    """Import ``docs/hook_examples.py`` (it is not in a package) and return the module."""
    import importlib.util

    name = "scrm_docs_hook_examples"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HOOK_EXAMPLES)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def examples() -> dict[str, Any]:
    """Return the example of each hook: the function or class of ``docs/hook_examples.py``
    named after it."""
    module = load_examples()
    return {
        name: obj
        for name, obj in vars(module).items()
        if (inspect.isfunction(obj) or inspect.isclass(obj))
        and getattr(obj, "__module__", None) == module.__name__
        and not name.startswith("_")
    }


def example_source(obj: Any) -> str:
    """Return the source of an example, without the ``@hookimpl`` line."""
    lines = inspect.getsource(obj).splitlines()
    return "\n".join(line for line in lines if line.strip() != "@hookimpl")


def _example_prelude() -> str:
    """Return what every example uses: the imports and constants of ``docs/hook_examples.py``
    (from its first import after ``__future__`` to its first function)."""
    source = HOOK_EXAMPLES.read_text(encoding="utf-8")
    tree = ast.parse(source)
    first = next(
        n
        for n in tree.body
        if isinstance(n, (ast.Import, ast.ImportFrom))
        and not (isinstance(n, ast.ImportFrom) and n.module == "__future__")
    )
    body = next(n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)))
    stop = min([body.lineno, *(d.lineno for d in body.decorator_list)])
    lines = source.splitlines()[first.lineno - 1 : stop - 1]
    return "\n".join(line for line in lines if not line.startswith("# ---")).strip()


def render_hooks() -> str:
    """Render the hook reference (the text between the markers of ``docs/hooks.md``)."""
    from scrm.core import hookspecs as module

    sections = _sections(inspect.getsource(module))
    found = examples()
    lines = [
        "",
        f"<!-- Generated from scrm/core/hookspecs.py and docs/hook_examples.py by docs/gen_hooks.py;"
        f" run `{REGENERATE}` after changing a hookspec or an example. Do not edit by hand. -->",
        "",
        "The examples below are the functions of `docs/hook_examples.py`, a plugin module; each"
        " is marked `@hookimpl` (left out below). They share the module's imports and constants:",
        "",
        "```python",
        _example_prelude(),
        "```",
        "",
    ]
    current = None
    for name, fn, opts in hookspecs():
        line = fn.__code__.co_firstlineno
        section = next((s for s in reversed(sections) if s[0] < line), None)
        if section is not None and section != current:
            current = section
            lines += [f"### {section[1]}", ""]
            if section[2]:
                lines += [section[2], ""]
        flags = [
            "firstresult: stops at the first non-`None` result"
            if opts.get("firstresult")
            else "every implementation is called"
        ]
        if opts.get("historic"):
            flags.append("historic")
        lines += [
            f"#### `{name}`",
            "",
            "```python",
            signature(fn),
            "```",
            "",
            f"*{'; '.join(flags)}.*",
            "",
            rst_to_md(inspect.getdoc(fn) or ""),
            "",
        ]
        if name in found:
            lines += ["Example:", "", "```python", example_source(found[name]), "```", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- CLI


@contextmanager
def _plain_environment() -> Iterator[None]:
    """Render with no ``SCRM_*`` settings and a fixed terminal width."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("SCRM_") or k == "COLUMNS"}
    for k in saved:
        del os.environ[k]
    try:
        yield
    finally:
        os.environ.update(saved)


def render_cli() -> str:
    """Render the CLI reference (the text between the markers of ``docs/operators.md``)."""
    import click

    from scrm.cli import build_cli
    from scrm.core.plugins import get_plugin_manager

    with _plain_environment():
        pm = get_plugin_manager(load_entrypoints=False)
        root = build_cli(pm)

        lines = [
            "",
            "<!-- Generated from the click tree by docs/gen_hooks.py; run "
            f"`{REGENERATE}` after changing a command. Do not edit by hand. -->",
            "",
        ]

        def walk(cmd: click.Command, ctx: click.Context) -> None:
            path = ctx.command_path
            lines.extend([f"### `{path}`", "", "```text", cmd.get_help(ctx).rstrip(), "```", ""])
            if isinstance(cmd, click.Group):
                for sub_name in cmd.list_commands(ctx):
                    sub = cmd.get_command(ctx, sub_name)
                    if sub is None or sub.hidden:
                        continue
                    walk(sub, click.Context(sub, info_name=sub_name, parent=ctx))

        walk(
            root,
            click.Context(
                root,
                info_name="scrm",
                terminal_width=HELP_WIDTH,
                max_content_width=HELP_WIDTH,
                **root.context_settings,
            ),
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- lifecycle


def render_transitions() -> str:
    """Render the lifecycle table (the text between the transitions markers)."""
    from scrm.cli.loop import ACTIONS
    from scrm.core.cases import TRANSITIONS
    from scrm.core.replies import TEMPLATE_STATUS

    command = {status: f"`scrm case {verb}`" for verb, status in ACTIONS.items()}
    template = {status: f"`--template {name}`" for name, status in TEMPLATE_STATUS.items()}
    lines = [
        "",
        "<!-- Generated from scrm.core.cases.TRANSITIONS by docs/gen_hooks.py; run "
        f"`{REGENERATE}` after changing the table. Do not edit by hand. -->",
        "",
        "| status | may go to | moved here by | or by replying with |",
        "|---|---|---|---|",
    ]
    for status, targets in TRANSITIONS.items():
        allowed = ", ".join(t.value for t in targets) or "nothing"
        lines.append(
            f"| {status.value} | {allowed} | {command.get(status, '(opened by ingest)')} "
            f"| {template.get(status, '-')} |"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- files


def replace_section(text: str, markers: tuple[str, str], body: str) -> str:
    start, end = markers
    if start not in text or end not in text:
        raise ValueError(f"markers {start} and {end} not found")
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    return f"{head}{start}\n{body.strip()}\n{end}{tail}"


def current_section(text: str, markers: tuple[str, str]) -> str:
    start, end = markers
    return text.partition(start)[2].partition(end)[0].strip()


TARGETS = (
    (HOOKS_MD, HOOKS_MARKERS, render_hooks),
    (OPERATORS_MD, CLI_MARKERS, render_cli),
    (LOOP_MD, TRANSITIONS_MARKERS, render_transitions),
    (INDEX_MD, TRANSITIONS_MARKERS, render_transitions),
)


def main(argv: list[str]) -> int:
    stale = []
    for path, markers, render in TARGETS:
        text = path.read_text(encoding="utf-8")
        new = replace_section(text, markers, render())
        if new != text:
            stale.append(path.name)
            if "--check" not in argv:
                path.write_text(new, encoding="utf-8")
    if stale:
        verb = "stale" if "--check" in argv else "regenerated"
        print(f"{verb}: {', '.join(stale)}")
    return 1 if stale and "--check" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
