"""Run the fenced examples of a Markdown page, top to bottom, as a reader would.

The rules (what is run, how output is compared, the ``<!-- doctest: ... -->`` directives) are
documented in ``tests/test_doc_examples.py``; this module is the machinery: it splits a page
into blocks, runs shell lines (``scrm`` in-process through :func:`scrm.cli.main`, anything
else through ``bash``) and Python blocks, and compares shown output with what was printed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
#: The terminal width the examples are shown at.
COLUMNS = "100"
SHELL_LANGS = {"sh", "bash", "shell", "console"}
PYTHON_LANGS = {"python", "py"}
GENERATED = re.compile(r"<!-- (\w+):start -->.*?<!-- \1:end -->", re.DOTALL)
FENCE = re.compile(r"^```(\S*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
#: A directive stands on a line of its own (one quoted in prose is not one).
DIRECTIVE = re.compile(r"^[ \t]*<!--\s*doctest:\s*(\w+)\s*(.*?)\s*-->[ \t]*$", re.MULTILINE)
EXIT_NOTE = re.compile(r"\s#\s*exit status (\d+)\s*$")
#: A line of an unfenced or unlabelled block that a reader would type into a shell.
COMMANDISH = re.compile(r"^\s*(\$ |(scrm|make|pip|python3?|source|curl|export)\s|\.venv/bin/)")


def shown_path(path: Path) -> str:
    """Return ``path`` as error messages show it: relative to the checkout when inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


@dataclass
class Block:
    """One fenced block of a page and the directives written right before it."""

    path: Path
    line: int  # 1-based line of the first line of code
    lang: str
    code: str
    directives: list[tuple[str, str]] = field(default_factory=list)
    generated: bool = False

    @property
    def where(self) -> str:
        return f"{shown_path(self.path)}:{self.line}"

    def directive(self, name: str) -> str | None:
        return next((arg for n, arg in self.directives if n == name), None)


@dataclass
class Action:
    """A directive that does something where it stands: ``install PATH`` or ``run COMMAND``."""

    path: Path
    line: int
    name: str
    arg: str

    @property
    def where(self) -> str:
        return f"{shown_path(self.path)}:{self.line}"


MODIFIERS = {"skip", "file", "demo", "output"}
ACTIONS = {"install", "run"}


def page_items(path: Path) -> list[Block | Action]:
    """Return the fenced blocks and action directives of ``path`` in page order.

    Modifier directives (``skip``, ``file``, ``demo``, ``output``) attach to the next block.
    """
    text = path.read_text(encoding="utf-8")
    generated = [(m.start(), m.end()) for m in GENERATED.finditer(text)]
    items: list[Block | Action] = []
    pending: list[tuple[str, str]] = []
    position = 0

    def directives_in(start: int, end: int) -> None:
        for d in DIRECTIVE.finditer(text, start, end):
            name, arg = d.group(1), d.group(2)
            line = text.count("\n", 0, d.start()) + 1
            if name in ACTIONS:
                items.append(Action(path, line, name, arg))
            elif name in MODIFIERS:
                if DIRECTIVE.sub("", text[d.end() : end]).strip():
                    raise ValueError(
                        f"{shown_path(path)}:{line}: `doctest: {name}` must stand right "
                        "before the fenced block it applies to"
                    )
                pending.append((name, arg))
            else:
                raise ValueError(f"{shown_path(path)}:{line}: unknown directive {name!r}")

    for m in FENCE.finditer(text):
        directives_in(position, m.start())
        items.append(
            Block(
                path=path,
                line=text.count("\n", 0, m.start(2)) + 1,
                lang=m.group(1).lower(),
                code=m.group(2),
                directives=pending,
                generated=any(a <= m.start() < b for a, b in generated),
            )
        )
        pending = []
        position = m.end()
    directives_in(position, len(text))
    if pending:
        raise ValueError(f"{shown_path(path)}: directive {pending} before no block")
    return items


def unfenced_commands(path: Path) -> list[str]:
    """Return ``file:line`` of indented code blocks outside fences that hold commands."""
    text = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), path.read_text(encoding="utf-8"))
    lines = text.split("\n")
    found = []
    for i, line in enumerate(lines):
        starts_block = i > 0 and not lines[i - 1].strip()
        if starts_block and line.startswith("    ") and COMMANDISH.match(line[4:]):
            found.append(f"{shown_path(path)}:{i + 1}")
    return found


