"""The doc-test machinery: it must fail on drift, not only pass on current pages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.doctestkit import Action, Block, Shell, commands, mismatch, page_items


@pytest.fixture
def page(tmp_path: Path) -> Callable[[str], Path]:
    def make(text: str) -> Path:
        path = tmp_path / "page.md"
        path.write_text(text, encoding="utf-8")
        return path

    return make


def test_a_stale_number_fails() -> None:
    shown = "stored 239, duplicates 1; cases opened 104"
    printed = "stored 243, duplicates 1; cases opened 131\n"
    why = mismatch(shown, printed)
    assert why is not None and "stored 239" in why and "stored 243" in why


def test_times_durations_and_ids_are_volatile() -> None:
    shown = (
        "case 141: callback promised, due 2026-11-26T15:30:46.058861+00:00\n"
        "│ 4 │ new │ 2024-10-20 11:35 │ 766d 19:50 │ took 0.42s │ key 0123456789abcdef0123 │"
    )
    printed = (
        "case 141: callback promised, due 2026-12-07T14:30:54.805933+00:00\n"
        "│ 4    │ new    │ 2024-10-21 09:00 │ 778d 00:55 │ took 1.5s │ key fedcba9876543210ffff │\n"
    )
    assert mismatch(shown, printed) is None
    assert mismatch(shown.replace("case 141", "case 114"), printed) is not None


def test_gaps_and_inline_ellipses() -> None:
    printed = "head\none\ntwo\nthree\nqueued reply 1 on case 3: Hello Sophie, long text\ntail\n"
    assert mismatch("head\n[...]\nqueued reply 1 on case 3: Hello [...]\ntail", printed) is None
    assert (
        mismatch("head\n[... the rows]\nqueued reply 1 on case 3: [...]text\ntail", printed) is None
    )
    # Without a gap every printed line must be shown.
    assert mismatch("head\nqueued reply 1 on case 3: [...]\ntail", printed) is not None
    # A shown line that is not printed fails even after a gap.
    assert mismatch("head\n[...]\nnot printed\ntail", printed) is not None


def test_table_rules_and_blank_lines_are_not_compared() -> None:
    printed = "┏━━━━┳━━━━┓\n┃ id ┃ to ┃\n┡━━━━╇━━━━┩\n│ 1  │ a  │\n└────┴────┘\n\n"
    assert mismatch("┃ id ┃ to ┃\n│ 1 │ a │", printed) is None


def test_console_commands_split_with_their_output_and_exit_notes(
    page: Callable[[str], Path],
) -> None:
    path = page(
        "```console\n"
        '$ scrm one --text "a b" \\\n'
        "    --more\n"
        "out 1\n"
        "out 2\n"
        "$ scrm two        # exit status 6\n"
        "$ cat > f <<'EOF'\n"
        "x = 1\n"
        "EOF\n"
        "```\n"
    )
    [block] = [i for i in page_items(path) if isinstance(i, Block)]
    one, two, heredoc = commands(block)
    assert one.text == 'scrm one --text "a b" \\\n    --more' and one.shown == "out 1\nout 2"
    assert two.exit_status == 6 and two.shown == ""
    assert heredoc.text == "cat > f <<'EOF'\nx = 1\nEOF"


def test_directives_attach_to_the_next_block_only(page: Callable[[str], Path]) -> None:
    path = page(
        "<!-- doctest: skip needs the network -->\n\n```sh\ncurl x\n```\n\n"
        "<!-- doctest: run pytest -q -->\n\n```python\nx = 1\n```\n"
    )
    first, action, second = page_items(path)
    assert isinstance(first, Block) and first.directive("skip") == "needs the network"
    assert isinstance(action, Action) and action.arg == "pytest -q"
    assert isinstance(second, Block) and second.directives == []


def test_a_directive_away_from_its_block_is_an_error(page: Callable[[str], Path]) -> None:
    path = page("<!-- doctest: skip why -->\n\nSome prose.\n\n```sh\nscrm plugins\n```\n")
    with pytest.raises(ValueError, match="right before"):
        page_items(path)


def test_an_unknown_directive_is_an_error(page: Callable[[str], Path]) -> None:
    path = page("<!-- doctest: skpi why -->\n```sh\nscrm plugins\n```\n")
    with pytest.raises(ValueError, match="unknown directive"):
        page_items(path)


def test_shell_runs_scrm_in_process_and_other_commands_in_bash(tmp_path: Path) -> None:
    shell = Shell(tmp_path)
    assert shell.run("export GREETING=\"$(printf 'he'; printf 'llo')\"").exit_status == 0
    assert shell.env["GREETING"] == "hello"
    result = shell.run('printf \'%s\\n\' \'{"id": 1, "text": "Thanks!"}\' | scrm promises detect')
    assert result.exit_status == 0 and '"promise": false' in result.output
    assert shell.in_process == 1
    result = shell.run("scrm cases list")  # no scrm.toml here
    assert result.exit_status != 0 and result.output.startswith("Error:")
    assert shell.run("false").exit_status == 1
    assert shell.in_bash >= 2


def test_a_directive_quoted_in_prose_is_not_one(page: Callable[[str], Path]) -> None:
    path = page("Mark it `<!-- doctest: skip REASON -->`.\n\n```sh\nscrm plugins\n```\n")
    [block] = page_items(path)
    assert isinstance(block, Block) and block.directives == []
