"""`python -m bench` (`python3 dev.py bench`): every benchmark in one run, one Markdown table of ratios.

Each benchmark module offers `run(args) -> list[Result]` and may offer `add_arguments(parser)` for options of
its own. The table, with the date and the machine, is printed and written to bench/RESULTS.md (a `--quick`
smoke run only prints it). A benchmark that fails is reported and the others still run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import sys
import traceback
from pathlib import Path
from types import ModuleType

from bench.report import Result, machine, table

BENCHMARKS = {"read": "bench.read_bench", "write": "bench.writeback_bench", "events": "bench.events_bench"}
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def _load(module_name: str) -> ModuleType | str:
    """The benchmark module, or why it cannot be run (it does not exist yet, or does not import)."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return f"skipped, {module_name} does not exist yet"
        return f"FAILED to import ({exc})"
    except Exception as exc:  # a benchmark being edited must not stop the others (nor --help)
        return f"FAILED to import ({type(exc).__name__}: {exc})"


def _parser(modules: dict[str, ModuleType | str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run the benchmarks (bench/) interleaved against their baselines; print one table of ratios.",
    )
    parser.add_argument("--only", choices=sorted(BENCHMARKS), help="run one benchmark only")
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds per scenario (not saved)")
    parser.add_argument(
        "--output", type=Path, help="write the table here (default: bench/RESULTS.md, but nothing with --quick)"
    )
    for module in modules.values():
        if isinstance(module, ModuleType) and hasattr(module, "add_arguments"):
            module.add_arguments(parser)
    return parser


def _arguments_for(module: ModuleType, args: argparse.Namespace) -> argparse.Namespace:
    """Ours, on top of the module's own defaults when it parses its own command line (`parse_args(argv)`) instead
    of offering `add_arguments`: its `run` then finds every option it reads."""
    merged: dict[str, object] = {}
    if not hasattr(module, "add_arguments") and hasattr(module, "parse_args"):
        try:
            merged.update(vars(module.parse_args([])))
        except SystemExit:  # it has required options: ours alone must do
            pass
    merged.update(vars(args))
    return argparse.Namespace(**merged)


def report(results: list[Result], what: str, started: dt.datetime, host: str, notes: list[str]) -> str:
    lines = [
        f"{what} of {started:%Y-%m-%d %H:%M} UTC on {host} (load average at the start).",
        "",
        table(results),
        "",
        "Ratio: ours / baseline, measured side by side in the same run. Latencies: lower is better;"
        " req/s: higher is better.",
    ]
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    modules = {name: _load(module_name) for name, module_name in BENCHMARKS.items()}
    args = _parser(modules).parse_args(argv)
    started, host = dt.datetime.now(dt.UTC), machine()
    results: list[Result] = []
    notes: list[str] = []
    failed = False
    for name, module in modules.items():
        if args.only and name != args.only:
            continue
        if isinstance(module, str):
            notes.append(f"{name}: {module}")
            print(f"bench: {notes[-1]}", file=sys.stderr, flush=True)
            failed = failed or module.startswith("FAILED")
            continue
        print(f"bench: running {name} ({BENCHMARKS[name]})", file=sys.stderr, flush=True)
        try:
            results += module.run(_arguments_for(module, args))
        except (Exception, SystemExit) as exc:  # one failing benchmark must not hide the others' figures
            traceback.print_exc()
            notes.append(f"{name}: FAILED ({type(exc).__name__}: {exc})")
            failed = True
    what = f"Benchmarks ({args.only} only)" if args.only else "Benchmarks"
    text = report(results, what + (", a --quick smoke run," if args.quick else ""), started, host, notes)
    print(text)
    output = args.output or (None if args.quick else RESULTS)
    if output is not None:
        output.write_text(text)
        print(f"bench: written to {output}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
