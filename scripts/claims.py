"""The claims sweep: every chapter in every variant, each claim cell's verdict and values.

    python scripts/claims.py [--seeds 1 2 3 4 5] [--variants default seed-1 onednn-off]
                             [--chapters 07 08] [--jobs 2] [--work DIR]

A *variant* is a way of being "another machine" on this one:

- ``default``: the course's own settings;
- ``seed-N``: ``COURSE_SEED=N``, another seed for everything random in training (the small
  CNN's pretraining, the caption models' initialisation, shuffles and dropout);
- ``onednn-off``: ``TF_ENABLE_ONEDNN_OPTS=0``, TensorFlow's other CPU kernels, so other
  float rounding all the way through.

Each variant executes the chosen chapters (``book/NN_*.ipynb``, mini profile) from an empty
data folder of its own (``<work>/<variant>/data``), with every claim cell (tagged ``claim``)
rewritten so that a failing ``assert`` is recorded instead of stopping the chapter, and every
operand of the comparisons it asserts recorded (min and max where an assert runs in a loop).
A cell that fails outside a claim is recorded too, as the claim ``<execution>``. Then it
scores the trained merge and attention models on the test split (the headline numbers).

Writes (merging into what is there, so that a sweep of some chapters or variants updates
only those):

- ``benchmarks/results/claims.json``: a list of records ``{"chapter", "claim", "variant",
  "held", "values", "source_sha256"}`` and, under ``headline``, the scores per variant;
- ``benchmarks/results/claims.md``: a table, claim × variant, with the min and max of each
  checked quantity across the variants, and the spread of the headline numbers.

``tests/test_claims_table.py`` fails when a claim cell's source differs from the source the
table was made from. The sweep is long (about 10 minutes of two cores per variant), so it is
not part of CI: ``nox -s claims -- --seeds 1 2 3 4 5`` runs it.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import hashlib
import json
import math
import operator
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
RESULTS = ROOT / "benchmarks" / "results"
EXECUTION = "<execution>"
DEFAULT_SEEDS = (1, 2, 3, 4, 5)


# ----------------------------------------------------------------------------- claim cells
def chapters() -> list[Path]:
    """The book's chapter notebooks, in order."""
    return sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))


def claim_title(source: str) -> str:
    """What a claim cell claims: the text after ``# Claim:`` on its first line."""
    first = source.splitlines()[0] if source else ""
    return first.removeprefix("# Claim:").strip()