# --------------------------------------------------------------------------- output


VOLATILE = [
    # ISO 8601 and displayed date-times, with or without seconds, fraction, offset.
    (
        re.compile(
            r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[+-]\d{2}:?\d{2}|Z)?)?"
        ),
        "<time>",
    ),
    (re.compile(r"\b\d+d \d{1,2}:\d{2}\b|\b\d{1,2}:\d{2}(?::\d{2})?\b"), "<duration>"),
    (re.compile(r"\b\d+(?:\.\d+)? ?(?:ms|s)\b"), "<duration>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<id>"),
    (re.compile(r"\b[0-9a-f]{16,}\b"), "<id>"),
    (re.compile(r"\bscrm_(?:[A-Za-z0-9_-]{12,}|\.\.\.)"), "<token>"),  # also the placeholder
]
BOX_ONLY = re.compile(r"^[\s━─┏┓┗┛┳┻╇╈┡┩┣┫┃│└┘┌┐┬┴├┤┼╋═║╔╗╚╝╠╣╦╩╬]*$")
GAP = re.compile(r"^\[\.\.\.[^\]]*\]$")


def normalise(text: str) -> list[str]:
    """Return the comparable lines of ``text`` (see the module docstring of the tests)."""
    out = []
    for raw in text.splitlines():
        line = raw
        for pattern, placeholder in VOLATILE:
            line = pattern.sub(placeholder, line)
        line = " ".join(line.split())
        if line and not BOX_ONLY.match(line):
            out.append(line)
    return out


def _line_pattern(expected: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in expected.split("[...]")]
    return re.compile(".*".join(parts))


def mismatch(expected_text: str, actual_text: str) -> str | None:
    """Return why ``actual_text`` does not show as ``expected_text``, or ``None``."""
    expected = normalise(expected_text)
    actual = normalise(actual_text)
    seen: set[tuple[int, int]] = set()
    best = [0, 0]

    def match(i: int, j: int) -> bool:
        if (i, j) in seen:
            return False
        seen.add((i, j))
        if i > best[0]:
            best[:] = [i, j]
        if i == len(expected):
            return j == len(actual)
        if GAP.match(expected[i]):
            return any(match(i + 1, k) for k in range(j, len(actual) + 1))
        if j < len(actual) and _line_pattern(expected[i]).fullmatch(actual[j]):
            return match(i + 1, j + 1)
        return False

    if match(0, 0):
        return None
    i, j = best
    want = expected[i] if i < len(expected) else "(end of output)"
    got = actual[j] if j < len(actual) else "(end of output)"
    return (
        f"expected line {i + 1} of the shown output, normalised:\n    {want}\n"
        f"but the command printed, normalised:\n    {got}\n"
        "whole output:\n" + actual_text
    )


# --------------------------------------------------------------------------- shell


@dataclass
class Command:
    """One command line of a shell block, with the output the page shows after it."""

    line: int
    text: str
    shown: str | None  # None: the block shows no output (a ```sh block)
    exit_status: int | None  # from a trailing ``# exit status N``


def commands(block: Block) -> list[Command]:
    """Split a shell block into commands (``$`` prompts, continuations, here-documents)."""
    lines = block.code.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    prompted = any(line.startswith("$ ") for line in lines)
    found: list[Command] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        start = i
        if prompted:
            if not line.startswith("$ "):
                raise ValueError(f"{block.where}: output before the first `$ ` prompt")
            line = line[2:]
        elif not line.strip() or line.lstrip().startswith("#"):
            i += 1
            continue
        text = line
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text += "\n" + lines[i]
        heredoc = re.search(r"<<-?\s*'?\"?(\w+)'?\"?", text)
        if heredoc:
            end = heredoc.group(1)
            while i + 1 < len(lines) and lines[i].strip() != end:
                i += 1
                text += "\n" + lines[i]
        i += 1
        shown = None
        if prompted:
            out = []
            while i < len(lines) and not lines[i].startswith("$ "):
                out.append(lines[i])
                i += 1
            shown = "\n".join(out)
        note = EXIT_NOTE.search(text.split("\n")[0])
        found.append(
            Command(
                line=block.line + start,
                text=text,
                shown=shown,
                exit_status=int(note.group(1)) if note else None,
            )
        )
    return found


