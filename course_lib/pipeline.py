"""The whole pipeline in a few calls, shared by the command line and the book's chapters.

dataset → features → vocabulary → training → decoding → scores. Each costly stage is cached
in the data folder, so a chapter can ask for what it needs (``train_captioner(profile)``)
without depending on an earlier chapter having run.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from course_lib import config
from course_lib.attention import build_attention_model
from course_lib.backbones import build_backbone, local_vgg16_weights
from course_lib.data import CaptionDataset, load_named_dataset, prepare_dataset
from course_lib.data.images import ImageError, load_image
from course_lib.decoding import (
    Decoded,
    beam_search_decode,
    greedy_decode,
    sequence_log_probs,
)
from course_lib.distribute import check_batches, make_strategy
from course_lib.evaluation import evaluate_captions
from course_lib.features import (
    KEY_FIELDS,
    FeatureRequest,
    FeatureStore,
    extract_feature_part,
    extract_features,
    join_feature_parts,
)
from course_lib.io import atomic_path, atomic_write_json, file_lock, read_json
from course_lib.models import (
    build_inject_model,
    build_merge_model,
    compile_captioner,
)
from course_lib.scene_checks import attention_correctness
from course_lib.scene_cnn import (
    ensure_scene_cnn,
    is_current_scene_cnn,
    scene_cnn_path,
)
from course_lib.text import (
    Vocabulary,
    caption_length_stats,
    clean_caption,
    tokenize_captions,
)
from course_lib.training import (
    SORT_WINDOW,
    caption_dataset,
    encode_captions,
    load_captioner,
    read_history,
    train,
)
from course_lib.viz import plot_attention

PathLike = str | os.PathLike


def dataset_info(name: str, data_dir: PathLike | None = None) -> dict:
    """Summary of a dataset on disk: sizes, splits, training vocabulary, ``row_length`` (the
    longest training caption in ids, with ``<start>`` and ``<end>``) and skipped entries.
    Works on a Flickr8k folder that holds the text files but no images."""
    dataset = load_named_dataset(name, data_dir)
    info = dataset.summary()
    train_tokens = [
        t for caps in _train_tokens(dataset).values() for t in caps
    ]
    vocab = Vocabulary.build(train_tokens)
    info.update(
        vocab_size=len(vocab),
        vocab_words=len(vocab.words),
        row_length=caption_length_stats(train_tokens)["max"],
        cleaning=vocab.cleaning,
        image_dir=str(dataset.image_dir),
    )
    return info


def _train_tokens(dataset: CaptionDataset) -> dict[str, list[list[str]]]:
    return tokenize_captions(dataset.split_captions("train"))


def load_dataset_for(
    profile: config.Profile,
    data_dir: PathLike | None = None,
    dataset_name: str | None = None,
    *,
    dataset: CaptionDataset | None = None,
    progress: bool = True,
) -> CaptionDataset:
    """The profile's dataset (or ``dataset_name``), prepared on first use.

    A ``dataset`` already loaded (e.g. a test fixture) is returned as it is.
    """
    if dataset is not None:
        return dataset
    name = dataset_name or profile.dataset
    kwargs = (
        _synthetic_parameters(profile, data_dir) if name == "synthetic" else {}
    )
    return prepare_dataset(name, data_dir, progress=progress, **kwargs)


def _synthetic_parameters(
    profile: config.Profile, data_dir: PathLike | None
) -> dict:
    """Generator parameters: those of the synthetic set already on disk (e.g. made with
    ``python -m course_lib data --n-images N``), else the profile's sizes."""
    manifest = config.dataset_dir("synthetic", data_dir) / "synthetic.json"
    try:
        made = read_json(manifest)
        return {
            "n_images": int(made["n_images"]),
            "extra_test_images": int(made["extra_test_images"]),
            "seed": int(made["seed"]),
            "image_size": tuple(made["image_size"]),
            "layout": made.get("layout", "flickr8k"),
        }
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
    ):  # none yet, or made by an older course
        return synthetic_sizes(profile)


def synthetic_sizes(profile: config.Profile) -> dict[str, int]:
    """The profile's synthetic set: ``n_images`` and ``extra_test_images``."""
    return {
        "n_images": profile.synthetic_images,
        "extra_test_images": profile.synthetic_extra_test_images,
    }