def claim_cells(notebook: Path) -> list[tuple[str, str]]:
    """``(claim, source)`` of every claim cell of ``notebook``, in order."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return [
        (claim_title(source), source)
        for cell in cells
        if cell["cell_type"] == "code" and "claim" in cell.get("metadata", {}).get("tags", [])
        for source in ["".join(cell["source"])]
    ]


def source_digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


# ----------------------------------------------------------------------------- recording
_OPERATORS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}


def _literal(node: ast.expr) -> bool:
    """Whether ``node`` is a literal (``0.5``, ``[True, False]``): nothing to record."""
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


class _Operands(ast.NodeTransformer):
    """Rewrites an assert's test so that every compared operand, and every bare name or call
    it tests, is recorded as it is evaluated (``__claim_compare__``/``__claim_value__``)."""

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        operands = [node.left, *node.comparators]
        keys = [None if _literal(o) else ast.unparse(o) for o in operands]
        node = self.generic_visit(node)  # type: ignore[assignment]
        return ast.Call(
            func=ast.Name("__claim_compare__", ast.Load()),
            args=[
                ast.List([ast.Constant(k) for k in keys], ast.Load()),
                ast.List([ast.Constant(type(op).__name__) for op in node.ops], ast.Load()),
                ast.List([node.left, *node.comparators], ast.Load()),
            ],
            keywords=[],
        )


class _Instrument(ast.NodeTransformer):
    def visit_Assert(self, node: ast.Assert) -> ast.Assert:
        node.test = self._test(node.test)
        return node

    def _test(self, test: ast.expr) -> ast.expr:
        if isinstance(test, ast.BoolOp):
            test.values = [self._test(v) for v in test.values]
            return test
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            test.operand = self._test(test.operand)
            return test
        if isinstance(test, ast.Name | ast.Attribute | ast.Subscript | ast.Call):
            key = ast.unparse(test)
            return ast.Call(
                func=ast.Name("__claim_value__", ast.Load()),
                args=[ast.Constant(key), _Operands().visit(test)],
                keywords=[],
            )
        return _Operands().visit(test)


def _numbers(value: Any) -> list[float] | None:
    """The numbers in ``value`` (a number, a bool, a NumPy array or scalar), else None."""
    if isinstance(value, bool | int | float):
        return [float(value)]
    if type(value).__module__ == "numpy" and hasattr(value, "dtype"):
        if value.dtype.kind in "biuf" and value.size:
            return [float(v) for v in value.reshape(-1)]
    return None


class Recorder:
    """Runs a chapter's claim cells in its kernel and appends one JSON line per claim."""

    def __init__(self, path: str, chapter: str, variant: str):
        self.path, self.chapter, self.variant = Path(path), chapter, variant
        self.values: dict[str, Any] = {}

    def _note(self, key: str, value: Any) -> None:
        numbers = _numbers(value)
        if numbers is not None:
            seen = self.values.get(key)
            lo, hi = (seen["min"], seen["max"]) if isinstance(seen, dict) else (math.inf, -math.inf)
            self.values[key] = {"min": min(lo, *numbers), "max": max(hi, *numbers)}
        elif isinstance(value, str | list | tuple) and len(value) <= 12:
            try:
                self.values[key] = json.loads(json.dumps(value))
            except (TypeError, ValueError):
                self.values[key] = type(value).__name__

    def compare(self, keys: list[str | None], ops: list[str], values: list[Any]) -> Any:
        for key, value in zip(keys, values, strict=True):
            if key is not None:
                self._note(key, value)
        result: Any = True
        for op, left, right in zip(ops, values, values[1:], strict=False):
            result = _OPERATORS[getattr(ast, op)](left, right)
            if len(ops) > 1 and not result:
                return result
        return result

    def value(self, key: str, value: Any) -> Any:
        self._note(key, value)
        return value

    def run(self, source: str, namespace: dict) -> None:
        """Execute one claim cell in ``namespace``; record whether it held and its values."""
        self.values = {}
        tree = ast.fix_missing_locations(_Instrument().visit(ast.parse(source)))
        namespace["__claim_compare__"] = self.compare
        namespace["__claim_value__"] = self.value
        try:
            exec(compile(tree, f"<claim: {claim_title(source)}>", "exec"), namespace)
            held, error = True, None
        except Exception as err:  # a failed assert, or a claim that could not be checked
            held = False
            error = f"{type(err).__name__}: {err}"[:400]
        self.write(claim_title(source), held, self.values, source, error)
        print(f"claim {'held' if held else 'FAILED'}: {claim_title(source)}")

    def write(self, claim: str, held: bool, values: dict, source: str, error=None) -> None:
        record = {
            "chapter": self.chapter,
            "claim": claim,
            "variant": self.variant,
            "held": held,
            "values": values,
            "source_sha256": source_digest(source),
        }
        if error:
            record["error"] = error
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")


def instrumented(notebook: Path, records: Path, variant: str):
    """``notebook`` with its claim cells run by a :class:`Recorder` (an nbformat node)."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    setup = (
        f"import sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import claims as _claims_module\n"
        f"_claims_recorder = _claims_module.Recorder({str(records)!r}, "
        f"{notebook.stem!r}, {variant!r})"
    )
    for cell in nb.cells:
        if cell.cell_type == "code" and "claim" in cell.metadata.get("tags", []):
            cell.source = f"_claims_recorder.run({cell.source!r}, globals())"
    nb.cells.insert(0, nbformat.v4.new_code_cell(setup))
    return nb


# ----------------------------------------------------------------------------- one variant
def execute_chapter(notebook: Path, records: Path, variant: str) -> list[dict]:
    """Run one instrumented chapter; the records of cells that failed outside a claim."""
    from nbclient import NotebookClient

    nb = instrumented(notebook, records, variant)
    client = NotebookClient(
        nb, timeout=1800, kernel_name="python3", allow_errors=True,
        resources={"metadata": {"path": str(BOOK)}},
    )  # fmt: skip
    client.execute()
    failures = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                failures.append(
                    {
                        "chapter": notebook.stem,
                        "claim": EXECUTION,
                        "variant": variant,
                        "held": False,
                        "values": {},
                        "error": f"{output['ename']}: {output['evalue']}"[:400],
                        "cell": cell.source[:200],
                    }
                )
    return failures


HEADLINE_CODE = """
import json, sys
from course_lib import config, pipeline
profile = config.get_profile("mini")
out = {}
for model in ("merge", "attention"):
    report = pipeline.evaluate_captioner(profile, model=model, decoder="beam")
    out[model] = report
