"""Every command and every Python snippet of README.md and docs/ runs, and shows what it prints.

What runs. Each page (``README.md``, ``docs/*.md``, ``docs/channels/*.md``) runs top to
bottom in a fresh temporary working directory, as a reader on a fresh clone would: the
repository's ``scrm/`` and ``plugins/`` folders are reachable there by the same relative paths
as from the checkout (``scrm/data/sample/phone.jsonl``), there is no ``scrm.toml`` and no
database, and no ``SCRM_*`` variable is set. Blocks of one page share the directory, the
shell's exported variables and one Python namespace.

* ```sh, ```bash, ```shell and ```console blocks: every command line (``\\`` continuations and
  here-documents joined) runs. A ``scrm`` command (optionally fed by ``producer |``, ``< file``
  or writing ``> file``; several joined by ``;``) runs in-process through
  :func:`scrm.cli.main`, the function behind the ``scrm`` entry point, with ``sys.argv``
  exactly as typed (it is quicker than a process per command); ``cd DIR`` and ``export
  NAME=VALUE`` (VALUE expanded by bash) change the directory and environment of what follows;
  anything else (``printf``, ``cat <<EOF``, ``chmod``) runs through ``bash`` with
  ``.venv/bin`` first on the ``PATH``. ``COLUMNS=100``: output is shown as on a 100-column
  terminal. Standard input is empty unless the line feeds it.
* A command must exit 0, unless its line ends with ``# exit status N`` (then it must exit N)
  or its shown output has a line starting ``Error:`` (then it must fail).
* Lines starting ``$ `` are prompts; the lines after one, up to the next prompt, are the
  output the page shows, and they are compared with what the command printed (stdout and
  stderr together). A block without prompts shows no output; nothing is compared.
* ```python and ```py blocks are executed in the page's namespace (an ``app`` left there is
  closed at the end).
* Blocks inside generated sections (``<!-- hooks:start -->`` ... ``<!-- hooks:end -->`` and
  the like) are checked by ``tests/test_docs.py``, not run.
* ```toml blocks are ``scrm.toml`` fragments: each is validated on its own by
  ``scrm config check`` (in a scratch folder, with a scratch ``database_url`` when it names
  none), so a key the code no longer accepts fails. Other TOML (a playbook, a
  ``pyproject.toml``) is marked ``doctest: file PATH``.
* Other languages (json, text) are data, not examples, unless a directive uses them; an
  unlabelled, ``text`` or indented block that looks like commands fails the test: label it
  ```sh or mark it.

How output is compared. Both sides are normalised, then must match line for line:

1. volatile values are replaced: date-times (``2026-11-26 13:29``, ISO 8601 with seconds,
   fractions and offsets, or a bare date) by ``<time>``; durations (``766d 19:50``,
   ``14:05``, ``0.42s``, ``12 ms``) by ``<duration>``; UUIDs and hexadecimal strings of 16 or
   more digits by ``<id>``; API tokens (``scrm_...``, and that placeholder itself) by ``<token>``. Case, reply, customer and
   outbox numbers are *not* volatile: a stale one fails the test;
2. runs of whitespace become one space, lines are stripped; blank lines and lines drawn only
   with box characters (a rich table's rules) are dropped;
3. on the page's side, a line ``[...]`` or ``[... any words]`` stands for any number of
   lines (also none), and ``[...]`` inside a line for any text.

Directives are HTML comments on a line of their own. These stand right before a fenced block
(only blank lines or other directives between):

* ``<!-- doctest: skip REASON -->``: not run (``scrm serve``, the network, ``make``, ``pip``);
  counted, and REASON is required;
* ``<!-- doctest: demo -->``: before this block the directory gets the demo's ``scrm.toml``
  and database, as ``make demo`` leaves them in ``demo/`` (built once per test session by
  the ``scrm`` lines of the Makefile's ``demo`` recipe, then copied);
* ``<!-- doctest: file PATH -->`` (``file PATH append``): the block is written to PATH in the
  directory (appended) instead of being run; ``file PATH jsonl`` writes a JSON block as one
  JSON Lines record;
* ``<!-- doctest: output -->``: the block is the expected output of the block before it;
  ``<!-- doctest: output COMMAND -->``: of the page's latest command starting with COMMAND.

and two that act where they stand (they show nothing on the rendered page):

* ``<!-- doctest: install PATH -->``: emulate ``pip install -e PATH`` for the rest of the
  page: its ``src/`` is importable and its entry points are installed (a ``.dist-info`` in a
  folder on ``PYTHONPATH``; the virtualenv is not touched). Later ``scrm`` commands then run
  as processes through the real ``.venv/bin/scrm``, so they see the plugin;
* ``<!-- doctest: run COMMAND -->``: run COMMAND (``pytest -q tests``) in the directory; it
  must exit 0.

To update a page after a change of output: ``.venv/bin/python -m tests.test_doc_examples
--show docs/PAGE.md`` prints what its commands print now; without arguments the module prints
what each page runs and skips.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.doctestkit import (
    COMMANDISH,
    PYTHON_LANGS,
    ROOT,
    SHELL_LANGS,
    Action,
    Block,
    Shell,
    build_demo,
    commands,
    emulate_install,
    mismatch,
    page_items,
    run_python,
    shown_path,
    unfenced_commands,
    workdir,
)

# Integration: runs every page of the docs: commands, processes, the demo.
pytestmark = pytest.mark.integration

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PAGES += sorted((ROOT / "docs" / "channels").glob("*.md"))


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder ``make demo`` leaves behind, built once by the recipe's own ``scrm`` lines."""
    return build_demo(tmp_path_factory.mktemp("demo"))


