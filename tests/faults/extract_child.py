"""Feature extraction of a tiny dataset in a child process, slowed down so a test can kill it
part way. ``python -m faults.extract_child <dataset root> <data dir> <log file>``."""

from __future__ import annotations

import sys
import time

SIZE, BATCH, SHARD = 16, 2, 2


def extract(root, data_dir, progress: bool = False):
    from course_lib.data import load_dataset
    from course_lib.features import FeatureRequest, extract_features

    dataset = load_dataset(root, name="tiny")
    request = FeatureRequest(
        dataset,
        "smallcnn",
        weights=None,
        image_size=SIZE,
        data_dir=data_dir,
        batch_size=BATCH,
        shard_size=SHARD,
        progress=progress,
    )
    return extract_features(request)


if __name__ == "__main__":
    from course_lib import features as F

    root, data_dir, log = sys.argv[1:4]
    real = F._predict

    def slow_predict(model, images):
        time.sleep(0.4)
        out = real(model, images)
        with open(log, "a") as handle:
            handle.write(f"{len(images)}\n")
        return out

    F._predict = slow_predict
    extract(root, data_dir)