json.dump(out, sys.stdout)
"""


def headline(env: dict) -> dict:
    """BLEU, CIDEr-D, scene accuracy (and attention correctness) of both trained models."""
    done = subprocess.run(
        [sys.executable, "-c", HEADLINE_CODE], env=env, capture_output=True, text=True,
        cwd=ROOT, check=True,
    )  # fmt: skip
    return flatten(json.loads(done.stdout.strip().splitlines()[-1]))


def flatten(report: dict, prefix: str = "") -> dict[str, float]:
    """Every number of a nested report as ``{"merge.bleu4": 0.75, …}``."""
    flat: dict[str, float] = {}
    for key, value in report.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


def run_variant(variant: str, notebooks: list[Path], work: Path, scores: bool) -> None:
    """Child process: execute ``notebooks`` in this process's environment (the variant's)."""
    folder = work / variant
    folder.mkdir(parents=True, exist_ok=True)
    records = folder / "claims.jsonl"
    records.unlink(missing_ok=True)
    failures = []
    for notebook in notebooks:
        start = time.perf_counter()
        failures += execute_chapter(notebook, records, variant)
        print(f"[{variant}] {notebook.stem}: {time.perf_counter() - start:.0f} s", flush=True)
    with records.open("a", encoding="utf-8") as out:
        for failure in failures:
            out.write(json.dumps(failure) + "\n")
    if scores:
        (folder / "headline.json").write_text(json.dumps(headline(dict(os.environ)), indent=1))


def variant_env(variant: str, work: Path) -> dict[str, str]:
    """The environment of one variant: its seed or kernels, and its own data folder."""
    env = dict(os.environ)
    for name in ("COURSE_SEED", "TF_ENABLE_ONEDNN_OPTS"):
        env.pop(name, None)
    env.update(
        COURSE_PROFILE="mini",
        COURSE_DATA_DIR=str(work / variant / "data"),
        TF_CPP_MIN_LOG_LEVEL=env.get("TF_CPP_MIN_LOG_LEVEL", "3"),
        PYTHONHASHSEED="0",
    )
    if variant.startswith("seed-"):
        env["COURSE_SEED"] = variant.removeprefix("seed-")
    elif variant == "onednn-off":
        env["TF_ENABLE_ONEDNN_OPTS"] = "0"
    elif variant != "default":
        raise ValueError(f"unknown variant {variant!r}: default, seed-N or onednn-off")
    return env


# ----------------------------------------------------------------------------- the table
def merge_records(old: list[dict], new: list[dict]) -> list[dict]:
    """``old`` with the (chapter, variant) pairs of ``new`` replaced by ``new``'s records."""
    replaced = {(r["chapter"], r["variant"]) for r in new}
    kept = [r for r in old if (r["chapter"], r["variant"]) not in replaced]
    return kept + new


def _span(values: Iterable[Any]) -> tuple[float, float] | None:
    numbers = [
        (v["min"], v["max"]) if isinstance(v, dict) else (v, v)
        for v in values
        if isinstance(v, dict) or isinstance(v, int | float)
    ]
    if not numbers:
        return None
    return min(lo for lo, _ in numbers), max(hi for _, hi in numbers)


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def markdown(records: list[dict], headlines: dict[str, dict], made: dict) -> str:
    """claims.md: claim × variant, the range of every checked quantity, the headline spread."""
    variants = sorted({r["variant"] for r in records}, key=_variant_order)
    order = {p.stem: k for k, p in enumerate(chapters())}
    claims: dict[tuple[str, str], dict[str, dict]] = {}
    for r in sorted(records, key=lambda r: order.get(r["chapter"], 99)):
        claims.setdefault((r["chapter"], r["claim"]), {})[r["variant"]] = r
    failing = sum(not r["held"] for r in records)
    lines = [
        "# Claims sweep",
        "",
        f"Made by `scripts/claims.py` ({made['date']}) on {made['machine']}, TensorFlow "
        f"{made['tensorflow']}, Keras {made['keras']}, from commit `{made['commit']}`.",
        f"Variants: {', '.join(variants)}. {len(claims)} claims, {len(records)} records, "
        f"**{failing} failed**.",
        "",
        "| chapter | claim | " + " | ".join(variants) + " | checked quantities: min – max |",
        "|---|---|" + "---|" * len(variants) + "---|",
    ]
    for (chapter, claim), by_variant in claims.items():
        marks = [
            "—" if v not in by_variant else ("✓" if by_variant[v]["held"] else "**✗**")
            for v in variants
        ]
        keys = dict.fromkeys(k for r in by_variant.values() for k in r["values"])
        spans = []
        for key in keys:
            span = _span(r["values"][key] for r in by_variant.values() if key in r["values"])
            if span is not None:
                lo, hi = span
                shown = _fmt(lo) if lo == hi else f"{_fmt(lo)} – {_fmt(hi)}"
                spans.append(f"`{key}`: {shown}")
        row = [chapter, claim, *marks, "; ".join(spans)]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    lines += ["", *headline_table(headlines)]
    return "\n".join(lines) + "\n"


HEADLINE_KEYS = (
    "merge.bleu1", "merge.bleu2", "merge.bleu3", "merge.bleu4", "merge.cider_d",
    "attention.bleu1", "attention.bleu2", "attention.bleu3", "attention.bleu4",
    "attention.cider_d",
)  # fmt: skip


