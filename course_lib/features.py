"""Feature extraction and the feature store: every image is turned once into features.

The captioning models never see pixels: each image goes once through a CNN backbone
(:mod:`course_lib.backbones`) and its features are stored on disk. Two kinds:

- **vectors** (the merge and inject models): one (D,) vector per image, float32;
- **grids** (``spatial=True``, the attention model): the backbone's last convolutional map,
  one (L, C) array of L = H × W region vectors per image, stored as float16.

A store is a folder ``<features_dir>/<dataset>-<backbone>-<weights>-<size>[-grid]`` of fixed-size
**shards** (``shard-00000.npy``, one ``.json`` beside each naming its image ids) and a
``manifest.json`` written last, which lists the shards with their SHA-256 and holds the
settings that made them (dataset fingerprint, backbone, weights, image size, preprocessing,
image set). A store is only reused when its manifest matches the request; an interrupted
extraction resumes at the first missing shard; shards are read memory-mapped, so neither
extraction nor training holds a whole store in memory (Flickr8k's VGG16 grids are 1.6 GB
even in float16).

Extraction can be split across processes or machines: :func:`extract_feature_part` computes
part *i* of *n* (every *n*-th shard) into its own folder ``<store>.part-<i>-of-<n>``, whose
``part.json`` is written last; :func:`join_feature_parts` checks that the *n* parts were made
with the same settings and together hold every shard, then moves their shards into the store
and writes the manifest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
from tqdm import tqdm

from course_lib import __version__, config
from course_lib.backbones import (
    build_backbone,
    check_backbone,
    describe_preprocessing,
)
from course_lib.config import shown_path
from course_lib.data.images import (
    ImageError,
    image_batches,
    load_image,
    numpy_image_batches,
)
from course_lib.io import (
    atomic_path,
    atomic_write_json,
    file_lock,
    read_json,
    sha256_file,
)

logger = logging.getLogger(__name__)

#: Images per shard (the unit of writing, resuming and memory-mapping).
DEFAULT_SHARD_SIZE = 1024
MANIFEST = "manifest.json"
#: The record a finished part of a split extraction writes last.
PART_RECORD = "part.json"
_FORMAT = "course_lib.features"
_VERSION = 2

#: Metadata fields a store must match to be reused.
KEY_FIELDS = (
    "dataset",
    "dataset_fingerprint",
    "backbone",
    "weights",
    "weights_sha256",
    "image_size",
    "preprocessing",
    "spatial",
    "image_set",
)

REBUILD_HINT = "delete the folder to rebuild it (extract_features rebuilds it automatically)"


class FeatureCacheError(RuntimeError):
    """A feature store is corrupt, incomplete or was made with different settings."""


@dataclass(frozen=True)
class FeatureRequest:
    """One extraction: which images go through which backbone, and where their store goes.

    ``dataset``: a ``CaptionDataset`` (``name``, ``image_ids()``, ``fingerprint()``,
    ``image_path()``); ``backbone``: ``"smallcnn"`` or ``"vgg16"``
    (:func:`course_lib.backbones.build_backbone`) with ``weights`` (``"scenes"``,
    ``"imagenet"``, or None: random) read from ``weights_file``
    (:func:`course_lib.pipeline.backbone_weights`; needed for the small CNN's ``"scenes"``,
    whose SHA-256 is part of the store's key); ``spatial``: grids of region vectors (L, C)
    instead of one vector (D,) per image; ``image_ids``: only these images (default: every
    image of the dataset); ``data_dir``: the data folder whose ``features/`` holds the store;
    ``shard_size``: images per shard (the unit of writing and resuming).
    """

    dataset: Any
    backbone: str = "smallcnn"
    _: KW_ONLY
    weights: str | None
    image_size: int
    weights_file: str | os.PathLike | None = None
    spatial: bool = False
    image_ids: Sequence[str] | None = None
    data_dir: str | os.PathLike | None = None
    batch_size: int = 32
    shard_size: int = DEFAULT_SHARD_SIZE
    progress: bool = True

    def __post_init__(self) -> None:
        check_backbone(self.backbone)
        if self.shard_size < 1 or self.batch_size < 1:
            raise ValueError("batch_size and shard_size must be at least 1")

    def images(self) -> list[str]:
        """The image ids to extract, in order, each once."""
        if self.image_ids is None:
            return self.dataset.image_ids()
        return list(dict.fromkeys(self.image_ids))


# --------------------------------------------------------------------------------------
# The store in memory
# --------------------------------------------------------------------------------------


class FeatureStore:
    """Features by image id, held in one or more shards (arrays or memory maps).

    ``store[image_id]`` is one image's features, shape ``item_shape``: (D,) for vectors,
    (L, C) for grids; :meth:`matrix` gathers many, as float32.
    """

    def __init__(
        self,
        image_ids: Sequence[str],
        features: np.ndarray | Sequence[np.ndarray],
        metadata: dict | None = None,
    ) -> None:
        """``features``: one array (N, *item_shape) or a list of shards whose rows follow
        ``image_ids`` in order."""
        self.image_ids = [str(i) for i in image_ids]
        self.shards = (
            [features] if isinstance(features, np.ndarray) else list(features)
        )
        self.metadata = dict(metadata or {})
        rows = sum(len(s) for s in self.shards)
        shapes = {tuple(s.shape[1:]) for s in self.shards if len(s)}
        if rows != len(self.image_ids) or len(shapes) > 1 or not self.shards:
            raise ValueError(
                f"features of shapes {[s.shape for s in self.shards]} do not fit "
                f"{len(self.image_ids)} image ids"
            )
        self._where: dict[str, tuple[int, int]] = {}
        ids = iter(self.image_ids)
        for k, shard in enumerate(self.shards):
            for row in range(len(shard)):
                self._where[next(ids)] = (k, row)

    def __len__(self) -> int:
        return len(self.image_ids)

    def __contains__(self, image_id: object) -> bool:
        return image_id in self._where

    def __getitem__(self, image_id: str) -> np.ndarray:
        """The features of one image, shape ``item_shape``, float32."""
        try:
            shard, row = self._where[image_id]
        except KeyError:
            skipped = {
                s.get("image_id"): s.get("reason") for s in self.skipped
            }
            why = (
                f"it was skipped during extraction: {skipped[image_id]}"
                if image_id in skipped
                else "it was not part of the extracted image set"
            )
            raise KeyError(
                f"no features for image {image_id!r}: {why}"
            ) from None
        return np.asarray(self.shards[shard][row], dtype=np.float32)

    @property
    def item_shape(self) -> tuple[int, ...]:
        """Shape of one image's features: (D,) or (L, C)."""
        return tuple(int(n) for n in self.shards[0].shape[1:])

    @property
    def dim(self) -> int:
        """Length of one feature vector: D, or C for a grid's region vectors."""
        return self.item_shape[-1]

    @property
    def spatial(self) -> bool:
        """Whether the store holds grids of region vectors rather than one vector per image."""
        return len(self.item_shape) == 2

    @property
    def features(self) -> np.ndarray:
        """Every image's features in ``image_ids`` order: (N, *item_shape) float32 (read into
        memory; for large grid stores use :meth:`matrix` on batches instead)."""
        return np.concatenate(
            [np.asarray(s, dtype=np.float32) for s in self.shards]
        )

    @property
    def skipped(self) -> list[dict]:
        """Images left out of extraction, as ``{"image_id", "file", "reason"}`` dicts."""
        return list(self.metadata.get("skipped", []))

    def matrix(self, image_ids: Iterable[str]) -> np.ndarray:
        """The features of ``image_ids`` in that order: (n, *item_shape) float32."""
        ids = list(image_ids)
        out = np.empty((len(ids), *self.item_shape), dtype=np.float32)
        for n, image_id in enumerate(ids):
            out[n] = self[image_id]
        return out


# --------------------------------------------------------------------------------------
# The store on disk
# --------------------------------------------------------------------------------------


def feature_cache_path(request: FeatureRequest) -> Path:
    """The store's folder: ``<features_dir>/<dataset>-<backbone>-<weights>-<size>``, then
    ``-grid`` for grids and ``-subset-<hash>`` when only some images were asked for."""
    r = request
    stem = f"{r.dataset.name}-{r.backbone}-{r.weights}-{r.image_size}"
    if r.spatial:
        stem += "-grid"
    if r.image_ids is not None:
        stem += f"-subset-{_image_set_hash(r.images())[:10]}"
    return config.features_dir(r.data_dir) / stem


def _image_set_hash(image_ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(image_ids).encode("utf-8")).hexdigest()


def as_json(obj: Any) -> Any:
    """``obj`` as it reads back from JSON (tuples become lists), to compare records."""
    return json.loads(json.dumps(obj))


def shard_name(index: int) -> str:
    """The file name of shard ``index``: ``shard-00003.npy``."""
    return f"shard-{index:05d}.npy"


def write_shard(
    folder: Path,
    index: int,
    ids: Sequence[str],
    array: np.ndarray,
    meta: dict,
) -> None:
    """Write shard ``index``: the array (under a temporary name until it
    is complete), then its ``.json`` record: ids, settings, SHA-256."""
    path = folder / shard_name(index)
    with atomic_path(path) as tmp:
        np.save(tmp, array, allow_pickle=False)
    atomic_write_json(
        path.with_suffix(".json"),
        {
            **meta,
            "shard": index,
            "ids": list(ids),
            "sha256": sha256_file(path),
        },
    )


def open_shard(folder: Path, index: int) -> tuple[dict, np.ndarray]:
    """A shard's ``.json`` and its array, memory-mapped; FeatureCacheError when broken."""
    path = folder / shard_name(index)
    try:
        meta = read_json(path.with_suffix(".json"))
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise FeatureCacheError(
            f"{shown_path(path)}: cannot read the shard, it is missing, corrupt or "
            f"truncated ({type(err).__name__}: {err}); {REBUILD_HINT}"
        ) from err
    if not isinstance(meta, dict) or len(array) != len(meta.get("ids", [])):
        raise FeatureCacheError(
            f"{shown_path(path)}: its rows do not match its list of ids; {REBUILD_HINT}"
        )
    return meta, array


def reusable_shard(
    folder: Path, index: int, meta: dict
) -> tuple[list[str], np.ndarray] | None:
    """Shard ``index`` as (ids, array) if it was finished with the settings
    and planned images ``meta`` and its bytes match its SHA-256, else None."""
    path = folder / shard_name(index)
    if not path.with_suffix(".json").is_file():
        return None  # never finished: its record is written last
    try:
        found, array = open_shard(folder, index)
    except FeatureCacheError as err:
        logger.warning("recomputing a broken shard: %s", err)
        return None
    ids, digest = found.pop("ids"), found.pop("sha256", None)
    if found != as_json({**meta, "shard": index}):
        return None  # made with other settings, or for other images
    if sha256_or_none(path) != digest:
        logger.warning("recomputing shard %s: its SHA-256 changed", index)
        return None
    return ids, array


def save_feature_cache(
    path: str | os.PathLike,
    store: FeatureStore,
    *,
    shard_size: int = DEFAULT_SHARD_SIZE,
) -> Path:
    """Write ``store`` as a store folder at ``path`` (shards, then the manifest), replacing
    what is there only once the new folder is complete."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    ids = store.image_ids
    try:
        for k, begin in enumerate(range(0, max(len(ids), 1), shard_size)):
            part = ids[begin : begin + shard_size]
            write_shard(
                tmp, k, part, _stored(store.matrix(part), store.spatial), {}
            )
        n_shards = max(1, -(-len(ids) // shard_size))
        _write_manifest(
            tmp, store.metadata, shard_size, store.skipped, n_shards
        )
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = path.with_name(f".{path.name}.old-{os.getpid()}")
    if path.exists():
        path.rename(old)
    tmp.rename(path)
    shutil.rmtree(old, ignore_errors=True)
    return path


def _stored(array: np.ndarray, spatial: bool) -> np.ndarray:
    """Features as stored: float16 grids, float32 vectors."""
    return np.asarray(array, dtype=np.float16 if spatial else np.float32)


def _write_manifest(
    folder: Path, metadata: dict, shard_size: int, skipped, n_shards: int
):
    """Write ``manifest.json`` last: the settings, and each shard with its size and SHA-256."""
    shards, n_images = [], 0
    for k in range(n_shards):
        meta, array = open_shard(folder, k)
        shards.append(
            {"file": shard_name(k), "n": len(array), "sha256": meta["sha256"]}
        )
        n_images += len(array)
    manifest = {
        **{
            k: v for k, v in metadata.items() if k not in ("shards", "skipped")
        },
        "format": _FORMAT,
        "version": _VERSION,
        "shard_size": shard_size,
        "shards": shards,
        "n_images": n_images,
        "item_shape": list(array.shape[1:]),
        "dtype": str(array.dtype),
        "skipped": sorted(skipped, key=lambda s: s["image_id"]),
    }
    atomic_write_json(folder / MANIFEST, manifest)


def read_manifest(path: Path) -> dict:
    """The ``manifest.json`` of the store folder ``path``; FeatureCacheError when the
    store is unfinished (no manifest), or the manifest is corrupt or not a store's."""
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise FeatureCacheError(
            f"{shown_path(path)}: no complete feature store here (no {MANIFEST})"
        )
    try:
        manifest = read_json(manifest_path)
    except ValueError as err:
        raise FeatureCacheError(
            f"{shown_path(manifest_path)}: corrupt or truncated ({err}); {REBUILD_HINT}"
        ) from err
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        raise FeatureCacheError(
            f"{shown_path(manifest_path)}: not a course_lib feature store; {REBUILD_HINT}"
        )
    return manifest


def check_settings(path: Path, manifest: dict, expected: dict) -> None:
    """Refuse the store at ``path`` unless its manifest holds every
    setting of ``expected``; the error names the first field that differs."""
    for key, want in as_json(expected).items():
        found = manifest.get(key, "<missing>")
        if found != want:
            raise FeatureCacheError(
                f"{shown_path(path)}: field {key!r} does not match:"
                f" expected {want!r}, found {found!r}; the store was"
                " made with other settings; delete it (or call"
                " extract_features, which rebuilds it)"
            )


def open_shards(path: Path, manifest: dict) -> FeatureStore:
    """The store's shards, memory-mapped, each checked against the
    SHA-256 that the manifest lists for it."""
    ids: list[str] = []
    shards = []
    for k, entry in enumerate(manifest.get("shards", [])):
        shard = path / entry["file"]
        if sha256_or_none(shard) != entry["sha256"]:
            raise FeatureCacheError(
                f"{shown_path(shard)}: its SHA-256 differs from the"
                f" manifest's, it is corrupt or truncated; {REBUILD_HINT}"
            )
        meta, array = open_shard(path, k)
        ids += meta["ids"]
        shards.append(array)
    if len(ids) != manifest.get("n_images") or not shards:
        raise FeatureCacheError(
            f"{shown_path(path)}: the shards hold {len(ids)} images, the manifest "
            f"says {manifest.get('n_images')}; {REBUILD_HINT}"
        )
    return FeatureStore(ids, shards, manifest)


def load_feature_cache(
    path: str | os.PathLike, expected_metadata: dict | None = None
) -> FeatureStore:
    """Open a store folder, shards memory-mapped, or refuse it with a
    :class:`FeatureCacheError` naming the file and the problem.

    Refused: a missing or unreadable manifest or shard, a setting that
    differs from ``expected_metadata`` (:func:`check_settings`), a shard
    whose SHA-256 differs from the manifest's (:func:`open_shards`).
    """
    path = Path(path)
    manifest = read_manifest(path)
    check_settings(path, manifest, expected_metadata or {})
    return open_shards(path, manifest)


def sha256_or_none(path: Path) -> str | None:
    """The SHA-256 of the file at ``path``, or None when it cannot be read."""
    try:
        return sha256_file(path)
    except OSError:
        return None


# --------------------------------------------------------------------------------------
# Extraction
# --------------------------------------------------------------------------------------


def expected_metadata(request: FeatureRequest) -> dict:
    """The settings (:data:`KEY_FIELDS`) a store must match for ``request``.

    The small CNN's pretrained weights are the course's own, so their file's SHA-256 is part of
    the key (VGG16's ImageNet weights are Keras's, checked against the MD5 Keras pins)."""
    weights_sha = None
    if request.backbone == "smallcnn" and request.weights == "scenes":
        if request.weights_file is None:
            raise ValueError(
                "the small CNN's 'scenes' weights need their file: pass weights_file="
                "course_lib.pipeline.backbone_weights(profile), which pretrains it if missing"
            )
        weights_sha = sha256_file(request.weights_file)
    return {
        "dataset": request.dataset.name,
        "dataset_fingerprint": request.dataset.fingerprint(),
        "backbone": request.backbone,
        "weights": request.weights,
        "weights_sha256": weights_sha,
        "image_size": int(request.image_size),
        "preprocessing": describe_preprocessing(
            request.backbone, request.image_size, spatial=request.spatial
        ),
        "spatial": bool(request.spatial),
        "image_set": _image_set_hash(request.images()),
    }


def extract_features(request: FeatureRequest) -> FeatureStore:
    """The features of a request's images, computed once and stored: a
    :class:`FeatureStore` reading the shards memory-mapped. Images that cannot
    be read are skipped, listed in ``store.metadata["skipped"]`` and reported.
    """
    job = Extraction.for_request(request)
    path = job.folder
    path.mkdir(parents=True, exist_ok=True)
    with file_lock(path):
        if (path / MANIFEST).exists():
            try:
                return load_feature_cache(path, job.key)
            except FeatureCacheError as err:
                logger.warning("rebuilding the feature store: %s", err)
                (path / MANIFEST).unlink()
        job.run(request.progress)
        store = load_feature_cache(path, job.key)
    print_skipped(store)
    return store


def part_path(store: str | os.PathLike, part: tuple[int, int]) -> Path:
    """The folder of part ``(i, n)`` of a split extraction: ``<store>.part-<i>-of-<n>``."""
    store = Path(store)
    return store.with_name(f"{store.name}.part-{part[0]}-of-{part[1]}")


def _check_part(part: tuple[int, int]) -> None:
    i, n = part
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(
            f"part {i}/{n}: choose i in 0..n-1 for n parts (for example 0/2, 1/2)"
        )


def extract_feature_part(
    request: FeatureRequest, part: tuple[int, int]
) -> Path:
    """Compute part ``(i, n)`` of a split extraction: the shards k with k % n == i.

    The parts must share one request. The shards go to :func:`part_path` (resumed like a store:
    a finished shard is reused), then its ``part.json`` records the settings, the shards and
    the skipped images. Run each part in its own process or machine, gather the part folders
    beside the store and call :func:`join_feature_parts`. Returns the part's folder.
    """
    _check_part(part)
    job = Extraction.for_request(request, part=part)
    job.folder.mkdir(parents=True, exist_ok=True)
    with file_lock(job.folder):
        (job.folder / PART_RECORD).unlink(missing_ok=True)
        job.run(request.progress)
    return job.folder


def join_feature_parts(request: FeatureRequest, parts: int) -> FeatureStore:
    """Join the ``parts`` parts of a split extraction into the store and open it.

    Raises :class:`FeatureCacheError`, before anything is moved, when a part is missing or
    unfinished (no ``part.json``), when a part was made with other settings (naming the part,
    the field, the expected and the found value), or when the parts do not hold every shard.
    The joined store is the one :func:`extract_features` would have written; the part folders
    are removed once it is complete.
    """
    _check_part((0, parts))
    job = Extraction.for_request(request)
    folders = [part_path(job.folder, (i, parts)) for i in range(parts)]
    records = [
        job.check_part_record(folder, (i, parts))
        for i, folder in enumerate(folders)
    ]
    held = sorted(k for record in records for k in record["shards"])
    if held != list(range(len(job.plans()))):
        missing = sorted(set(range(len(job.plans()))) - set(held))
        raise FeatureCacheError(
            f"{shown_path(job.folder)}: the {parts} parts do not hold every shard "
            f"(missing: {missing}); were they all made with the same number of parts?"
        )
    job.folder.mkdir(parents=True, exist_ok=True)
    with file_lock(job.folder):
        (job.folder / MANIFEST).unlink(missing_ok=True)
        for folder, record in zip(folders, records, strict=True):
            job.known_skipped.update(
                {s["image_id"]: s for s in record["skipped"]}
            )
            for k in record["shards"]:
                for name in (
                    shard_name(k),
                    Path(shard_name(k)).with_suffix(".json").name,
                ):
                    shutil.move(folder / name, job.folder / name)
        job.run(request.progress)
        store = load_feature_cache(job.folder, job.key)
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    print_skipped(store)
    return store


@dataclass
class Extraction:
    """One extraction: its request, its settings (the store's key) and the folder its shards
    go to."""

    request: FeatureRequest
    image_ids: list[str]
    key: dict
    folder: Path
    #: ``(i, n)``: compute only the shards k with k % n == i, and write ``part.json``.
    part: tuple[int, int] | None = None
    skipped: list[dict] = field(default_factory=list)
    #: Skipped images already recorded by the parts of a split extraction, by image id.
    known_skipped: dict[str, dict] = field(default_factory=dict)
    _model: Any = None

    @classmethod
    def for_request(
        cls, request: FeatureRequest, part: tuple[int, int] | None = None
    ) -> Extraction:
        """The extraction of ``request`` (or of its part ``part``)."""
        path = feature_cache_path(request)
        folder = path if part is None else part_path(path, part)
        return cls(
            request, request.images(), expected_metadata(request), folder, part
        )

    def plans(self) -> list[list[str]]:
        """The image ids of each shard, in order."""
        ids, size = self.image_ids, self.request.shard_size
        return [ids[i : i + size] for i in range(0, len(ids), size)] or [[]]

    def run(self, progress: bool) -> None:
        """Compute (or reuse) every shard of this extraction (or of its part),
        delete stale ones, then write the manifest (or the part's record)."""
        plans = self.plans()
        mine = [k for k in range(len(plans)) if self._is_mine(k)]
        start, n_computed = time.perf_counter(), 0
        total = sum(len(plans[k]) for k in mine)
        with self._progress_bar(total, progress) as bar:
            for index in mine:
                planned = plans[index]
                meta = self._shard_meta(planned)
                done = reusable_shard(self.folder, index, meta)
                if done is None:
                    done = self._compute_shard(index, planned, meta, bar)
                    n_computed += len(planned)
                else:
                    bar.update(len(planned))
                self._note_skipped(planned, done[0])
        self._remove_stale(mine)
        seconds = time.perf_counter() - start
        self._write_record(len(plans), mine, seconds, n_computed)

    def _is_mine(self, shard: int) -> bool:
        """Whether this extraction (or its part) computes shard number ``shard``."""
        return self.part is None or shard % self.part[1] == self.part[0]

    def _progress_bar(self, total: int, progress: bool) -> tqdm:
        label = f"{self.key['backbone']} {'grids' if self.key['spatial'] else 'features'}"
        return tqdm(total=total, desc=label, unit="img", disable=not progress)

    def _remove_stale(self, mine: list[int]) -> None:
        """Delete the shards in the folder that are not this extraction's."""
        for stale in self.folder.glob("shard-*"):
            if int(stale.name[6:11]) not in mine:
                stale.unlink()

    def _part_fields(self, part: tuple[int, int], n_shards: int) -> dict:
        """What a part's record holds besides its shards: the key, the part, the sharding."""
        return {
            **as_json(self.key),
            "part": part[0],
            "parts": part[1],
            "shard_size": self.request.shard_size,
            "n_shards": n_shards,
        }

    def _write_record(
        self, n_shards: int, mine: list[int], seconds: float, computed: int
    ):
        """The part's ``part.json``, or for a whole extraction the store's manifest."""
        if self.part is not None:
            record = {
                **self._part_fields(self.part, n_shards),
                "format": f"{_FORMAT}.part",
                "shards": mine,
                "skipped": self.skipped,
            }
            atomic_write_json(self.folder / PART_RECORD, record)
            return
        metadata = {
            **self.key,
            "course_lib_version": __version__,
            "extraction_seconds": round(seconds, 3),
            "images_computed": computed,
        }
        shard_size = self.request.shard_size
        _write_manifest(
            self.folder, metadata, shard_size, self.skipped, n_shards
        )

    def check_part_record(self, folder: Path, part: tuple[int, int]) -> dict:
        """The ``part.json`` of part ``part`` in ``folder``, checked against this request."""
        record_path = folder / PART_RECORD
        if not record_path.is_file():
            raise FeatureCacheError(
                f"{shown_path(folder)}: part {part[0]} of {part[1]} is missing or unfinished (no "
                f"{PART_RECORD}); run `python -m course_lib features --shard {part[0]}/{part[1]}` "
                "with the same settings (here or on another machine, then copy its folder here)"
            )
        try:
            record = read_json(record_path)
        except ValueError as err:
            raise FeatureCacheError(
                f"{shown_path(record_path)}: corrupt or truncated ({err})"
            ) from err
        for name, value in self._part_fields(part, len(self.plans())).items():
            found = (
                record.get(name, "<missing>")
                if isinstance(record, dict)
                else "<missing>"
            )
            if found != value:
                raise FeatureCacheError(
                    f"{shown_path(record_path)}: field {name!r} does not match: "
                    f"expected {value!r}, found {found!r}; the parts were made with other "
                    "settings: extract this part again with the same settings as the others"
                )
        return record

    def _shard_meta(self, planned: list[str]) -> dict:
        shard_size = self.request.shard_size
        return {
            **self.key,
            "shard_size": shard_size,
            "planned": _image_set_hash(planned),
        }

    def _backbone(self):
        if self._model is None:
            r = self.request
            self._model = build_backbone(
                r.backbone,
                weights=r.weights,
                image_size=r.image_size,
                weights_file=r.weights_file,
                spatial=r.spatial,
            )
        return self._model

    def _compute_shard(self, index: int, planned: list[str], meta: dict, bar):
        """Run the backbone over one shard's readable images and write the shard."""
        paths = [self.request.dataset.image_path(i) for i in planned]
        ids: list[str] = []
        rows: list[np.ndarray] = []
        seen = 0
        tf_data = keras.backend.backend() == "tensorflow"
        batches = (image_batches if tf_data else numpy_image_batches)(
            paths, self.key["image_size"], self.request.batch_size
        )
        for indices, images in batches:
            idx = np.asarray(indices)
            ids.extend(planned[i] for i in idx)
            rows.append(
                _stored(
                    _predict(self._backbone(), images), self.key["spatial"]
                )
            )
            bar.update(int(idx[-1]) + 1 - seen)  # skipped images count too
            seen = int(idx[-1]) + 1
        bar.update(len(planned) - seen)
        if rows:
            array = np.concatenate(rows)
        else:
            shape = self._backbone().output_shape[1:]
            array = np.zeros(
                (0, *shape),
                dtype=np.float16 if self.key["spatial"] else np.float32,
            )
        write_shard(self.folder, index, ids, array, meta)
        return ids, array

    def _note_skipped(self, planned: list[str], got: list[str]) -> None:
        """Record the images of ``planned`` that are not in ``got``, with the reason that
        :func:`course_lib.data.images.load_image` gives."""
        kept = set(got)
        for image_id in planned:
            if image_id in kept:
                continue
            if image_id in self.known_skipped:
                self.skipped.append(self.known_skipped[image_id])
                continue
            path = self.request.dataset.image_path(image_id)
            try:
                load_image(path, self.key["image_size"])
                reason = "could not be read during extraction"
            except ImageError as err:
                reason = err.reason
            self.skipped.append(
                {"image_id": image_id, "file": str(path), "reason": reason}
            )


def _predict(model, images) -> np.ndarray:
    """The backbone's features of one batch of images: (B, *item_shape) float32."""
    return np.asarray(model.predict_on_batch(images), dtype=np.float32)


def print_skipped(store: FeatureStore) -> None:
    """Print the images a store left out, with the reason for each."""
    skipped = store.skipped
    if not skipped:
        return
    lines = [f"Skipped {len(skipped)} image(s) that could not be read:"]
    lines += [f"  {s['image_id']}: {s['reason']}" for s in skipped[:20]]
    if len(skipped) > 20:
        lines.append(
            f"  ... and {len(skipped) - 20} more (see store.metadata['skipped'])"
        )
    print("\n".join(lines))
