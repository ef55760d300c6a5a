"""The command line: ``python -m course_lib {data,info,features,train,evaluate,caption,run}``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from course_lib import config


def _add_data_args(parser: argparse.ArgumentParser, *, dataset_required: bool = False) -> None:
    parser.add_argument(
        "--dataset",
        choices=("synthetic", "flickr8k"),
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


def _cmd_data(args: argparse.Namespace) -> int:
    from course_lib.data import prepare_dataset

    kwargs = {}
    if args.dataset == "synthetic" and args.n_images is not None:
        kwargs["n_images"] = args.n_images
    if args.dataset == "flickr8k" and args.text_only:
        kwargs["images"] = False
    dataset = prepare_dataset(args.dataset, args.data_dir, **kwargs)
    summary = dataset.summary()
    print(
        f"{args.dataset} ready in {dataset.root}: {summary['n_images']} images, "
        f"{summary['n_captions']} captions"
    )
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from course_lib.pipeline import dataset_info

    info = dataset_info(args.dataset, args.data_dir)
    if args.json:
        print(json.dumps(info, sort_keys=True))
        return 0
    print(f"Dataset {info['name']} in {info['root']}")
    print(f"  images with captions: {info['n_images']}   captions: {info['n_captions']}")
    print("  splits: " + ", ".join(f"{k} {v}" for k, v in info["splits"].items()))
    if not info["images_present"]:
        print(
            f"  images: MISSING (no {info['image_dir']}) — "
            f"run `python -m course_lib data --dataset {info['name']}`"
        )
    elif info["n_missing_images"]:
        print(f"  images: {info['n_missing_images']} named in the token file have no file")
    print(
        f"  training vocabulary: {info['vocab_size']} ids ({info['vocab_words']} words + "
        f"4 reserved); longest training caption: {info['max_length']} tokens with start and end"
    )
    print(f"  skipped entries: {len(info['skipped'])}")
    for entry in info["skipped"][:20]:
        where = f"{entry['file']}:{entry['line']}" if entry.get("line") else entry["file"]
        print(f"    {where}: {entry['entry']!r} — {entry['reason']}")
    return 0


def _cmd_features(args: argparse.Namespace) -> int:
    from course_lib.pipeline import prepare_features

    profile = config.get_profile(args.profile)
    store = prepare_features(profile, args.data_dir, dataset_name=args.dataset)
    print(f"features: {len(store)} images × {store.dim} from {profile.backbone}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from course_lib.pipeline import train_captioner

    profile = config.get_profile(args.profile, **_overrides(args))
    result = train_captioner(profile, args.data_dir, dataset_name=args.dataset, model=args.model)
    print(json.dumps({"run_dir": str(result.run_dir), "epochs": len(result.history["loss"])}))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from course_lib.pipeline import evaluate_captioner

    profile = config.get_profile(args.profile, **_overrides(args))
    scores = evaluate_captioner(
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
    from course_lib.pipeline import caption_images

    profile = config.get_profile(args.profile)
    results = caption_images(
        profile,
        args.images,
        args.data_dir,
        dataset_name=args.dataset,
        model=args.model,
        decoder=args.decoder,
        beam_width=args.beam_width,
    )
    for path, caption in results:
        print(f"{path}\t{caption}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from course_lib.pipeline import run_all

    profile = config.get_profile(args.profile, **_overrides(args))
    result = run_all(profile, args.data_dir, beam_width=args.beam_width)
    print(json.dumps(result, sort_keys=True))
    return 0


def _overrides(args: argparse.Namespace) -> dict:
    return {k: v for k in ("epochs", "seed") if (v := getattr(args, k, None)) is not None}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m course_lib``."""
    parser = argparse.ArgumentParser(
        prog="python -m course_lib",
        description="Image captioning with CNNs and LSTMs: the course's pipeline.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="download (flickr8k) or generate (synthetic) a dataset")
    _add_data_args(p, dataset_required=True)
    p.add_argument("--n-images", type=int, default=None, help="synthetic: number of images")
    p.add_argument("--text-only", action="store_true", help="flickr8k: only the caption files")
    p.set_defaults(func=_cmd_data)

    p = sub.add_parser("info", help="summarise a dataset on disk")
    _add_data_args(p, dataset_required=True)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("features", help="extract and cache backbone features")
    _add_profile_arg(p)
    _add_data_args(p)
    p.set_defaults(func=_cmd_features)

    for name, func, help_text in (
        ("train", _cmd_train, "train the captioning model (resumes an interrupted run)"),
        ("evaluate", _cmd_evaluate, "BLEU-1..4, CIDEr-D and scene accuracy on a split"),
        ("caption", _cmd_caption, "caption image files with a trained model"),
    ):
        p = sub.add_parser(name, help=help_text)
        _add_profile_arg(p)
        _add_data_args(p)
        p.add_argument("--model", choices=("merge", "inject"), default="merge")
        if name == "caption":
            p.add_argument("images", nargs="+", type=Path, help="image files")
        if name != "train":
            p.add_argument("--decoder", choices=("greedy", "beam"), default="beam")
            p.add_argument("--beam-width", type=int, default=None)
        if name == "evaluate":
            p.add_argument("--split", choices=("dev", "test"), default="test")
        if name != "caption":
            p.add_argument("--epochs", type=int, default=None)
            p.add_argument("--seed", type=int, default=None)
        p.set_defaults(func=func)

    p = sub.add_parser("run", help="the whole pipeline: data, features, train, evaluate")
    _add_profile_arg(p)
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--beam-width", type=int, default=None)
    p.set_defaults(func=_cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status. Errors print one line, not a traceback."""
    from course_lib.data.download import DataError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DataError, ValueError, RuntimeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