def backbone_weights(
    profile: config.Profile,
    data_dir: PathLike | None = None,
    *,
    dataset: CaptionDataset | None = None,
    progress: bool = True,
    pretrain: bool = True,
) -> Path | None:
    """Pipeline step: the file the profile's backbone reads its weights from, made sure of.

    The small CNN is pretrained on the profile's synthetic scenes on first use, unless
    ``pretrain=False``, which raises ``FileNotFoundError`` instead (captioning reads the CNN its
    captioner was trained with). VGG16's ImageNet weights: the local file named by
    ``$COURSE_VGG16_WEIGHTS``, or None, for Keras's own copy, downloaded when the backbone is
    first built. None too for random weights."""
    if profile.weights is None:
        return None
    if profile.backbone == "vgg16":
        return local_vgg16_weights()
    dataset = load_dataset_for(
        profile, data_dir, dataset=dataset, progress=progress
    )
    if pretrain:
        return ensure_scene_cnn(dataset, data_dir, progress)
    path = scene_cnn_path(dataset, data_dir)
    if not is_current_scene_cnn(path):
        raise FileNotFoundError(
            f"{path}: no pretrained small CNN of this dataset; it is made with the features "
            f"(python -m course_lib features --profile {profile.name})"
        )
    return path


def feature_request(
    profile: config.Profile,
    data_dir: PathLike | None = None,
    *,
    dataset: CaptionDataset | None = None,
    spatial: bool = False,
    progress: bool = True,
) -> FeatureRequest:
    """The extraction of every image of the profile's dataset with its backbone (the backbone's
    weights made sure of first: :func:`backbone_weights`): vectors, or ``spatial`` region grids
    (what the attention model reads)."""
    dataset = load_dataset_for(
        profile, data_dir, dataset=dataset, progress=progress
    )
    return FeatureRequest(
        dataset,
        profile.backbone,
        weights=profile.weights,
        image_size=profile.image_size,
        weights_file=backbone_weights(
            profile, data_dir, dataset=dataset, progress=progress
        ),
        spatial=spatial,
        data_dir=data_dir,
        progress=progress,
    )


def prepare_features(
    profile: config.Profile,
    data_dir: PathLike | None = None,
    *,
    dataset_name: str | None = None,
    dataset: CaptionDataset | None = None,
    progress: bool = True,
    spatial: bool = False,
) -> FeatureStore:
    """Backbone features of every image of the dataset (cached): a ``FeatureStore`` of
    vectors, or with ``spatial`` of region grids (what the attention model reads)."""
    dataset = dataset or load_dataset_for(
        profile, data_dir, dataset_name, progress=progress
    )
    request = feature_request(
        profile, data_dir, dataset=dataset, spatial=spatial, progress=progress
    )
    return extract_features(request)


def prepare_feature_part(
    profile: config.Profile,
    data_dir: PathLike | None = None,
    *,
    part: tuple[int, int],
    dataset_name: str | None = None,
    progress: bool = True,
    spatial: bool = False,
) -> Path:
    """Part ``(i, n)`` of a split extraction of :func:`prepare_features`' store (see
    :func:`course_lib.features.extract_feature_part`): the part's folder."""
    dataset = load_dataset_for(
        profile, data_dir, dataset_name, progress=progress
    )
    request = feature_request(
        profile, data_dir, dataset=dataset, spatial=spatial, progress=progress
    )
    return extract_feature_part(request, part)


def join_prepared_parts(
    profile: config.Profile,
    data_dir: PathLike | None = None,
    *,
    parts: int,
    dataset_name: str | None = None,
    progress: bool = True,
    spatial: bool = False,
) -> FeatureStore:
    """Join the ``parts`` parts made by :func:`prepare_feature_part` into the store that
    :func:`prepare_features` reads (see :func:`course_lib.features.join_feature_parts`)."""
    dataset = load_dataset_for(
        profile, data_dir, dataset_name, progress=progress
    )
    request = feature_request(
        profile, data_dir, dataset=dataset, spatial=spatial, progress=progress
    )
    return join_feature_parts(request, parts)


def _check_model(model: str) -> None:
    if model not in config.MODELS:
        raise ValueError(
            f"unknown model {model!r}; choose one of {list(config.MODELS)}"
        )


