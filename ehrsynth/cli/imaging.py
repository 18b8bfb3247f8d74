"""`ehrsynth imaging fit | sample | evaluate`: class-conditional synthetic images (stdlib-only at import)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ehrsynth.cli._common import positive_int, report_privacy
from ehrsynth.cli._ux import stage


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "imaging",
        help="class-conditional synthetic images: fit, sample, evaluate",
        description="Class-conditional synthetic images with a DP GAN: fit, sample and evaluate.",
    )
    cmds = p.add_subparsers(dest="imaging_command", metavar="COMMAND", parser_class=type(p))
    p.set_defaults(handler=lambda args: _usage(p))

    f = cmds.add_parser(
        "fit",
        help="fit an image GAN on DATA (.npz or class folders) and save MODEL_DIR",
        description="Fit a class-conditional image GAN (DP by default) on DATA and save MODEL_DIR.",
    )
    f.add_argument(
        "data", metavar="DATA", help="MedMNIST-style .npz (train_images/train_labels) or ROOT/<class>/"
    )
    f.add_argument("-o", "--output", required=True, metavar="MODEL_DIR", help="model directory to write")
    f.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        help="passes over the data (default: 40 without DP, 20 under DP)",
    )
    dp = f.add_mutually_exclusive_group()
    dp.add_argument("--epsilon", type=float, default=10.0, help="privacy budget ε (default 10)")
    dp.add_argument("--no-dp", action="store_true", help="train WITHOUT differential privacy (no guarantee)")
    f.add_argument("--delta", type=float, default=None, help="δ (default: min(1e-5, 1/(10 n)))")
    f.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto)")
    f.add_argument(
        "--image-size",
        type=positive_int,
        default=None,
        help="model size: 28, 32, 56, 64, 112 or 128 (default: nearest to the data); folder images of other "
        "or mixed sizes are centre-cropped and resized to it",
    )
    f.add_argument("--batch-size", type=positive_int, default=None, help="(expected) batch size")
    f.add_argument("--seed", type=int, default=None, help="random seed (reproducible runs)")
    f.add_argument("--checkpoint-dir", metavar="DIR", help="save checkpoints here and resume from them")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(handler=run_fit)

    s = cmds.add_parser(
        "sample",
        help="sample synthetic images from MODEL_DIR into OUT.npz or OUT_DIR/",
        description="Sample synthetic images from MODEL_DIR into OUT.npz or OUT_DIR/ (spends no budget).",
    )
    s.add_argument("model_dir", metavar="MODEL_DIR", help="model directory written by `imaging fit`")
    s.add_argument("-n", "--images", type=positive_int, required=True, help="number of images")
    s.add_argument("--label", default=None, help="only this class (default: every class equally often)")
    s.add_argument(
        "-o",
        "--output",
        required=True,
        help="OUT.npz (images in the data's layout, uint8; labels) or OUT_DIR/",
    )
    s.add_argument(
        "--seed", type=int, default=None, help="random seed for reproducible images (default: none)"
    )
    s.add_argument("--device", default="cpu", help="auto | cpu | cuda (default cpu)")
    s.set_defaults(handler=run_sample)

    e = cmds.add_parser(
        "evaluate",
        help="TSTR/TRTR AUC, Fréchet distance and memorisation check",
        description="Evaluate synthetic images against real ones: TSTR/TRTR AUC, Fréchet distance, memorisation.",
    )
    e.add_argument(
        "--real", required=True, metavar="DATA", help=".npz with train_* and test_*, or ROOT/{train,test}/"
    )
    e.add_argument("--synthetic", required=True, metavar="OUT.npz", help="synthetic images (.npz or folder)")
    e.add_argument("--json", metavar="OUT", help="write the results as JSON")
    e.add_argument("--html", metavar="OUT", help="write a self-contained HTML report with sample grids")
    e.add_argument("--epochs", type=positive_int, default=10, help="classifier epochs (default 10)")
    e.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    e.add_argument("--device", default="cpu", help="auto | cpu | cuda (default cpu)")
    e.set_defaults(handler=run_evaluate)


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help(sys.stderr)
    return 2


def run_fit(args: argparse.Namespace) -> int:
    import warnings

    from ehrsynth.estimator import NoPrivacyWarning
    from ehrsynth.imaging import ImageGAN, load_images

    if args.no_dp:
        print(
            "ehrsynth: WARNING: --no-dp: training WITHOUT differential privacy. No privacy guarantee holds for "
            "the model or its images; do not share them as de-identified data.",
            file=sys.stderr,
        )
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        from ehrsynth.errors import ModelDirError

        raise ModelDirError(f"{str(out)!r} exists and is not a directory")
    stage(args, f"reading images from {args.data}")
    data = load_images(args.data, "train", image_size=args.image_size)
    stage(args, "fitting the image GAN" + ("" if args.no_dp else " under DP"))
    progress = None
    if not args.quiet:
        from ehrsynth.training.progress import TqdmProgress

        progress = TqdmProgress()
    model = ImageGAN(
        epsilon=None if args.no_dp else args.epsilon,
        delta=args.delta,
        image_size=args.image_size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        device=args.device,
        random_state=args.seed,
        checkpoint_dir=args.checkpoint_dir,
        progress=progress,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoPrivacyWarning)  # the CLI already said it, louder
        model.fit(data.images, data.labels)
    seconds = time.perf_counter() - start
    model.save(str(out))
    seen = model.schedule_["iterations"] * model.schedule_["batch_size"] * model.schedule_["d_steps"]
    print(
        f"ehrsynth: fitted on {len(data)} images, classes {model.classes_.tolist()}, in {seconds:.1f} s "
        f"(~{seen / max(seconds, 1e-9):.0f} real images/s); model written to {out}",
        file=sys.stderr,
    )
    report_privacy(model)
    return 0


def run_sample(args: argparse.Namespace) -> int:
    from ehrsynth.imaging import load
    from ehrsynth.imaging.output import write_png_folder, write_samples_npz

    model = load(args.model_dir, device=args.device)
    images, labels = model.sample(args.images, label=args.label, random_state=args.seed)
    if args.output.lower().endswith(".npz"):
        write_samples_npz(args.output, images, labels)
    else:
        write_png_folder(args.output, images, labels)
    print(f"ehrsynth: wrote {len(images)} images to {args.output}", file=sys.stderr)
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from ehrsynth.imaging.evaluation import evaluate, load_synthetic, real_splits
    from ehrsynth.imaging.report import ImageEvaluationReport

    real = real_splits(args.real)
    synthetic = load_synthetic(args.synthetic)
    result = evaluate(
        real,
        synthetic,
        epochs=args.epochs,
        random_state=args.seed,
        device=args.device,
    )
    report = ImageEvaluationReport.build(result, real["train"], synthetic)
    if args.json:
        report.save_json(args.json)
    if args.html:
        report.save_html(args.html)
    mem = result["memorisation"]

    def fmt(v: Any) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    print(f"TSTR AUC {fmt(result['tstr_auc'])}  (TRTR {fmt(result['trtr_auc'])})")
    print(
        f"Frechet distance {fmt(result['frechet_distance'])}  "
        f"(real baseline {fmt(result['frechet_distance_real_baseline'])})"
    )
    print(
        f"memorisation: closer-to-train share {fmt(mem['closer_to_train_share'])} (0.5 expected), "
        f"near copies {mem['near_copies']} of {mem['n_synthetic']}"
    )
    for note in result["notes"]:
        print(f"note: {note}")
    return 0