@dataclass
class Tally:
    """What happened to the blocks of one page."""

    counts: Counter[str] = field(default_factory=Counter)
    skips: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))


def run_page(page: Path, where: Path, demo: Path | None, show: bool = False) -> Tally:
    """Run every example of ``page`` in ``where``; raise AssertionError at the first drift.

    :param show: print every command with what it printed and do not compare (to update a
        page: ``.venv/bin/python -m tests.test_doc_examples --show docs/PAGE.md``).
    """
    tally = Tally()
    shell = Shell(workdir(where))
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    last_output = ""
    site = where.parent / f"{where.name}-site"
    try:
        for item in page_items(page):
            if isinstance(item, Action):
                _act(item, shell, site)
                tally.counts["directives run"] += 1
                continue
            block = item
            if block.generated:
                tally.counts["generated (test_docs.py)"] += 1
                continue
            reason = block.directive("skip")
            if reason is not None:
                assert reason, f"{block.where}: `doctest: skip` needs a reason"
                tally.counts["skipped"] += 1
                tally.skips.append(f"{block.where}: {reason}")
                continue
            if block.directive("demo") is not None:
                assert demo is not None, "the demo fixture is needed"
                shutil.copy(demo / "scrm.toml", shell.cwd / "scrm.toml")
                for db in demo.glob("scrm.db*"):
                    shutil.copy(db, shell.cwd / db.name)
            target = block.directive("file")
            if target is not None:
                name, _, mode = target.partition(" ")
                path = shell.cwd / name
                path.parent.mkdir(parents=True, exist_ok=True)
                code = block.code
                if mode == "jsonl":  # one JSON object written as a JSON Lines record
                    code = json.dumps(json.loads(code), ensure_ascii=False) + "\n"
                with path.open("a" if mode == "append" else "w", encoding="utf-8") as f:
                    f.write(("\n\n" if mode == "append" else "") + code)
                tally.counts["written to files"] += 1
                continue
            of = block.directive("output")
            if of is not None:
                why = mismatch(block.code, shell.output_of(of) if of else last_output)
                assert why is None, f"{block.where}: the output shown differs: {why}"
                tally.counts["outputs compared"] += 1
                continue
            if block.lang in SHELL_LANGS:
                last_output = _run_shell(block, shell, show)
                tally.counts["shell blocks run"] += 1
            elif block.lang in PYTHON_LANGS:
                try:
                    last_output = run_python(block, namespace, shell.cwd)
                except Exception as exc:
                    raise AssertionError(
                        f"{block.where}: the example failed: {type(exc).__name__}: {exc}"
                    ) from exc
                tally.counts["python blocks run"] += 1
            elif block.lang == "toml":
                _check_configuration(block, where.parent / f"{where.name}-toml")
                tally.counts["toml checked by scrm config check"] += 1
            else:
                looks_like_commands = any(COMMANDISH.match(line) for line in block.code.split("\n"))
                assert block.lang not in {"", "text"} or not looks_like_commands, (
                    f"{block.where}: this ```{block.lang} block holds commands: label it ```sh "
                    "(or ```console with $ prompts) so that it runs, or mark it "
                    "<!-- doctest: skip REASON -->"
                )
                tally.counts["data blocks"] += 1
    finally:
        app = namespace.get("app")
        if app is not None and hasattr(app, "close"):
            app.close()
    tally.counts["scrm commands in-process"] = shell.in_process
    tally.counts["commands through bash"] = shell.in_bash
    return tally


