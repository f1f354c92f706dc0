"""Start-up benchmark: how long scrm takes before it does anything, against bare Python.

Measures, in one run and on the same machine, each command as a fresh process:

- ``python -c pass``: the baseline, what any Python program pays;
- ``python -c "import sqlalchemy.orm"``: the floor of any command that reads the database;
- ``scrm --help``;
- ``scrm cases list`` on a small database (the bundled phone sample, about 60 calls);
- ``python -c "import scrm; scrm.open(URL)"``: embedding, which must load no CLI code;

and prints, for each, the median wall-clock time and the median CPU time (user + system of
the child, less sensitive to other processes on a shared machine) over ``--runs`` runs, with
the ratio to the baseline.  Issue 18 asks for under 300 ms on an idle machine for the first
two; on a busy one the ratios are what to compare.

Run::

    .venv/bin/python bench/startup.py
    .venv/bin/python bench/startup.py --runs 20
    # the same measurements of another checkout (e.g. before a change), with this venv:
    .venv/bin/python bench/startup.py --source /tmp/old-checkout
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Runs ``scrm`` exactly as the console script does.
SCRM = "import sys; from scrm.cli import main; sys.argv[0] = 'scrm'; sys.exit(main())"


def _env(source: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SCRM_CONFIG", None)
    env.pop("SCRM_DATABASE_URL", None)
    # An installed scrm has its .pyc files; without them every run compiles every module.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if source is not None:
        paths = [source, *sorted((source / "plugins").glob("*/src"))]
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    return env


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Run once; return (wall ms, child CPU ms)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    wall = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return wall, cpu


def _prepare(folder: Path, env: dict[str, str]) -> str:
    """A configuration and a small migrated database with the phone sample in ``folder``."""
    db = folder / "scrm.db"
    (folder / "scrm.toml").write_text(f'database_url = "sqlite:///{db}"\n')
    (folder / "scrm.toml").chmod(0o600)  # else every command warns that others can read it
    python = sys.executable
    subprocess.run([python, "-c", SCRM, "db", "upgrade"], cwd=folder, env=env, check=True,
                   capture_output=True)  # fmt: skip
    sample = ROOT / "scrm" / "data" / "sample" / "phone.jsonl"
    subprocess.run([python, "-c", SCRM, "ingest", "--channel", "phone", str(sample)],
                   cwd=folder, env=env, check=True, capture_output=True)  # fmt: skip
    return f"sqlite:///{db}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="runs per command (median)")
    parser.add_argument("--source", type=Path, help="measure this checkout instead (PYTHONPATH)")
    args = parser.parse_args()
    env = _env(args.source)
    folder = Path(tempfile.mkdtemp(prefix="scrm-startup-"))
    try:
        url = _prepare(folder, env)
        python = sys.executable
        cases: list[tuple[str, list[str]]] = [
            ("python -c pass (baseline)", [python, "-c", "pass"]),
            # What listing cases cannot avoid: the ORM (and click, pydantic, rich beside it).
            ("import sqlalchemy.orm (floor)", [python, "-c", "import sqlalchemy.orm"]),
            ("scrm --help", [python, "-c", SCRM, "--help"]),
            ("scrm cases list", [python, "-c", SCRM, "cases", "list"]),
            ("import scrm; scrm.open(url)", [python, "-c", f"import scrm; scrm.open({url!r})"]),
        ]
        for _label, argv in cases:  # warm the file cache and the .pyc files
            _run(argv, folder, env)
        samples: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in cases}
        for _ in range(args.runs):  # interleaved: a burst of load hits every command alike
            for label, argv in cases:
                samples[label].append(_run(argv, folder, env))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    where = args.source or ROOT
    print(f"start-up of {where}, {args.runs} runs each, medians; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
    base_wall = statistics.median(w for w, _ in samples[cases[0][0]])
    base_cpu = statistics.median(c for _, c in samples[cases[0][0]])
    print(f"{'command':32} {'wall ms':>8} {'x base':>7} {'CPU ms':>8} {'x base':>7}")
    for label, _ in cases:
        wall = statistics.median(w for w, _ in samples[label])
        cpu = statistics.median(c for _, c in samples[label])
        print(f"{label:32} {wall:8.0f} {wall / base_wall:7.1f} {cpu:8.0f} {cpu / base_cpu:7.1f}")


if __name__ == "__main__":
    main()