def headline_table(headlines: dict[str, dict]) -> list[str]:
    """The spread of the headline numbers across the variants (max − min)."""
    if not headlines:
        return []
    variants = sorted(headlines, key=_variant_order)
    keys = [k for k in HEADLINE_KEYS if any(k in h for h in headlines.values())]
    keys += sorted(
        k for h in headlines.values() for k in h
        if k not in keys and ("scene" in k or "attention_correctness" in k)
        and not k.endswith(("_n", ".n", "count"))
    )  # fmt: skip
    keys = list(dict.fromkeys(keys))
    lines = [
        "## Headline numbers (test split, beam 3)",
        "",
        "| quantity | " + " | ".join(variants) + " | min | max | range |",
        "|---|" + "---|" * (len(variants) + 3),
    ]
    for key in keys:
        values = [headlines[v].get(key) for v in variants]
        present = [x for x in values if x is not None]
        cells = ["" if x is None else f"{x:.3f}" for x in values]
        lo, hi = min(present), max(present)
        lines.append(f"| {key} | {' | '.join(cells)} | {lo:.3f} | {hi:.3f} | {hi - lo:.3f} |")
    return lines


def _variant_order(variant: str) -> tuple[int, int]:
    if variant == "default":
        return (0, 0)
    if variant.startswith("seed-"):
        return (1, int(variant.removeprefix("seed-")))
    return (2, 0)


def provenance() -> dict:
    """When, where and from which commit the sweep ran."""
    import keras
    import tensorflow as tf

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{cpu}, {os.cpu_count()} cores",
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "commit": commit,
    }


def save(records: list[dict], headlines: dict[str, dict], out: Path) -> None:
    """Merge into ``out/claims.json`` and rewrite ``out/claims.md``."""
    path = out / "claims.json"
    old = json.loads(path.read_text()) if path.exists() else {"records": [], "headline": {}}
    merged = merge_records(old["records"], records)
    heads = {**old["headline"], **headlines}
    made = provenance()
    data = {"made": made, "records": merged, "headline": heads}
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "claims.md").write_text(markdown(merged, heads, made), encoding="utf-8")


# ----------------------------------------------------------------------------- command line
def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=list(DEFAULT_SEEDS))
    parser.add_argument("--variants", nargs="*", help="default, seed-N, onednn-off")
    parser.add_argument("--chapters", nargs="*", help="chapter numbers or stems (default all)")
    parser.add_argument("--jobs", type=int, default=1, help="variants run at once")
    parser.add_argument("--work", type=Path, default=ROOT / "_build" / "claims")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--no-headline", action="store_true", help="skip scoring the trained models"
    )
    parser.add_argument("--run-variant", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def selected(chapter_args: list[str] | None) -> list[Path]:
    found = chapters()
    if not chapter_args:
        return found
    picked = [p for p in found if any(p.stem.startswith(a) for a in chapter_args)]
    if not picked:
        raise SystemExit(f"no chapter matches {chapter_args}")
    return picked


def main(argv: list[str]) -> int:
    args = parse(argv)
    notebooks = selected(args.chapters)
    if args.run_variant:
        run_variant(args.run_variant, notebooks, args.work, not args.no_headline)
        return 0
    variants = args.variants or [
        "default", *(f"seed-{s}" for s in args.seeds), "onednn-off"
    ]  # fmt: skip
    stems = [p.stem[:2] for p in notebooks]

    def one(variant: str) -> tuple[str, int]:
        log = args.work / f"{variant}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, __file__, "--run-variant", variant, "--work", str(args.work),
                   "--chapters", *stems]  # fmt: skip
        if args.no_headline:
            command.append("--no-headline")
        with log.open("w") as out:
            done = subprocess.run(
                command, env=variant_env(variant, args.work), stdout=out, stderr=out
            )
        print(f"{variant}: exit {done.returncode} ({log})", flush=True)
        return variant, done.returncode

    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        outcomes = dict(pool.map(one, variants))
    records, headlines = [], {}
    for variant in variants:
        folder = args.work / variant
        jsonl = folder / "claims.jsonl"
        if jsonl.exists():
            records += [json.loads(line) for line in jsonl.read_text().splitlines()]
        if (folder / "headline.json").exists() and outcomes[variant] == 0 and not args.no_headline:
            headlines[variant] = json.loads((folder / "headline.json").read_text())
    save(records, headlines, args.out)
    failed = [r for r in records if not r["held"]]
    for r in failed:
        print(f"FAILED [{r['variant']}] {r['chapter']}: {r['claim']}: {r.get('error', '')}")
    print(f"{len(records)} records, {len(failed)} failed; see {args.out / 'claims.md'}")
    return 1 if failed or any(outcomes.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
