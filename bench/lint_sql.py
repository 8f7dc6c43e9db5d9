"""Benchmark: linting big .sql files, schemaops against squawk.

    .venv/bin/python bench/lint_sql.py [--statements 5000] [--runs 10]
        [--corpora mixed,functions,synapse] [--profile]

Both tools run as cold processes (wall time, best and median of ``--runs``,
interleaved so that a burst of load elsewhere hits both), from an empty folder
(no ``pyproject.toml`` or ``.squawk.toml`` to pick up), on the same files, in the
same run:

1. Start-up: ``python -c pass`` (the interpreter alone), ``schemaops --version``,
   ``schemaops lint`` and ``squawk`` on a one-statement file.
2. Each corpus of bench/sql_corpora.py (``--statements`` statements in one plain
   ``.sql`` file, linted statement by statement as psql would run it):
   ``schemaops lint --format json FILE`` against ``squawk --reporter json FILE``.
3. matrix-synapse's whole schema tree (every file PostgreSQL runs, 411 files)
   in one call of each tool.
4. For the ``mixed`` corpus: schemaops in process (``lint_paths``), statements
   flagged per rule by each tool, and scaling from 1/4 to 2 times the size.

The schemaops under test is the working tree built as a wheel and installed,
without its dependencies (the console script needs none), into
``bench/.venv-bench`` beside ``squawk-cli`` from PyPI: byte-compiled and without
an editable install's import hook, as ``pip install django-schemaops`` gives a
user. ``--profile`` adds where the in-process time goes.
"""

from __future__ import annotations

import argparse
import bisect
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import sql_corpora  # noqa: E402

from schemaops import statements  # noqa: E402
from schemaops.lint.config import LintConfig  # noqa: E402
from schemaops.lint.files import lint_paths  # noqa: E402

BENCH_VENV = REPO_ROOT / "bench" / ".venv-bench"
SQUAWK = "squawk-cli==2.70.0"
# The children write and read .pyc files as a user's install does (this
# environment may say otherwise).
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def bench_tools() -> tuple[Path, Path, Path]:
    """Python, schemaops and squawk of bench/.venv-bench: squawk-cli installed from
    PyPI when missing, schemaops rebuilt from the working tree on every run."""
    python = BENCH_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
    if not (BENCH_VENV / "bin" / "squawk").exists():
        print(f"installing {SQUAWK} into {BENCH_VENV.relative_to(REPO_ROOT)} ...", flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", SQUAWK], check=True)
    with tempfile.TemporaryDirectory() as wheels:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "-q",
                "--no-deps",
                "--no-build-isolation",
                "-w",
                wheels,
                str(REPO_ROOT),
            ],
            check=True,
            env=CHILD_ENV,
        )
        (wheel,) = Path(wheels).glob("*.whl")
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--force-reinstall",
                str(wheel),
            ],
            check=True,
            env=CHILD_ENV,
        )
    return python, BENCH_VENV / "bin" / "schemaops", BENCH_VENV / "bin" / "squawk"