@dataclass
class Result:
    """What one command did."""

    exit_status: int
    output: str  # stdout and stderr, interleaved as a terminal shows them


class Shell:
    """A reader's shell session in one working directory."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.env: dict[str, str] = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SCRM_", "PYTEST_")) and k not in {"CI", "PYTHONPATH"}
        }
        self.env.update(COLUMNS=COLUMNS, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        self.in_process = 0
        self.in_bash = 0
        #: (command line, what it printed), oldest first.
        self.history: list[tuple[str, str]] = []
        #: After ``doctest: install``: run ``scrm`` as a process, to see the new entry points.
        self.subprocess_scrm = False

    def run(self, text: str) -> Result:
        """Run one command line as typed."""
        result = self._run(text)
        self.history.append((text, result.output))
        return result

    def output_of(self, prefix: str) -> str:
        """Return what the latest command starting with ``prefix`` printed."""
        for text, output in reversed(self.history):
            if text.startswith(prefix):
                return output
        raise AssertionError(f"no command of the page starts with {prefix!r}")

    def _run(self, text: str) -> Result:
        try:
            tokens = list(_tokens(text.replace("\\\n", " ")))
        except ValueError:
            tokens = []
        if tokens and tokens[0] == "export" and len(tokens) == 2 and "=" in tokens[1]:
            name = tokens[1].split("=", 1)[0]
            value = self._bash(f'{text.split("#")[0]}\nprintf %s "${name}"').output
            self.env[name] = value
            return Result(0, "")
        if tokens and tokens[0] == "cd" and len(tokens) == 2:
            self.cwd = (self.cwd / tokens[1]).resolve()
            return Result(0, "")
        if ";" in tokens and not self.subprocess_scrm and not set(tokens) & CONTROL:
            # `scrm a; scrm b`: one after the other, each as its own line.
            results = [self._run(shlex.join(part)) for part in _split(tokens, ";") if part]
            return Result(results[-1].exit_status, "".join(r.output for r in results))
        plan = _scrm_plan(tokens)
        if plan is None or self.subprocess_scrm:
            return self._bash(text)
        producer, argv, stdin_file, stdout_file = plan
        stdin: bytes | None = None
        if producer:
            made = self._bash(producer)
            if made.exit_status:
                return made
            stdin = made.output.encode()
        elif stdin_file:
            stdin = (self.cwd / stdin_file).read_bytes()
        result = self._scrm(argv, stdin)
        if stdout_file:
            (self.cwd / stdout_file).write_text(result.output, encoding="utf-8")
            return Result(result.exit_status, "")
        return result

    def _bash(self, text: str) -> Result:
        self.in_bash += 1
        proc = subprocess.run(
            ["bash", "-c", text],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=120,
            check=False,
        )
        return Result(proc.returncode, proc.stdout.decode("utf-8", "replace"))

    def _scrm(self, argv: list[str], stdin: bytes | None) -> Result:
        import scrm.cli

        self.in_process += 1
        overrides: dict[str, str | None] = {k: None for k in os.environ if k not in self.env}
        overrides.update(self.env)
        old_argv, old_format = sys.argv, warnings.formatwarning
        runner = CliRunner()
        with (
            _chdir(self.cwd),
            runner.isolation(input=stdin or b"", env=overrides) as (_out, _err, output),
        ):
            sys.argv = ["scrm", *argv]
            try:
                scrm.cli.main()
                status = 0
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            finally:
                sys.argv, warnings.formatwarning = old_argv, old_format
                sys.stdout.flush()
                sys.stderr.flush()
            return Result(status, output.getvalue().decode("utf-8", "replace"))


CONTROL = {"&&", "||", "&", "<<", "(", ")", "$("}


def _split(tokens: list[str], separator: str) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    for token in tokens:
        if token == separator:
            parts.append([])
        else:
            parts[-1].append(token)
    return parts


def _tokens(text: str) -> Iterator[str]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    yield from lexer


def _scrm_plan(tokens: list[str]) -> tuple[str, list[str], str | None, str | None] | None:
    """Split ``[producer |] scrm ARGS [< in] [> out]``; ``None`` when it is another command."""
    if "|" in tokens:
        if tokens.count("|") != 1:
            return None
        at = tokens.index("|")
        producer, tokens = tokens[:at], tokens[at + 1 :]
        if any(t in {"<", ">", ">>", "&&", ";", "&", "||"} for t in producer):
            return None
        producer_text = shlex.join(producer)
    else:
        producer_text = ""
    if not tokens or tokens[0] != "scrm":
        return None
    stdin_file = stdout_file = None
    argv: list[str] = []
    it = iter(tokens[1:])
    for token in it:
        if token == "<":
            stdin_file = next(it, None)
        elif token == ">":
            stdout_file = next(it, None)
        elif token in {">>", "&&", ";", "&", "||", "|", "<<", "2>", "2>&1"} or token.startswith(
            (">", "<", "&")
        ):
            return None
        else:
            argv.append(token)
    return producer_text, argv, stdin_file, stdout_file


@contextlib.contextmanager
def _chdir(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


# --------------------------------------------------------------------------- python


def run_python(block: Block, namespace: dict[str, Any], cwd: Path) -> str:
    """Execute a Python block in the page's namespace; return what it printed."""
    import io

    # Pad so that a traceback points at the line in the Markdown file.  dont_inherit: the
    # page runs as a reader's file would, without this module's `from __future__ import
    # annotations` (with it, a dataclass in a page looks for its module and finds none).
    code = "\n" * (block.line - 1) + block.code
    compiled = compile(code, str(block.path), "exec", dont_inherit=True)
    out = io.StringIO()
    with _chdir(cwd), contextlib.redirect_stdout(out):
        exec(compiled, namespace)
    return out.getvalue()


