"""Benchmarks of course_lib against the seed tutorial's way of doing the same thing.

Each benchmark module (``bench_training``, ``bench_extraction``, ``bench_decoding``) has a
``run(scale, ...) -> dict`` that measures *two ways* in one run, on the same machine and data,
and returns a result in the schema below; :func:`write_result` saves it as
``<out>/<name>.json`` and :func:`write_summary` rewrites ``<out>/summary.md`` from every result
in the folder. ``python -m benchmarks.run`` drives them (see ``benchmarks/README.md``).

Result schema (JSON)::

    {"benchmark": "training", "title": "...", "scale": 0.1, "date": "2025-...",
     "machine": {...}, "load_average": {"start": [1, 5, 15 min], "end": [...]},
     "way_a": {"name": "...", ...measurements}, "way_b": {"name": "...", ...},
     "comparisons": [{"metric": "...", "unit": "...", "a": 1.0, "b": 10.0,
                      "ratio": 10.0, "target": 8.0, "passed": true}],
     "notes": ["how each number was obtained, extrapolations"], "wall_seconds": 12.3}

``ratio`` is always "how many times better way A (course_lib) is than way B (the seed)".
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from course_lib.io import atomic_write_json, atomic_write_text
from course_lib.machine import cpu_model, load_average

__all__ = [
    "DEFAULT_OUT",
    "RESULT_KEYS",
    "MemoryWatch",
    "available_memory_bytes",
    "comparison",
    "features_by_way",
    "load_average",
    "machine_info",
    "peak_rss_mib",
    "result",
    "run_child",
    "run_stage",
    "stored_mib",
    "write_result",
    "write_summary",
]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results"
RESULT_KEYS = (
    "benchmark",
    "title",
    "scale",
    "date",
    "machine",
    "load_average",
    "way_a",
    "way_b",
    "comparisons",
    "notes",
    "wall_seconds",
)
#: Flickr8k's shape, the size the benchmarks are about at ``scale=1``.
FLICKR8K = {
    "train_images": 6000,
    "test_images": 1000,
    "captions_per_image": 5,
    "vocab_size": 7579,
    "max_length": 34,
    "feature_dim": 4096,
}


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB (``ru_maxrss``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if platform.system() == "Darwin" else peak / 1024


def _memory_total_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        return None
    return None


def machine_info() -> dict[str, Any]:
    """CPU count and model, memory, platform, Python, TensorFlow/Keras/NumPy versions, GPUs."""
    # Imported here, not at the top: the child processes import this package before they
    # take their memory baseline, and TensorFlow's import is part of what they measure.
    import keras
    import numpy as np
    import tensorflow as tf

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "cpu_model": cpu_model(),
        "memory_gib": _memory_total_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "numpy": np.__version__,
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
    }


def comparison(
    metric: str, unit: str, a: float, b: float, *, target: float, higher_is_better: bool
) -> dict[str, Any]:
    """One row: way A's and way B's value, A's advantage ``ratio`` and whether it meets target."""
    if higher_is_better:
        ratio = a / b if b else float("inf")
    else:
        ratio = b / a if a else float("inf")
    return {
        "metric": metric,
        "unit": unit,
        "a": round(float(a), 4),
        "b": round(float(b), 4),
        "ratio": round(float(ratio), 2),
        "target": target,
        "passed": bool(ratio >= target),
    }


