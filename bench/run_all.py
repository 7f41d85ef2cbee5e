"""Run every benchmark in bench/ one after the other (``make bench``).

A benchmark is any ``bench/*.py`` except this file, helper modules (``_*.py``) and the reference
apps the benchmarks serve (``bare_*.py``). Each runs in its own process with the project's
virtualenv Python, short by default; ``--full`` passes ``--full`` on for longer, steadier runs.
Each prints its own figures and writes ``bench/results/<name>.json``; this prints a summary.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_DIR, PYTHON, install_signal_handlers, machine_summary

SELF = Path(__file__).resolve()


def discover() -> list[Path]:
    return [
        path
        for path in sorted(BENCH_DIR.glob("*.py"))
        if path.resolve() != SELF and not path.name.startswith(("_", "bare_"))
    ]


def supports_full(script: Path) -> bool:
    """Whether a benchmark takes ``--full`` (every one should; this keeps run_all robust)."""
    return '"--full"' in script.read_text(errors="replace")


def run(script: Path, extra: list[str], timeout: float) -> tuple[int, float]:
    """Run one benchmark with its output passed through; terminate, then kill, on timeout."""
    started = time.monotonic()
    proc = subprocess.Popen([PYTHON, str(script), *extra], cwd=BENCH_DIR.parent)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"run_all: {script.name} timed out after {timeout:.0f} s; stopping it", flush=True)
        code = 124
    finally:
        if proc.poll() is None:
            proc.terminate()  # the benchmark stops its servers on SIGTERM
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
    return code, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="longer runs (passed on to each)")
    parser.add_argument(
        "--only", action="append", default=[], help="run only this benchmark (name or file name)"
    )
    parser.add_argument("--timeout", type=float, default=None, help="seconds per benchmark")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args()
    scripts = discover()
    if args.only:
        wanted = {name.removesuffix(".py") for name in args.only}
        scripts = [s for s in scripts if s.stem in wanted]
        missing = wanted - {s.stem for s in scripts}
        if missing:
            parser.error(f"no benchmark named {', '.join(sorted(missing))}")
    if args.list:
        print("\n".join(s.name for s in scripts))
        return
    timeout = args.timeout or (3600.0 if args.full else 900.0)
    install_signal_handlers()
    print(f"run_all: {len(scripts)} benchmarks on {machine_summary()}", flush=True)
    outcomes: list[tuple[str, int, float]] = []
    try:
        for script in scripts:
            extra = ["--full"] if args.full and supports_full(script) else []
            note = " (takes no --full)" if args.full and not extra else ""
            print(f"\n##### {script.name} {' '.join(extra)}{note}".rstrip(), flush=True)
            code, seconds = run(script, extra, timeout)
            outcomes.append((script.name, code, seconds))
    finally:  # also when interrupted: what ran so far
        print("\nrun_all summary:")
        for name, code, seconds in outcomes:
            state = "ok" if code == 0 else f"FAILED (exit {code})"
            print(f"  {name:24} {seconds:7.1f} s  {state}")
        if len(outcomes) < len(scripts):
            print(f"  (interrupted: {len(scripts) - len(outcomes)} not run or not finished)")
    if any(code != 0 for _, code, _ in outcomes):
        sys.exit(1)


if __name__ == "__main__":
    main()