def _run_shell(block: Block, shell: Shell, show: bool = False) -> str:
    output = ""
    for command in commands(block):
        result = shell.run(command.text)
        output = result.output
        where = f"{shown_path(block.path)}:{command.line}"
        if show:
            print(f"--- {where} (exit {result.exit_status})\n$ {command.text}\n{output}", end="")
            continue
        shown_error = command.shown is not None and any(
            line.startswith("Error:") for line in command.shown.splitlines()
        )
        if command.exit_status is not None:
            assert result.exit_status == command.exit_status, (
                f"{where}: `{command.text}` exited {result.exit_status}, the page says "
                f"{command.exit_status}:\n{output}"
            )
        elif shown_error:
            assert result.exit_status != 0, f"{where}: `{command.text}` did not fail:\n{output}"
        else:
            assert result.exit_status == 0, (
                f"{where}: `{command.text}` exited {result.exit_status} (write "
                f"`# exit status N` after it if that is meant):\n{output}"
            )
        if command.shown is not None:
            why = mismatch(command.shown, output)
            assert why is None, (
                f"{where}: `{command.text}` no longer prints what the page shows: {why}"
            )
    return output


def _check_configuration(block: Block, scratch: Path) -> None:
    """Validate a ```toml block as a ``scrm.toml`` of its own with ``scrm config check``."""
    scratch.mkdir(exist_ok=True)
    config = scratch / "scrm.toml"
    head = (
        ""
        if re.search(r"^database_url\s*=", block.code, re.MULTILINE)
        else ('database_url = "sqlite:///scratch.db"\n')
    )
    config.write_text(head + block.code, encoding="utf-8")
    config.chmod(0o600)
    result = Shell(scratch).run("scrm config check")
    assert result.exit_status == 0, (
        f"{block.where}: this ```toml block is not a valid scrm.toml (mark other TOML with "
        f"<!-- doctest: file PATH -->):\n{result.output}"
    )


def _act(action: Action, shell: Shell, site: Path) -> None:
    if action.name == "install":
        site.mkdir(exist_ok=True)
        paths = emulate_install((shell.cwd / action.arg).resolve(), site)
        shell.env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
        shell.subprocess_scrm = True
        return
    result = shell.run(action.arg)
    assert result.exit_status == 0, (
        f"{action.where}: `{action.arg}` exited {result.exit_status}:\n{result.output}"
    )


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_page_examples_run(
    page: Path, tmp_path: Path, request: pytest.FixtureRequest, record_property: Any
) -> None:
    text = page.read_text(encoding="utf-8")
    demo = request.getfixturevalue("demo_dir") if "doctest: demo" in text else None
    tally = run_page(page, tmp_path / "page", demo)
    record_property("doctest", str(tally))
    for skip in tally.skips:
        record_property("skip", skip)


def test_commands_outside_fences_are_fenced() -> None:
    found = [hit for page in PAGES for hit in unfenced_commands(page)]
    assert not found, (
        "indented code blocks with commands cannot be run: fence them as ```sh (or mark "
        "them skipped): " + ", ".join(found)
    )


def test_every_page_is_covered() -> None:
    pages = {p.resolve() for p in PAGES}
    for path in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]:
        assert path.resolve() in pages, f"{path} is not run by the doc tests"


def test_builtins_table_matches_the_plugin_manager() -> None:
    """docs/plugins.md lists every built-in, in order, with its module and the hooks it implements."""
    import re

    from scrm.core.plugins import DEFAULT_PLUGINS, get_plugin_manager

    pm = get_plugin_manager(load_entrypoints=False)
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\s*\| `(\w+)` \| `([\w.:]+)` \| (.*) \|$", text, re.MULTILINE)
    assert [(name, module) for name, module, _ in rows] == list(DEFAULT_PLUGINS), (
        "docs/plugins.md: the built-ins table differs from scrm.core.plugins.DEFAULT_PLUGINS"
    )
    for name, _, hooks in rows:
        plugin = pm.get_plugin(name)
        real = {}
        for caller in pm.get_hookcallers(plugin) or []:
            impl = next(i for i in caller.get_hookimpls() if i.plugin is plugin)
            real[caller.name] = impl.trylast
        named = {h for h in re.findall(r"`(\w+)`", hooks) if h in pm.hook.__dict__}
        assert named == set(real), f"docs/plugins.md: built-in {name!r} implements {sorted(real)}"
        for hook, trylast in real.items():
            assert (f"`{hook}` (trylast)" in hooks) == trylast, (
                f"docs/plugins.md: say whether {name!r}'s {hook} is trylast"
            )


def main() -> None:
    """Print what each page runs and skips (``.venv/bin/python -m tests.test_doc_examples``).

    ``--show PAGE ...``: print what the commands of those pages print now, compare nothing.
    """
    import sys
    import tempfile

    show = sys.argv[1:2] == ["--show"]
    pages = [Path(p).resolve() for p in sys.argv[2:]] if show else PAGES
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        demo = None
        for page in pages:
            if demo is None and "doctest: demo" in page.read_text(encoding="utf-8"):
                demo = build_demo(base / "demo")
            tally = run_page(page, base / page.stem, demo, show)
            print(f"{shown_path(page)}: {tally}")
            for skip in tally.skips:
                print(f"    skipped {skip}")


if __name__ == "__main__":
    main()