# --------------------------------------------------------------------------- install


def emulate_install(project: Path, site: Path) -> list[Path]:
    """Make ``project`` importable and its entry points visible, as ``pip install -e`` would.

    Writes a ``.dist-info`` (name, version, entry points from ``pyproject.toml``) into
    ``site``; returns the folders to put on ``PYTHONPATH`` (``site`` and the sources).
    """
    import tomllib

    meta = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    name, version = meta["name"], meta["version"]
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    groups = meta.get("entry-points", {})
    (info / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
            for group, eps in groups.items()
        ),
        encoding="utf-8",
    )
    src = project / "src"
    return [site, src if src.is_dir() else project]


def workdir(path: Path) -> Path:
    """Make ``path`` a reader's working directory: ``scrm/`` and ``plugins/`` reachable."""
    path.mkdir(parents=True, exist_ok=True)
    for name in ("scrm", "plugins"):
        (path / name).symlink_to(ROOT / name, target_is_directory=True)
    return path


def build_demo(where: Path) -> Path:
    """Build what ``make demo`` leaves in ``demo/``, with the recipe's own lines; return it.

    ``where`` stands for the checkout (``scrm/`` and ``plugins/`` reachable), and the recipe
    runs in ``where/demo`` as it does in the checkout's ``demo/``.
    """
    workdir(where)
    demo = where / "demo"
    demo.mkdir()
    shutil.copy(ROOT / "scrm" / "data" / "sample" / "demo.toml", demo / "scrm.toml")
    (demo / "scrm.toml").chmod(0o600)  # as the recipe's `install -m 600`
    shell = Shell(demo)
    steps = demo_steps()
    assert any(s[0] == "ingest" for s in steps), "the Makefile's demo recipe lost its ingest lines"
    for argv in steps:
        result = shell._scrm(argv, None)
        assert result.exit_status == 0, f"make demo step `scrm {shlex.join(argv)}`: {result.output}"
    return demo


@cache
def demo_steps() -> list[list[str]]:
    """Return the ``scrm`` command lines of the Makefile's ``demo`` recipe, in order."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    variables = dict(re.findall(r"^(\w+)\s*\??=\s*(.*?)\s*$", text, re.MULTILINE))

    def expand(line: str) -> str:
        while (m := re.search(r"\$\((\w+)\)", line)) and m.group(1) in variables:
            line = line[: m.start()] + variables[m.group(1)] + line[m.end() :]
        return line

    recipe = text.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    steps = []
    for line in recipe.splitlines():
        m = re.match(r"\tcd demo && \.\./\$\(BIN\)/scrm (.*)$", line)
        if m:
            steps.append(shlex.split(expand(m.group(1))))
    return steps
