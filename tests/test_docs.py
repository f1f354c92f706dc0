"""The docs are generated from the code where they can be, and their examples run.

* the hook reference in ``docs/hooks.md``, the CLI reference in ``docs/operators.md`` and the
  case lifecycle table in ``docs/complaint-loop.md`` and ``docs/index.md`` match what
  ``docs/gen_hooks.py`` renders from the hookspecs, the click tree and
  ``scrm.core.cases.TRANSITIONS``;
* every hookspec is documented with its exact signature, and has an example implementation
  in ``docs/hook_examples.py`` whose arguments are the spec's (a subset) and which registers
  with a plugin manager;
* every hookspec is exercised by at least one test;
* every ```python block of ``docs/embedding.md`` runs, top to bottom, on a fresh SQLite DB.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

# Integration: runs the docs generator and the embedding examples on databases.
pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REGENERATE = ".venv/bin/python docs/gen_hooks.py"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("scrm_docs_gen_hooks", DOCS / "gen_hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gen = _load_generator()
HOOKSPECS: list[tuple[str, Any, dict[str, Any]]] = gen.hookspecs()
HOOK_NAMES = [name for name, _, _ in HOOKSPECS]


def _read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- generated


def test_hook_reference_is_current() -> None:
    documented = gen.current_section(_read("hooks.md"), gen.HOOKS_MARKERS)
    assert documented == gen.render_hooks().strip(), (
        "docs/hooks.md: the hook reference differs from scrm/core/hookspecs.py; "
        f"regenerate it with `{REGENERATE}` (never edit the generated section by hand)"
    )


def test_cli_reference_is_current() -> None:
    documented = gen.current_section(_read("operators.md"), gen.CLI_MARKERS)
    assert documented == gen.render_cli().strip(), (
        "docs/operators.md: the CLI reference differs from the click tree; "
        f"regenerate it with `{REGENERATE}`"
    )


@pytest.mark.parametrize("page", ["complaint-loop.md", "index.md"])
def test_transition_table_is_current(page: str) -> None:
    text = _read(page)
    start, end = gen.TRANSITIONS_MARKERS
    assert start in text and end in text, f"docs/{page} lost its {start} ... {end} markers"
    assert gen.current_section(text, gen.TRANSITIONS_MARKERS) == gen.render_transitions().strip(), (
        f"docs/{page}: the lifecycle table differs from scrm.core.cases.TRANSITIONS; "
        f"regenerate it with `{REGENERATE}`"
    )


def test_transition_table_lists_every_transition() -> None:
    from scrm.core.cases import TRANSITIONS

    rendered = gen.render_transitions()
    for status, targets in TRANSITIONS.items():
        row = next(line for line in rendered.splitlines() if line.startswith(f"| {status.value} |"))
        assert all(t.value in row.split("|")[2] for t in targets), row


def test_there_are_hookspecs() -> None:
    assert len(HOOKSPECS) >= 10, HOOK_NAMES


@pytest.mark.parametrize(("name", "fn"), [(n, f) for n, f, _ in HOOKSPECS], ids=HOOK_NAMES)
def test_hookspec_is_documented_with_its_signature(name: str, fn: Any) -> None:
    section = gen.current_section(_read("hooks.md"), gen.HOOKS_MARKERS)
    assert f"#### `{name}`" in section, f"hook {name} is missing from docs/hooks.md"
    assert gen.signature(fn) in section, (
        f"docs/hooks.md documents {name} with another signature than "
        f"`{gen.signature(fn)}`; regenerate it with `{REGENERATE}`"
    )
    assert fn.__doc__ and fn.__doc__.strip(), f"hookspec {name} has no docstring"


def test_every_hookspec_has_an_example() -> None:
    found = gen.examples()
    missing = [n for n in HOOK_NAMES if n not in found]
    assert not missing, (
        f"docs/hook_examples.py has no example for {', '.join(missing)}: add a function named "
        f"after each hook, marked @hookimpl, then run `{REGENERATE}`"
    )
    strays = sorted(set(found) - set(HOOK_NAMES))
    assert not strays, (
        f"docs/hook_examples.py: {', '.join(strays)} name no hook; make helpers private (_name) "
        "or nest them in the example that uses them"
    )


@pytest.mark.parametrize(("name", "fn"), [(n, f) for n, f, _ in HOOKSPECS], ids=HOOK_NAMES)
def test_hook_example_matches_its_spec(name: str, fn: Any) -> None:
    example = gen.examples().get(name)
    if example is None:
        pytest.fail(f"docs/hook_examples.py has no example for {name}")
    spec_args = list(inspect.signature(fn).parameters)
    args = list(inspect.signature(example).parameters)
    extra = [a for a in args if a not in spec_args]
    assert not extra, f"docs/hook_examples.py: {name} takes {extra}, which the hookspec has not"
    assert args == [a for a in spec_args if a in args], (
        f"docs/hook_examples.py: {name} takes {args} out of the spec's order {spec_args}"
    )
    section = gen.current_section(_read("hooks.md"), gen.HOOKS_MARKERS)
    assert gen.example_source(example) in section, (
        f"docs/hooks.md shows another example for {name}; regenerate it with `{REGENERATE}`"
    )


def test_hook_examples_register_with_a_plugin_manager() -> None:
    from scrm.core.plugins import get_plugin_manager

    module = gen.load_examples()
    pm = get_plugin_manager(load_entrypoints=False, extra=[module])
    pm.check_pending()
    implemented = {caller.name for caller in pm.get_hookcallers(module) or []}
    assert implemented == set(HOOK_NAMES), sorted(set(HOOK_NAMES) ^ implemented)


def test_hook_examples_import_only_the_public_api() -> None:
    import ast

    tree = ast.parse((DOCS / "hook_examples.py").read_text(encoding="utf-8"))
    modules = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ]
    modules += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    private = [
        m for m in modules if m.split(".")[0] == "scrm" and not re.match(r"scrm\.plugin(\.|$)", m)
    ]
    assert not private, f"docs/hook_examples.py imports {private}: plugins import scrm.plugin only"


def test_every_hookspec_has_a_test() -> None:
    this = Path(__file__).resolve()
    files = [p for p in (ROOT / "tests").rglob("*.py") if p.resolve() != this]
    files += list(ROOT.glob("plugins/*/tests/**/*.py"))
    sources = "\n".join(p.read_text(encoding="utf-8") for p in files)
    untested = [n for n in HOOK_NAMES if not re.search(rf"\b{re.escape(n)}\b", sources)]
    assert not untested, (
        f"{len(untested)} of {len(HOOK_NAMES)} hooks are named by no test in tests/ or "
        f"plugins/*/tests/: {', '.join(untested)}. Write a test that implements or calls each "
        "(a small class with @hookimpl methods, registered with the register_plugin fixture)."
    )


# --------------------------------------------------------------------------- examples


def _python_blocks(text: str) -> list[tuple[int, str]]:
    """Return (first line number, code) of every ```python block."""
    blocks = []
    for m in re.finditer(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        blocks.append((text.count("\n", 0, m.start(1)) + 1, m.group(1)))
    return blocks


def test_embedding_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in [k for k in os.environ if k.startswith("SCRM_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    path = DOCS / "embedding.md"
    blocks = _python_blocks(path.read_text(encoding="utf-8"))
    assert blocks, "docs/embedding.md has no ```python examples"
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    try:
        for line, code in blocks:
            # Pad so that tracebacks point at the line in docs/embedding.md.
            compiled = compile("\n" * (line - 1) + code, str(path), "exec")
            try:
                exec(compiled, namespace)
            except Exception as exc:
                raise AssertionError(
                    f"the example at docs/embedding.md:{line} failed: {type(exc).__name__}: {exc}"
                ) from exc
    finally:
        app = namespace.get("app")
        if app is not None and hasattr(app, "close"):
            app.close()