def available_memory_bytes() -> int | None:
    """``MemAvailable`` of ``/proc/meminfo`` in bytes (None where there is no such file)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def result(
    name: str,
    title: str,
    scale: float,
    *,
    load_start: list[float],
    wall: float,
    way_a: dict[str, Any],
    way_b: dict[str, Any],
    comparisons: list[dict[str, Any]],
    notes: list[str],
    **extra: Any,
) -> dict[str, Any]:
    """A benchmark's result in the schema above; the date, the machine, the load average at the
    end and the wall time since ``wall`` (a ``time.perf_counter()``) are read now."""
    return {
        "benchmark": name,
        "title": title,
        "scale": scale,
        "date": now(),
        "machine": machine_info(),
        "load_average": {"start": load_start, "end": load_average()},
        **extra,
        "way_a": way_a,
        "way_b": way_b,
        "comparisons": comparisons,
        "notes": notes,
        "wall_seconds": round(time.perf_counter() - wall, 1),
    }


def run_child(module: str, args: Sequence[str], label: str) -> dict[str, Any]:
    """Run ``python -m <module> <args>`` in a fresh process, so that a way is measured alone
    (its memory its own), and return the JSON object its last line of output holds;
    RuntimeError with the end of its stderr when it fails (``label`` names it)."""
    command = [sys.executable, "-m", module, *args]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"the {label} child failed (exit {done.returncode}):\n{done.stderr[-3000:]}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


class MemoryWatch:
    """A child's measured block (``with MemoryWatch() as watch:``): :meth:`record` gives its
    peak memory above what the process held when the block began (:func:`memory_delta`) and
    the load average then and now."""

    def __enter__(self) -> MemoryWatch:
        self.load_start = load_average()
        self.baseline, self.base_status = peak_rss_mib(), AnonSampler.read()
        self.sampler = AnonSampler().__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.sampler.__exit__(*exc)

    def record(self) -> dict[str, Any]:
        return {
            **memory_delta(self.baseline, self.base_status, self.sampler),
            "load_average": {"start": self.load_start, "end": load_average()},
        }


def stored_mib(folder: Path) -> float:
    """MiB of the ``.npy`` files under ``folder``."""
    return round(sum(f.stat().st_size for f in folder.rglob("*.npy")) / 2**20, 1)


def features_by_way(store: Any, image_ids: Sequence[str], way: str) -> Any:
    """The training features as way ``streamed`` reads them (the store itself) or way
    ``whole`` (every training image's grid loaded, as float32)."""
    if way == "streamed":
        return store
    return {i: store[i] for i in dict.fromkeys(image_ids)}


def run_stage(module: str, stage: str, way: str, options: dict[str, Any]) -> dict[str, Any]:
    """:func:`run_child` for one stage of one way, ``options`` as ``--key value`` (``_`` in a
    key written ``-``)."""
    args = ["--stage", stage, "--way", way]
    for key, value in options.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return run_child(module, args, f"{way} {stage}")


def now() -> str:
    """The local date and time, ISO 8601 to the second."""
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def write_result(out_dir: str | os.PathLike, result: dict[str, Any]) -> Path:
    """Write ``result`` to ``<out_dir>/<benchmark>.json`` atomically; returns the path."""
    missing = [k for k in RESULT_KEYS if k not in result]
    if missing:
        raise ValueError(f"benchmark result lacks {missing}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{result['benchmark']}.json"
    atomic_write_json(path, result)
    return path


def _fmt(value: float, unit: str) -> str:
    text = f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{text} {unit}"


def write_summary(out_dir: str | os.PathLike) -> Path:
    """Rewrite ``<out_dir>/summary.md``: one table row per comparison of every result there."""
    out = Path(out_dir)
    order = {"training": 0, "extraction": 1, "decoding": 2}
    results = []
    for path in sorted(out.glob("*.json")):
        with path.open(encoding="utf-8") as f:
            result = json.load(f)
        if isinstance(result, dict) and "comparisons" in result:
            results.append(result)
    results.sort(key=lambda r: (order.get(r["benchmark"], 9), r["benchmark"]))
    lines = [
        "| benchmark | metric | way A (course_lib) | way B (seed) | ratio | target | pass |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for c in r["comparisons"]:
            lines.append(
                f"| {r['benchmark']} | {c['metric']} | {_fmt(c['a'], c['unit'])} "
                f"| {_fmt(c['b'], c['unit'])} | {c['ratio']:.1f}× | ≥ {c['target']:g}× "
                f"| {'pass' if c['passed'] else 'FAIL'} |"
            )
    lines.append("")
    for r in results:
        m = r["machine"]
        load = r["load_average"]
        lines.append(
            f"- **{r['benchmark']}** (scale {r['scale']:g}, {r['date']}): "
            f"A = {r['way_a']['name']}; B = {r['way_b']['name']}. "
            f"{m['cpus_usable']} usable CPUs ({m['cpu_model']}), {m['platform']}, "
            f"TF {m['tensorflow']}, Keras {m['keras']}; load average "
            f"{load['start'][:1]} at start, {load['end'][:1]} at end."
        )
    text = "\n".join(lines) + "\n"
    path = out / "summary.md"
    atomic_write_text(path, text)
    return path


class AnonSampler:
    """Sample ``RssAnon`` and ``RssFile`` of ``/proc/self/status`` every ``every`` seconds."""

    def __init__(self, every: float = 0.01) -> None:
        self.every = every
        self.peak_anon = self.peak_file = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @staticmethod
    def read() -> dict[str, float]:
        """``RssAnon`` and ``RssFile`` now, in MiB (empty where there is no /proc)."""
        found = {}
        try:
            with open("/proc/self/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith(("RssAnon:", "RssFile:")):
                        key, value = line.split(":")
                        found[key] = int(value.split()[0]) / 1024
        except OSError:
            pass
        return found

    def _loop(self) -> None:
        while not self._stop.is_set():
            now_ = self.read()
            self.peak_anon = max(self.peak_anon, now_.get("RssAnon", 0.0))
            self.peak_file = max(self.peak_file, now_.get("RssFile", 0.0))
            self._stop.wait(self.every)

    def __enter__(self) -> AnonSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def memory_delta(baseline: float, base_status: dict, sampler: AnonSampler) -> dict[str, float]:
    """Peak memory since ``baseline`` (``ru_maxrss``, MiB) and ``base_status``
    (:meth:`AnonSampler.read`): all of it, anonymous only, and file-backed pages."""
    peak = peak_rss_mib()
    return {
        "baseline_rss_mib": round(baseline, 1),
        "peak_rss_mib": round(peak, 1),
        "peak_memory_mib": round(peak - baseline, 1),
        "peak_anon_memory_mib": round(sampler.peak_anon - base_status.get("RssAnon", 0.0), 1),
        "peak_file_rss_mib": round(sampler.peak_file - base_status.get("RssFile", 0.0), 1),
    }
