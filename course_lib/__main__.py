"""The command line: ``python -m course_lib {data,info,features,train,evaluate,caption,run}``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from course_lib import config, pipeline
from course_lib.data import prepare_dataset
from course_lib.data.download import DataError
from course_lib.distribute import STRATEGIES


def _add_data_args(
    parser: argparse.ArgumentParser, *, dataset_required: bool = False
) -> None:
    parser.add_argument(
        "--dataset",
        choices=config.DATASETS,
        required=dataset_required,
        help="dataset to use (default: the profile's)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"data folder (default: ${config.DATA_DIR_ENV} or the course default)",
    )


def _add_profile_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        choices=sorted(config.PROFILES),
        default=None,
        help=f"profile (default: ${config.PROFILE_ENV}, else full on a GPU and mini elsewhere)",
    )


def _add_model_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        choices=config.MODELS,
        default="merge",
        help="merge (the seed's), inject, or attention (reads region grids; chapter 8)",
    )


def _add_strategy_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="default",
        help="devices that train: default (one), mirrored (every GPU), tpu (a TPU)",
    )


def _add_vgg16_weights_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--vgg16-weights",
        type=Path,
        default=None,
        metavar="PATH",
        help=(
            "full profile: a local copy of VGG16's ImageNet weights "
            "(vgg16_weights_tf_dim_ordering_tf_kernels.h5) instead of downloading them "
            f"(default: ${config.VGG16_WEIGHTS_ENV})"
        ),
    )


def _cmd_data(args: argparse.Namespace) -> int:
    kwargs: dict = {}
    if args.dataset == "synthetic":
        kwargs["layout"] = args.layout
        if args.n_images is None:
            kwargs.update(pipeline.synthetic_sizes(config.get_profile("mini")))
        else:
            kwargs["n_images"] = args.n_images
    if args.dataset == "flickr8k" and args.text_only:
        kwargs["images"] = False
    if args.dataset in ("flickr30k", "coco"):
        kwargs["urls"] = _pairs(args.url, "--url")
        kwargs["sha256"] = _pairs(args.sha256, "--sha256")
    dataset = prepare_dataset(args.dataset, args.data_dir, **kwargs)
    summary = dataset.summary()
    print(
        f"{args.dataset} ready in {dataset.root}: {summary['n_images']} images, "
        f"{summary['n_captions']} captions"
    )
    return 0


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    """``["split=URL", …]`` → ``{"split": "URL", …}``; ValueError naming the option."""
    pairs = {}
    for value in values or []:
        kind, sep, rest = value.partition("=")
        if not sep or not kind or not rest:
            raise ValueError(
                f"{option} {value!r}: expected KIND=VALUE, e.g. split=https://…"
            )
        pairs[kind] = rest
    return pairs


def _cmd_info(args: argparse.Namespace) -> int:
    info = pipeline.dataset_info(args.dataset, args.data_dir)
    if args.json:
        print(json.dumps(info, sort_keys=True))
        return 0
    print(f"Dataset {info['name']} in {info['root']}")
    print(
        f"  images with captions: {info['n_images']}   captions: {info['n_captions']}"
    )
    print(
        "  splits: " + ", ".join(f"{k} {v}" for k, v in info["splits"].items())
    )
    if not info["images_present"]:
        print(
            f"  images: MISSING (no {info['image_dir']}) — "
            f"run `python -m course_lib data --dataset {info['name']}`"
        )
    elif info["n_missing_images"]:
        print(
            f"  images: {info['n_missing_images']} named in the token file have no file"
        )
    print(
        f"  training vocabulary: {info['vocab_size']} ids ({info['vocab_words']} words + "
        f"4 reserved); longest training caption: {info['row_length']} ids with start and end"
    )
    print(f"  skipped entries: {len(info['skipped'])}")
    for entry in info["skipped"][:20]:
        where = (
            f"{entry['file']}:{entry['line']}"
            if entry.get("line")
            else entry["file"]
        )
        print(f"    {where}: {entry['entry']!r} — {entry['reason']}")
    return 0


def _cmd_features(args: argparse.Namespace) -> int:
    profile = config.get_profile(args.profile)
    where = {"dataset_name": args.dataset, "spatial": args.grids}
    if args.shard is not None:
        folder = pipeline.prepare_feature_part(
            profile, args.data_dir, part=args.shard, **where
        )
        print(
            f"features: part {args.shard[0]}/{args.shard[1]} written to {folder}"
        )
        return 0
    if args.join is not None:
        store = pipeline.join_prepared_parts(
            profile, args.data_dir, parts=args.join, **where
        )
    else:
        store = pipeline.prepare_features(profile, args.data_dir, **where)
    shape = " × ".join(map(str, store.item_shape))
    print(f"features: {len(store)} images × {shape} from {profile.backbone}")
    return 0


def _part(text: str) -> tuple[int, int]:
    """``"i/n"`` as ``(i, n)``, for ``--shard``."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected I/N such as 0/2, got {text!r}"
        ) from None
    if not (n >= 1 and 0 <= i < n):
        raise argparse.ArgumentTypeError(f"{text}: I must be in 0..N-1")
    return i, n


def _cmd_train(args: argparse.Namespace) -> int:
    profile = config.get_profile(args.profile, **_overrides(args))
    result = pipeline.train_captioner(
        profile,
        args.data_dir,
        dataset_name=args.dataset,
        model=args.model,
        strategy=args.strategy,
    )
    print(
        json.dumps(
            {
                "run_dir": str(result.run_dir),
                "epochs": len(result.history["loss"]),
            }
        )
    )
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    profile = config.get_profile(args.profile, **_overrides(args))
    scores = pipeline.evaluate_captioner(
        profile,
        args.data_dir,
        dataset_name=args.dataset,
        model=args.model,
        decoder=args.decoder,
        beam_width=args.beam_width,
        split=args.split,
    )
    print(json.dumps(scores, sort_keys=True))
    return 0