def timed(
    commands: dict[str, Sequence[str]], runs: int, cwd: Path
) -> dict[str, tuple[list[float], str]]:
    """Wall times of ``runs`` cold processes of each command, interleaved (so that a
    burst of load elsewhere hits both), and the last standard output of each.

    Exit status 1 (findings) is expected from both tools; 2 or more is a failure.
    """
    results: dict[str, tuple[list[float], str]] = {name: ([], "") for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            start = time.perf_counter()
            result = subprocess.run(
                command, cwd=cwd, capture_output=True, text=True, env=CHILD_ENV
            )
            elapsed = time.perf_counter() - start
            if result.returncode > 1:
                raise SystemExit(
                    f"{' '.join(command)} exited {result.returncode}:\n{result.stderr}"
                )
            results[name] = ([*results[name][0], elapsed], result.stdout)
    return results


def in_process(path: Path, runs: int) -> tuple[float, int]:
    """Best wall time of ``lint_paths`` on ``path``, and its number of findings."""
    best = float("inf")
    found = 0
    for _ in range(runs):
        start = time.perf_counter()
        run = lint_paths([path], LintConfig())
        best = min(best, time.perf_counter() - start)
        found = len(run.findings)
        if run.errors:
            raise SystemExit("\n".join(run.errors))
    return best, found


def stages(path: Path) -> list[str]:
    """Where the in-process time goes, stage by stage (best of 5 each); reads
    schemaops internals, so only under ``--profile``."""
    from schemaops.lint import report, rules
    from schemaops.lint.context import LintContext
    from schemaops.lint.syntax import parse
    from schemaops.scripts.script import read_plain

    def best(step: Callable[[], object]) -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        return min(times)

    found, _ = read_plain(path)
    modelled = [parse(statement) for statement in found]

    def run_rules() -> None:
        context = LintContext()
        for statement in modelled:
            for rule in rules.reading(statement):
                list(rule.check(statement, context))
            context.after(statement)

    run = lint_paths([path], LintConfig())
    rows = [
        ("read and split into statements (read_plain)", best(lambda: read_plain(path))),
        (
            "model every statement (parse: tokens as needed)",
            best(lambda: [parse(s) for s in found]),
        ),
        ("the rules each statement runs, and the context", best(run_rules)),
        ("whole lint_paths", best(lambda: lint_paths([path], LintConfig()))),
        ("render --format json", best(lambda: report.render(run.findings, run.units, "json"))),
    ]
    return [f"  {name:48} {seconds * 1000:7.1f} ms" for name, seconds in rows]


def profile(path: Path, top: int = 20) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    lint_paths([path], LintConfig())
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def describe(times: list[float]) -> str:
    return f"{min(times):6.3f} s best, {statistics.median(times):6.3f} s median"


def by_statement(findings: list[tuple[str, int]], starts: list[int]) -> dict[str, set[int]]:
    """Rule -> indexes of the statements flagged, from (rule, 1-based line) pairs."""
    flagged: dict[str, set[int]] = {}
    for rule, line in findings:
        flagged.setdefault(rule, set()).add(bisect.bisect_right(starts, line) - 1)
    return flagged


def rule_table(ours: dict[str, set[int]], theirs: dict[str, set[int]]) -> list[str]:
    """Statements flagged per rule: by each tool, by both, by one only."""
    lines = [
        f"  {'rule':45} {'schemaops':>9} {'squawk':>7} {'both':>6} "
        f"{'ours only':>9} {'theirs only':>11}"
    ]
    for rule in sorted(set(ours) & set(theirs)):
        a, b = ours[rule], theirs[rule]
        lines.append(
            f"  {rule:45} {len(a):9d} {len(b):7d} {len(a & b):6d} {len(a - b):9d} {len(b - a):11d}"
        )
    for rule in sorted(set(ours) - set(theirs)):
        lines.append(f"  {rule:45} {len(ours[rule]):9d} {'-':>7}  (schemaops only)")
    for rule in sorted(set(theirs) - set(ours)):
        lines.append(f"  {rule:45} {'-':>9} {len(theirs[rule]):7d}  (squawk only)")
    return lines


def squawk_parses(squawk: Path, files: list[Path], cwd: Path) -> list[Path]:
    """The files squawk parses (it reports nothing but syntax errors for the others,
    so a corpus holding one would not make it do the whole work)."""
    result = subprocess.run(
        [str(squawk), "--reporter", "json", *map(str, files)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=CHILD_ENV,
    )
    broken = {f["file"] for f in json.loads(result.stdout) if f["rule_name"] == "syntax-error"}
    return [f for f in files if str(f) not in broken]


def corpus_text(name: str, count: int, squawk: Path, cwd: Path) -> str:
    if name == "mixed":
        return sql_corpora.generated(count)
    if name == "functions":
        return sql_corpora.generated(count, sql_corpora.FunctionsCorpus)
    if name == "synapse":
        files = squawk_parses(squawk, sql_corpora.synapse_files(), cwd)
        return sql_corpora.repeated(files, count, statements.split)
    raise SystemExit(f"unknown corpus {name!r}: mixed, functions or synapse")


def compare(
    label: str,
    ours: Sequence[str],
    theirs: Sequence[str],
    runs: int,
    cwd: Path,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Time both commands cold; print the rows; return both JSON outputs."""
    cold = timed({"schemaops": ours, "squawk": theirs}, runs, cwd)
    (our_times, our_out), (their_times, their_out) = cold["schemaops"], cold["squawk"]
    best = min(our_times) / min(their_times)
    median = statistics.median(our_times) / statistics.median(their_times)
    print(f"  {label}")
    print(f"    schemaops lint --format json   {describe(our_times)}")
    print(f"    squawk --reporter json         {describe(their_times)}")
    print(f"    ratio schemaops/squawk         {best:6.2f}x best, {median:6.2f}x median")
    return json.loads(our_out)["findings"], json.loads(their_out)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--statements", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--corpora", default="mixed,functions,synapse")
    parser.add_argument("--profile", action="store_true", help="cProfile the in-process lint")
    args = parser.parse_args()
    python, schemaops, squawk = bench_tools()
    squawk_version = subprocess.run(
        [str(squawk), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    print(f"Python {sys.version.split()[0]}, {squawk_version}, {os.cpu_count()} cores")

    with tempfile.TemporaryDirectory() as tmp:
        # cwd for both tools: no pyproject.toml or .squawk.toml to pick up.
        work = Path(tmp)
        tiny = work / "one.sql"
        tiny.write_text("CREATE INDEX i ON t (a);\n")
        start = timed(
            {
                "python -c pass": [str(python), "-c", "pass"],
                "schemaops --version": [str(schemaops), "--version"],
                "schemaops lint one.sql": [str(schemaops), "lint", str(tiny)],
                "squawk one.sql": [str(squawk), str(tiny)],
            },
            max(args.runs, 20),
            work,
        )
        print("start-up, cold processes (wall time):")
        for name, (times, _) in start.items():
            print(
                f"  {name:24} {min(times) * 1000:6.1f} ms best, "
                f"{statistics.median(times) * 1000:6.1f} ms median"
            )

        print(f"{args.statements} statements in one file, cold processes (wall time):")
        mixed_path: Path | None = None
        mixed_ours: list[dict[str, Any]] = []
        mixed_theirs: list[dict[str, Any]] = []
        mixed_split: list[statements.Statement] = []
        for name in args.corpora.split(","):
            path = work / f"{name}.sql"
            text = corpus_text(name, args.statements, squawk, work)
            path.write_text(text)
            count = len(statements.split(text))
            ours, theirs = compare(
                f"{name}: {count} statements, {text.count(chr(10))} lines, "
                f"{len(text) / 1024:.0f} KiB",
                [str(schemaops), "lint", "--format", "json", str(path)],
                [str(squawk), "--reporter", "json", str(path)],
                args.runs,
                work,
            )
            errors = [f for f in theirs if f["rule_name"] == "syntax-error"]
            assert not errors, f"squawk cannot parse the {name} corpus: {errors[:1]}"
            print(f"    findings: schemaops {len(ours)}, squawk {len(theirs)}")
            if name == "mixed":
                mixed_path, mixed_ours, mixed_theirs, mixed_split = (
                    path,
                    ours,
                    theirs,
                    statements.split(text),
                )

        files = sql_corpora.synapse_files()
        ours, theirs = compare(
            f"matrix-synapse's schema tree: {len(files)} files, one call each",
            [str(schemaops), "lint", "--format", "json", *map(str, files)],
            [str(squawk), "--reporter", "json", *map(str, files)],
            args.runs,
            work,
        )
        print(f"    findings: schemaops {len(ours)}, squawk {len(theirs)}")

        if mixed_path is None:
            return
        lint_time, lint_found = in_process(mixed_path, args.runs)
        assert len(mixed_ours) == lint_found
        print(f"mixed, schemaops in process (lint_paths, best of {args.runs}): {lint_time:.3f} s")
        starts = [statement.line for statement in mixed_split]
        ours_by_rule = by_statement(
            [(f["rule"], f["line"]) for f in mixed_ours],
            starts,
        )
        theirs_by_rule = by_statement(  # squawk's lines count from 0
            [(f["rule_name"], f["line"] + 1) for f in mixed_theirs],
            starts,
        )
        print("mixed, statements flagged per rule:")
        print("\n".join(rule_table(ours_by_rule, theirs_by_rule)))

        print("mixed, scaling: schemaops in process (best of 3), squawk cold process (best of 3):")
        print(f"  {'statements':>10} {'schemaops':>10} {'us/stmt':>8} {'squawk':>8}")
        for factor in (0.25, 0.5, 1, 2):
            count = int(args.statements * factor)
            scaled = work / f"mixed_{count}.sql"
            scaled.write_text(sql_corpora.generated(count))
            seconds, _ = in_process(scaled, 3)
            squawk_cold = timed(
                {"squawk": [str(squawk), "--reporter", "json", str(scaled)]}, 3, work
            )
            print(
                f"  {count:10d} {seconds:9.3f}s {seconds / count * 1e6:8.1f} "
                f"{min(squawk_cold['squawk'][0]):7.3f}s"
            )

        if args.profile:
            print("where the in-process time goes (best of 5 each):")
            print("\n".join(stages(mixed_path)))
            print(profile(mixed_path))


if __name__ == "__main__":
    main()
