"""Run the benchmarks: ``python -m benchmarks.run [--scale S]
[--only training,extraction,decoding,grids,scale] [--out benchmarks/results] [--vgg16]``.

Writes ``<out>/<name>.json`` per benchmark and rewrites ``<out>/summary.md`` (a table of every
result in ``<out>``), then prints the table. ``--scale`` multiplies the data sizes (1.0 =
Flickr8k's shape; the default 0.1 takes a few minutes on 2 CPU cores). See
``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks import (
    DEFAULT_OUT,
    bench_decoding,
    bench_extraction,
    bench_grids,
    bench_scale,
    bench_training,
    write_result,
    write_summary,
)

BENCHMARKS = ("training", "extraction", "decoding", "grids", "scale")


def _run(name: str, args: argparse.Namespace) -> dict:
    """The result of the benchmark ``name`` at ``args.scale``."""
    if name == "extraction":
        return bench_extraction.run(args.scale, vgg16=args.vgg16)
    modules = {
        "training": bench_training,
        "decoding": bench_decoding,
        "grids": bench_grids,
        "scale": bench_scale,
    }
    return modules[name].run(args.scale)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 even when a target is missed)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--scale", type=float, default=0.1, help="data size, 1.0 = Flickr8k")
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help="comma-separated subset of " + ", ".join(BENCHMARKS),
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder")
    parser.add_argument(
        "--vgg16", action="store_true", help="extraction also with VGG16 (weights=None, 224 px)"
    )
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    if args.scale <= 0:
        parser.error(f"--scale must be positive, got {args.scale}")

    start = time.perf_counter()
    for name in BENCHMARKS:
        if name not in chosen:
            continue
        print(f"[{name}] scale {args.scale:g}", flush=True)
        result = _run(name, args)
        path = write_result(args.out, result)
        for c in result["comparisons"]:
            verdict = "pass" if c["passed"] else "FAIL"
            print(
                f"  {c['metric']}: A {c['a']:.4g} {c['unit']}, B {c['b']:.4g} {c['unit']} → "
                f"{c['ratio']:.1f}× (target ≥ {c['target']:g}×, {verdict})",
                flush=True,
            )
        print(f"  wrote {path} ({result['wall_seconds']:.0f} s)", flush=True)
    summary = write_summary(args.out)
    print(f"\n{summary.read_text(encoding='utf-8')}")
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