def _cmd_caption(args: argparse.Namespace) -> int:
    profile = config.get_profile(args.profile)
    results = pipeline.caption_images(
        profile,
        args.images,
        args.data_dir,
        dataset_name=args.dataset,
        model=args.model,
        decoder=args.decoder,
        beam_width=args.beam_width,
        attention_figure=args.attention_figure,
    )
    for path, caption in results:
        print(f"{path}\t{caption}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    profile = config.get_profile(args.profile, **_overrides(args))
    result = pipeline.run_all(
        profile,
        args.data_dir,
        beam_width=args.beam_width,
        model=args.model,
        strategy=args.strategy,
    )
    print(json.dumps(result, sort_keys=True))
    return 0


def _overrides(args: argparse.Namespace) -> dict:
    return {
        k: v
        for k in ("epochs", "seed")
        if (v := getattr(args, k, None)) is not None
    }


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m course_lib``."""
    parser = argparse.ArgumentParser(
        prog="python -m course_lib",
        description="Image captioning with CNNs and LSTMs: the course's pipeline.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_data_command(sub)
    _add_info_command(sub)
    _add_features_command(sub)
    for name, func, help_text in (
        (
            "train",
            _cmd_train,
            "train the captioning model (resumes an interrupted run)",
        ),
        (
            "evaluate",
            _cmd_evaluate,
            "BLEU-1..4, CIDEr-D and scene accuracy on a split",
        ),
        ("caption", _cmd_caption, "caption image files with a trained model"),
    ):
        _add_model_command(sub, name, func, help_text)
    _add_run_command(sub)
    return parser


Subparsers = argparse._SubParsersAction  # what add_subparsers returns


def _add_data_command(sub: Subparsers) -> None:
    p = sub.add_parser(
        "data",
        help="download (flickr8k, or flickr30k/coco from mirrors) or generate a dataset",
    )
    _add_data_args(p, dataset_required=True)
    p.add_argument(
        "--n-images",
        type=int,
        default=None,
        help="synthetic: number of images",
    )
    p.add_argument(
        "--layout",
        choices=("flickr8k", "karpathy"),
        default="flickr8k",
        help="synthetic: Flickr8k's files, or Karpathy's split format (dataset_*.json)",
    )
    p.add_argument(
        "--text-only",
        action="store_true",
        help="flickr8k: only the caption files",
    )
    p.add_argument(
        "--url",
        action="append",
        metavar="KIND=URL",
        help="flickr30k/coco: a mirror to download from (KIND: split, images, …; repeatable)",
    )
    p.add_argument(
        "--sha256",
        action="append",
        metavar="KIND=HEX",
        help="flickr30k/coco: the SHA-256 the file from --url KIND must have",
    )
    p.set_defaults(func=_cmd_data)


def _add_info_command(sub: Subparsers) -> None:
    p = sub.add_parser("info", help="summarise a dataset on disk")
    _add_data_args(p, dataset_required=True)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_info)


def _add_features_command(sub: Subparsers) -> None:
    p = sub.add_parser("features", help="extract and cache backbone features")
    _add_profile_arg(p)
    _add_data_args(p)
    _add_vgg16_weights_arg(p)
    p.add_argument(
        "--grids",
        action="store_true",
        help="region grids (the attention model's features)",
    )
    split = p.add_mutually_exclusive_group()
    split.add_argument(
        "--shard",
        type=_part,
        metavar="I/N",
        help="compute only part I of N of the store (parts run in parallel; then --join N)",
    )
    split.add_argument(
        "--join",
        type=int,
        metavar="N",
        help="join the N parts made with --shard I/N",
    )
    p.set_defaults(func=_cmd_features)


def _add_model_command(
    sub: Subparsers, name: str, func, help_text: str
) -> None:
    """``train``, ``evaluate`` or ``caption``: a profile, data, a model and its settings."""
    p = sub.add_parser(name, help=help_text)
    _add_profile_arg(p)
    _add_data_args(p)
    _add_vgg16_weights_arg(p)
    _add_model_arg(p)
    if name == "caption":
        p.add_argument("images", nargs="+", type=Path, help="image files")
        p.add_argument(
            "--attention-figure",
            type=Path,
            default=None,
            metavar="PNG",
            help="attention model: save where it looked at each word (one file per image)",
        )
    if name == "train":
        _add_strategy_arg(p)
    else:
        p.add_argument("--decoder", choices=("greedy", "beam"), default="beam")
        p.add_argument("--beam-width", type=int, default=None)
    if name == "evaluate":
        p.add_argument("--split", choices=("dev", "test"), default="test")
    if name != "caption":
        p.add_argument("--epochs", type=int, default=None)
        p.add_argument("--seed", type=int, default=None)
    p.set_defaults(func=func)


def _add_run_command(sub: Subparsers) -> None:
    p = sub.add_parser(
        "run", help="the whole pipeline: data, features, train, evaluate"
    )
    _add_profile_arg(p)
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--beam-width", type=int, default=None)
    _add_model_arg(p)
    _add_strategy_arg(p)
    _add_vgg16_weights_arg(p)
    p.set_defaults(func=_cmd_run)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status. Errors print one line, not a traceback."""
    args = build_parser().parse_args(argv)
    if getattr(args, "vgg16_weights", None) is not None:
        os.environ[config.VGG16_WEIGHTS_ENV] = str(args.vgg16_weights)
    if (
        getattr(args, "seed", None) is not None
    ):  # the small CNN's pretraining reads it too
        os.environ[config.SEED_ENV] = str(args.seed)
    try:
        return args.func(args)
    except (DataError, ValueError, RuntimeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