def build_model(
    model: str, vocab_size: int, features, profile: config.Profile
):
    """A new, uncompiled caption model of kind ``model`` for ``features`` (a FeatureStore:
    vectors for merge and inject, region grids for attention), sized by ``profile``."""
    _check_model(model)
    sizes: dict[str, Any] = {
        "embed_dim": profile.embed_dim,
        "units": profile.units,
        "dropout": profile.dropout,
    }
    if model == "attention":
        return build_attention_model(
            vocab_size, features.item_shape, attention_units=profile.units,
            penalty=profile.attention_penalty, **sizes,
        )  # fmt: skip
    builder = build_merge_model if model == "merge" else build_inject_model
    return builder(vocab_size, features.dim, **sizes)


def run_dir_for(
    profile: config.Profile,
    data_dir: PathLike | None = None,
    *,
    dataset_name: str | None = None,
    model: str = "merge",
) -> Path:
    """The folder of one training run: checkpoints, backups, history and vocabulary."""
    name = (
        f"{dataset_name or profile.dataset}-{profile.backbone}-{profile.weights}-{model}"
        f"-e{profile.embed_dim}-u{profile.units}-seed{profile.seed}"
    )
    return config.runs_dir(data_dir) / name


@dataclass
class Captioner:
    """A trained captioning model with what decoding it needs.

    ``row_length``: ids in the longest training caption, ``<start>`` and ``<end>`` included;
    decoders write at most ``row_length - 1`` tokens (the words and ``<end>``).
    ``train_seconds``: how long training took (the last session of a resumed run; None for a
    run trained before the course recorded it).
    """

    model: object  # keras.Model
    vocab: Vocabulary
    row_length: int
    run_dir: Path
    history: dict[str, list[float]]
    profile: config.Profile
    train_seconds: float | None = None


def features_key(features) -> str:
    """A digest of what made a ``FeatureStore`` (dataset, backbone, weights, preprocessing…):
    a trained captioner is reused only with the features it was trained on."""
    key = {k: features.metadata.get(k) for k in KEY_FIELDS}
    return hashlib.sha256(
        json.dumps(key, sort_keys=True, default=str).encode()
    ).hexdigest()


def build_vocabulary(
    dataset: CaptionDataset, profile: config.Profile
) -> tuple[Vocabulary, int]:
    """The training split's vocabulary and ``row_length``, its longest caption in ids (with
    ``<start>`` and ``<end>``)."""
    tokens = [t for caps in _train_tokens(dataset).values() for t in caps]
    vocab = Vocabulary.build(tokens, min_count=profile.min_word_count)
    return vocab, int(caption_length_stats(tokens)["max"])


