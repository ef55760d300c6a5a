"""Work done by two processes at once in the concurrency tests (importable under spawn)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path


def generate(root: str) -> None:
    from course_lib.data.synthetic import generate_synthetic

    generate_synthetic(Path(root), n_images=12, seed=5, image_size=32, progress=False)


def extract(root: str, data_dir: str, out: str) -> None:
    import numpy as np

    from faults import extract_child

    store = extract_child.extract(root, data_dir)
    np.save(out, store.features, allow_pickle=False)
    Path(out + ".json").write_text(json.dumps(store.image_ids))


def write_many(path: str, tag: str, n: int) -> None:
    from course_lib.io import atomic_write_json

    for i in range(n):
        atomic_write_json(path, {"writer": tag, "i": i, "pad": "x" * 20_000})


def locked_section(path: str, log: str, tag: str) -> None:
    from course_lib.io import file_lock

    for _ in range(3):
        with file_lock(path):
            with open(log, "a") as handle:
                handle.write(f"{tag} in\n")
                handle.flush()
                os.fsync(handle.fileno())
            time.sleep(0.05)
            with open(log, "a") as handle:
                handle.write(f"{tag} out\n")