def train_captioner(
    profile: config.Profile,
    data_dir: PathLike | None = None,
    *,
    dataset_name: str | None = None,
    model: str = "merge",
    verbose: int = 2,
    retrain: bool = False,
    dataset: CaptionDataset | None = None,
    strategy: str = "default",
) -> Captioner:
    """Train (or resume, or reuse a finished run of) the captioning model of ``profile``, with
    the profile's settings for ``model`` (:meth:`course_lib.config.Profile.for_model`).

    A run killed part way resumes from its last completed epoch; a finished run is loaded
    instead of trained again unless ``retrain``. ``strategy`` (one of
    :data:`course_lib.distribute.STRATEGIES`) picks the devices that train; the profile's
    ``batch_size`` is the global batch, split across them.
    """
    devices = make_strategy(
        strategy
    )  # first: a missing TPU fails before any data is read
    profile = profile.for_model(model)
    run_dir = run_dir_for(
        profile, data_dir, dataset_name=dataset_name, model=model
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    progress = verbose != 0
    with file_lock(run_dir / "train"):
        dataset = load_dataset_for(
            profile, data_dir, dataset_name, dataset=dataset, progress=progress
        )
        spatial = model == "attention"
        features = prepare_features(
            profile,
            data_dir,
            dataset=dataset,
            progress=progress,
            spatial=spatial,
        )
        if _reuse_or_clear(run_dir, run_settings(profile, features), retrain):
            return load_trained(
                profile, data_dir, dataset_name=dataset_name, model=model
            )
        vocab, row_length = build_vocabulary(dataset, profile)
        vocab.save(run_dir / "vocab.json")
        config.set_seed(profile.seed)
        train_ds, val_ds = _training_datasets(
            dataset, features, vocab, row_length, profile, devices
        )
        steps = profile.epochs * len(train_ds)
        with devices.scope():
            net = build_model(model, len(vocab), features, profile)
            compile_captioner(
                net,
                profile.learning_rate,
                decay_steps=steps if profile.cosine_decay else None,
            )
        start = time.perf_counter()
        history = train(
            net, train_ds, val_ds, epochs=profile.epochs, run_dir=run_dir,
            patience=profile.patience, seed=profile.seed, verbose=verbose,
        )  # fmt: skip
        seconds = round(time.perf_counter() - start, 1)
        record = {
            "model": model,
            "dataset": dataset.name,
            "row_length": row_length,
        }
        _write_run_record(
            run_dir, profile, features, vocab, history, seconds, **record
        )
        return Captioner(
            load_captioner(run_dir / "best.keras"), vocab, row_length, run_dir, history, profile,
            seconds,
        )  # fmt: skip


def _reuse_or_clear(run_dir: Path, wanted: dict, retrain: bool) -> bool:
    """True when ``run_dir`` holds a finished run made with the settings ``wanted`` (and not
    ``retrain``): it is reused. Otherwise the run folder is cleared when it was made with other
    settings (saying which) or ``retrain``, and ``wanted`` written for the run about to start
    (or resume)."""
    stored = _stored_settings(run_dir)
    if not retrain and stored is not None:
        changed = sorted(
            k for k in {*stored, *wanted} if stored.get(k) != wanted.get(k)
        )
        if changed:
            print(
                f"{run_dir}: trained with other settings ({', '.join(changed)}); retraining"
            )
            retrain = True
        elif (run_dir / "run.json").exists() and (
            run_dir / "best.keras"
        ).exists():
            return True
    if retrain:
        _clear_run(run_dir)
    atomic_write_json(run_dir / SETTINGS_FILE, wanted)
    return False


def _training_datasets(
    dataset: CaptionDataset,
    features: FeatureStore,
    vocab: Vocabulary,
    row_length: int,
    profile: config.Profile,
    devices: Any,
) -> tuple[Any, Any]:
    """The training and validation batches (``caption_dataset``) of the captions whose images have
    features, checked to split evenly across the ``devices``."""
    splits = {}
    for split in ("train", "dev"):
        captions = {
            i: c
            for i, c in dataset.split_captions(split).items()
            if i in features
        }
        splits[split] = encode_captions(captions, vocab, row_length)
    check_batches(
        devices,
        profile.batch_size,
        train_rows=len(splits["train"][1]),
        val_rows=len(splits["dev"][1]),
    )
    train_ds = caption_dataset(
        features, *splits["train"], batch_size=profile.batch_size, shuffle=True,
        seed=profile.seed, sort_window=profile.sort_window or SORT_WINDOW,
    )  # fmt: skip
    val_ds = caption_dataset(
        features,
        *splits["dev"],
        batch_size=profile.batch_size,
        shuffle=False,
        seed=profile.seed,
    )
    return train_ds, val_ds


def _write_run_record(
    run_dir: Path,
    profile: config.Profile,
    features: FeatureStore,
    vocab: Vocabulary,
    history: dict[str, list[float]],
    seconds: float,
    **record: Any,
) -> None:
    """``run.json``, written last: what a finished run was trained with, and how long."""
    atomic_write_json(
        run_dir / "run.json",
        {
            "profile": profile.to_dict(),
            **record,
            "vocab_size": len(vocab),
            "feature_dim": features.dim,
            "features_key": features_key(features),
            "epochs_run": len(history.get("loss", [])),
            "train_seconds": seconds,
        },
    )


#: A run folder's record of what its result depends on (:func:`run_settings`), written when
#: training starts: a run is resumed or reused only with the same settings.
SETTINGS_FILE = "settings.json"
#: Profile fields that do not change what training computes: decoding, or applied by
#: :meth:`~course_lib.config.Profile.for_model` already.
_NOT_TRAINING = ("name", "beam_width", "model_settings")


def run_settings(profile: config.Profile, features) -> dict:
    """What a training run's weights depend on besides the captions: the features it reads
    (:func:`features_key`) and the training fields of ``profile`` (already ``for_model``)."""
    return _settings(features_key(features), profile.to_dict())


def _settings(key: str | None, profile: dict) -> dict:
    return {
        "features_key": key,
        **{k: v for k, v in profile.items() if k not in _NOT_TRAINING},
    }


def _stored_settings(run_dir: Path) -> dict | None:
    """The settings a run in ``run_dir`` was started with: its ``settings.json``, or, for a run
    finished before the course wrote one, what its ``run.json`` records; None for no run."""
    if (run_dir / SETTINGS_FILE).exists():
        return read_json(run_dir / SETTINGS_FILE)
    if (run_dir / "run.json").exists():
        meta = read_json(run_dir / "run.json")
        return _settings(meta.get("features_key"), meta.get("profile", {}))
    return None


def _clear_run(run_dir: Path) -> None:
    """Delete a run's checkpoints, backup and history (not its lock) to train afresh."""
    for path in run_dir.iterdir():
        if path.name.startswith("train.lock"):
            continue
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def load_trained(
    profile: config.Profile,
    data_dir: PathLike | None = None,
    *,
    dataset_name: str | None = None,
    model: str = "merge",
) -> Captioner:
    """Load a finished training run; a clear error says how to train it when it is missing."""
    run_dir = run_dir_for(
        profile, data_dir, dataset_name=dataset_name, model=model
    )
    done = run_dir / "run.json"
    if not done.exists():
        raise FileNotFoundError(
            f"{run_dir}: no finished training run; run `python -m course_lib train "
            f"--profile {profile.name}` or call course_lib.pipeline.train_captioner()"
        )
    meta = read_json(done)
    return Captioner(
        load_captioner(run_dir / "best.keras"),
        Vocabulary.load(run_dir / "vocab.json"),
        int(meta["row_length"]),
        run_dir,
        read_history(run_dir / "history.csv"),
        profile,
        meta.get("train_seconds"),
    )


def decode_captions(
    captioner: Captioner,
    features: np.ndarray,
    *,
    decoder: str = "beam",
    beam_width: int = 3,
    length_normalisation: float = 0.0,
):
    """Captions of image features, vectors (N, D) or region grids (N, L, C) for the attention
    model, by ``decoder`` (``"greedy"`` or ``"beam"``, whose candidates are ranked by
    log P / length ** ``length_normalisation``): a :class:`course_lib.decoding.Decoded`,
    with the attention model's weights, (words + 1, L) per image."""
    args = (captioner.model, features, captioner.vocab)
    max_tokens = captioner.row_length - 1
    if decoder == "greedy":
        return greedy_decode(*args, max_tokens=max_tokens)
    if decoder == "beam":
        return beam_search_decode(
            *args,
            max_tokens=max_tokens,
            beam_width=beam_width,
            length_normalisation=length_normalisation,
        )
    raise ValueError(f"unknown decoder {decoder!r}; choose 'greedy' or 'beam'")


def caption_log_probs(
    captioner: Captioner,
    features: np.ndarray,
    captions: list[list[str]],
    *,
    batch: int = 100,
) -> np.ndarray:
    """The model's log-probability (N,) of each caption of ``features`` (N, ...), ``<end>``
    included, ``batch`` images at a time (a softmax over the vocabulary at every position of
    every caption takes memory)."""
    if len(captions) != len(features):
        raise ValueError(
            f"{len(captions)} captions for {len(features)} images"
        )
    parts = [
        sequence_log_probs(
            captioner.model,
            features[k : k + batch],
            captioner.vocab,
            captions[k : k + batch],
        )
        for k in range(0, len(captions), batch)
    ]
    return np.concatenate(parts) if parts else np.zeros(0)


def step_seconds(
    model: keras.Model,
    learning_rate: float,
    *,
    steps: int = 5,
    batch: int = 32,
    length: int = 12,
) -> float:
    """Seconds of one training step of a caption ``model`` (compiled here) on random inputs,
    ``batch`` captions of ``length`` words: the fastest of ``steps``, the least disturbed by
    other work (the first step, which builds the graph, is not timed)."""
    compile_captioner(model, learning_rate)
    rng = np.random.default_rng(0)
    image_shape = tuple(model.input["image"].shape[1:])
    vocab_size = int(model.output.shape[-1])
    x = {
        "image": rng.random((batch, *image_shape), dtype=np.float32),
        "caption": rng.integers(1, vocab_size, (batch, length), dtype="int32"),
    }
    y = rng.integers(1, vocab_size, (batch, length), dtype="int32")
    model.train_on_batch(x, y)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    return min(times)


def grid_size(features) -> tuple[int, int]:
    """(H, W) of a grid store's square map of regions (L = H × W)."""
    n_regions = features.item_shape[0]
    side = round(n_regions**0.5)
    if side * side != n_regions:
        raise ValueError(f"{n_regions} regions do not make a square grid")
    return side, side


def references_for(
    dataset: CaptionDataset, image_ids: list[str]
) -> dict[str, list[list[str]]]:
    """Cleaned reference captions of ``image_ids`` (the same cleaning as the hypotheses)."""
    return {
        i: [clean_caption(c) for c in dataset.captions[i]] for i in image_ids
    }


def evaluate_captioner(
    profile: config.Profile,
    data_dir: PathLike | None = None,
    *,
    dataset_name: str | None = None,
    model: str = "merge",
    decoder: str = "beam",
    beam_width: int | None = None,
    split: str = "test",
    captioner: Captioner | None = None,
    dataset: CaptionDataset | None = None,
) -> dict:
    """BLEU-1..4, CIDEr-D (and scene accuracy on the synthetic set) of the trained model on
    ``split``, with the decoder settings that produced them; for the attention model on the
    synthetic set also ``attention_correctness`` (without its per-word details)."""
    attention = model == "attention"
    dataset = load_dataset_for(
        profile, data_dir, dataset_name, dataset=dataset, progress=False
    )
    features = prepare_features(
        profile, data_dir, dataset=dataset, progress=False, spatial=attention
    )
    captioner = captioner or train_captioner(
        profile,
        data_dir,
        dataset_name=dataset_name,
        model=model,
        dataset=dataset,
    )
    beam_width = beam_width or profile.beam_width
    ids = [i for i in dataset.splits[split] if i in features]
    decoded = decode_captions(
        captioner, features.matrix(ids), decoder=decoder, beam_width=beam_width
    )
    hyps = dict(zip(ids, decoded.captions, strict=True))
    report = evaluate_captions(
        references_for(dataset, ids),
        hyps,
        decoder=decoder,
        beam_width=beam_width if decoder == "beam" else None,
        scenes=dataset.scenes,
    )
    if attention and dataset.scenes is not None:
        weights = dict(zip(ids, decoded.attention, strict=True))
        result = attention_correctness(
            hyps, weights, dataset.scenes, grid_size(features)
        )
        result.pop("details")
        report["attention_correctness"] = result
    return report


def caption_images(
    profile: config.Profile,
    paths: list[PathLike],
    data_dir: PathLike | None = None,
    *,
    dataset_name: str | None = None,
    model: str = "merge",
    decoder: str = "beam",
    beam_width: int | None = None,
    dataset: CaptionDataset | None = None,
    attention_figure: PathLike | None = None,
) -> list[tuple[Path, str]]:
    """Caption image files with the profile's trained model and its backbone (the one that made
    its features; nothing is trained here): ``[(path, caption), …]`` (:func:`caption_files`).
    For the attention model, ``attention_figure`` saves a figure of where it looked at each
    word (:func:`course_lib.viz.plot_attention`): to that path for one image, else to
    ``<stem>-<k><suffix>`` for the k-th image.
    """
    _check_model(model)
    attention = model == "attention"
    if attention_figure is not None and not attention:
        raise ValueError(
            "attention_figure needs the attention model (model='attention')"
        )
    captioner = load_trained(
        profile, data_dir, dataset_name=dataset_name, model=model
    )
    if profile.backbone == "smallcnn":
        dataset = load_dataset_for(
            profile, data_dir, dataset_name, dataset=dataset
        )
    weights_file = backbone_weights(
        profile, data_dir, dataset=dataset, pretrain=False
    )
    backbone = build_backbone(
        profile.backbone,
        weights=profile.weights,
        image_size=profile.image_size,
        weights_file=weights_file,
        spatial=attention,
    )
    files = [Path(p) for p in paths]
    width = beam_width or profile.beam_width
    captions, decoded = caption_files(
        captioner, backbone, files, decoder=decoder, beam_width=width
    )
    if attention_figure is not None and decoded is not None:
        _save_attention_figures(
            Path(attention_figure), files, captions, decoded, backbone
        )
    return list(zip(files, captions, strict=True))


def caption_files(
    captioner: Captioner,
    backbone: keras.Model,
    paths: list[Path],
    *,
    decoder: str = "beam",
    beam_width: int = 3,
) -> tuple[list[str], Decoded | None]:
    """Each file's caption (``"[skipped: <file>: <why>]"``); how it decoded."""
    size = backbone.input_shape[1]  # read as the features were: load_image
    captions, readable = {}, {}
    for k, path in enumerate(paths):
        try:
            readable[k] = load_image(path, size)
        except ImageError as err:
            captions[k] = f"[skipped: {err}]"
    if not readable:
        return [captions[k] for k in range(len(paths))], None
    images = np.stack(list(readable.values())).astype(np.float32)
    features = np.asarray(backbone.predict(images, verbose=0))
    how: dict[str, Any] = {"decoder": decoder, "beam_width": beam_width}
    decoded = decode_captions(captioner, features, **how)
    words = [" ".join(caption) for caption in decoded.captions]
    captions.update(zip(readable, words, strict=True))
    return [captions[k] for k in range(len(paths))], decoded


def _save_attention_figures(
    target: Path,
    paths: list[Path],
    captions: list[str],
    decoded: Decoded,
    backbone,
) -> None:
    """One attention figure per captioned image (see :func:`caption_images`)."""
    side = math.isqrt(backbone.output_shape[1])
    read = [
        k for k, c in enumerate(captions) if not c.startswith("[skipped: ")
    ]
    size = backbone.input_shape[1]
    for k, words, weights in zip(
        read, decoded.captions, decoded.attention or [], strict=True
    ):
        name = f"{target.stem}-{k}{target.suffix}"
        path = target if len(read) == 1 else target.with_name(name)
        image = load_image(paths[k], size)
        fig = plot_attention(image, [*words, "<end>"], weights, (side, side))
        with atomic_path(path) as tmp:
            fig.savefig(tmp, bbox_inches="tight", dpi=fig.dpi)


def run_all(
    profile: config.Profile,
    data_dir: PathLike | None = None,
    *,
    beam_width: int | None = None,
    model: str = "merge",
    strategy: str = "default",
) -> dict:
    """Every stage from an empty data folder: data, features, training (on the devices of
    ``strategy``, see :func:`train_captioner`), evaluation.

    Returns BLEU-1..4, CIDEr-D, scene accuracy (and for the attention model attention
    correctness), the decoder settings, the model and each stage's time.
    """
    _check_model(model)
    timings: dict[str, float] = {}

    def timed(stage: str, func, *args, **kwargs):
        start = time.perf_counter()
        out = func(*args, **kwargs)
        timings[stage] = round(time.perf_counter() - start, 2)
        return out

    spatial = model == "attention"
    dataset = timed("data", load_dataset_for, profile, data_dir)
    timed(
        "features",
        prepare_features,
        profile,
        data_dir,
        dataset=dataset,
        spatial=spatial,
    )
    captioner = timed(
        "train",
        train_captioner,
        profile,
        data_dir,
        model=model,
        strategy=strategy,
    )
    common = {"captioner": captioner, "model": model}
    scores = timed(
        "evaluate", evaluate_captioner, profile, data_dir, decoder="beam",
        beam_width=beam_width or profile.beam_width, **common,
    )  # fmt: skip
    greedy = timed(
        "evaluate_greedy",
        evaluate_captioner,
        profile,
        data_dir,
        decoder="greedy",
        **common,
    )
    result = {
        "profile": profile.name,
        "dataset": profile.dataset,
        "backbone": profile.backbone,
        "model": model,
        **scores,
        "greedy": {
            k: v for k, v in greedy.items() if k.startswith(("bleu", "cider"))
        },
        "epochs": len(captioner.history.get("loss", [])),
        "timings_s": timings,
    }
    atomic_write_json(captioner.run_dir / "scores.json", result)
    return json.loads(json.dumps(result))
