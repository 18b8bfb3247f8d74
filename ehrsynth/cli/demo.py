"""`ehrsynth demo`: synthesize the bundled demo table (ACTG 175, shipped inside the `lifelines` package) with DP
and write the synthetic CSV, its sidecar and a short real-vs-synthetic summary to an output directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ehrsynth.cli._common import nonneg_int, warn_no_dp
from ehrsynth.cli._ux import stage


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="synthesize the bundled ACTG 175 demo table and summarise the result",
        description="Synthesize the bundled ACTG 175 table under DP and write a real-vs-synthetic summary.",
    )
    p.add_argument("-o", "--output", default="demo-output", help="output directory (default demo-output/)")
    budget = p.add_mutually_exclusive_group()  # --epsilon with --no-dp contradicts itself: exit 2
    budget.add_argument("--epsilon", type=float, default=3.0, help="privacy budget ε (default 3.0)")
    budget.add_argument("--no-dp", action="store_true", help="train WITHOUT differential privacy")
    p.add_argument(
        "--epochs",
        type=nonneg_int,
        default=None,
        help="GAN epochs (default: 100 under DP, 1000 with --no-dp)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0: the demo is reproducible)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or stage lines")
    p.set_defaults(handler=run)


def _round(v: Any) -> Any:
    import math

    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else round(float(v), 4)


def _numeric_row(r: Any, s: Any) -> dict[str, Any]:
    import pandas as pd
    from scipy.stats import ks_2samp

    rr, ss = pd.to_numeric(r, errors="coerce").dropna(), pd.to_numeric(s, errors="coerce").dropna()
    row: dict[str, Any] = {}
    for name, x in (("real", rr), ("synthetic", ss)):
        row.update(
            {f"{name}_{stat}": _round(getattr(x, stat)() if len(x) else None) for stat in ("mean", "std")}
        )
        row.update(
            {f"{name}_{stat}": _round(getattr(x, stat)() if len(x) else None) for stat in ("min", "max")}
        )
    row["ks"] = _round(ks_2samp(rr, ss, method="asymp").statistic) if len(rr) and len(ss) else None
    return row


def marginal_summary(real: Any, synth: Any, schema: Any) -> list[dict[str, Any]]:
    """Per modelled column, real vs synthetic: missing rate; for numbers and flags mean, SD, min, max and the
    Kolmogorov–Smirnov distance; for categories the total variation distance and categories the synthetic
    table has that the real one lacks (the distortions a mean hides: clipped ranges, invented categories,
    missingness)."""
    import numpy as np

    from ehrsynth.schema import Kind

    rows: list[dict[str, Any]] = []
    for col in schema.modelled:
        if col.kind is Kind.DATETIME:
            continue
        r, s = real[col.name], synth[col.name]
        row: dict[str, Any] = {"column": col.name, "kind": col.kind.value}
        row.update(real_missing=_round(r.isna().mean()), synthetic_missing=_round(s.isna().mean()))
        if col.kind is Kind.CATEGORICAL:
            pr = r.dropna().astype(str).value_counts(normalize=True)
            ps = s.dropna().astype(str).value_counts(normalize=True)
            keys = pr.index.union(ps.index)
            diff = pr.reindex(keys, fill_value=0) - ps.reindex(keys, fill_value=0)
            row["tvd"] = _round(0.5 * float(np.abs(diff).sum()))
            row["new_categories"] = sorted(set(ps.index) - set(pr.index))
        else:
            row.update(_numeric_row(r, s))
        rows.append(row)
    return rows


MD_COLUMNS: list[tuple[str, str | tuple[str, str]]] = [
    ("column", "column"),
    ("kind", "kind"),
    ("missing real / synth", ("real_missing", "synthetic_missing")),
    ("mean real / synth", ("real_mean", "synthetic_mean")),
    ("sd real / synth", ("real_std", "synthetic_std")),
    ("min real / synth", ("real_min", "synthetic_min")),
    ("max real / synth", ("real_max", "synthetic_max")),
    ("KS", "ks"),
    ("TVD", "tvd"),
]


def _cell(row: dict[str, Any], key: str | tuple[str, str]) -> str:
    def one(k: str) -> str:
        v = row.get(k)
        return "" if v is None else f"{v:g}" if isinstance(v, float) else str(v)

    if isinstance(key, tuple):
        a, b = one(key[0]), one(key[1])
        return f"{a} / {b}" if a or b else ""
    return one(key).replace("|", "\\|")


def _markdown(rows: list[dict[str, Any]], privacy: dict[str, Any], n: int) -> str:
    eps = privacy.get("epsilon_spent")
    head = (
        f"# ehrsynth demo: ACTG 175 ({n} patients)\n\n"
        + (
            f"Differential privacy: epsilon = {eps:.3f}, delta = {privacy['delta']:.2e}.\n\n"
            if eps
            else "Trained WITHOUT differential privacy (no guarantee).\n\n"
        )
        + "Data: ACTG 175 (Hammer et al. 1996, NEJM 335:1081), as shipped in the `lifelines` package.\n\n"
        + "Per column, real vs synthetic. KS: Kolmogorov–Smirnov distance (numbers); TVD: total variation "
        "distance (categories); both 0 for identical distributions.\n\n"
        + "| "
        + " | ".join(title for title, _ in MD_COLUMNS)
        + " |\n"
        + "|"
        + "---|" * len(MD_COLUMNS)
        + "\n"
    )
    lines = ["| " + " | ".join(_cell(r, key) for _, key in MD_COLUMNS) + " |" for r in rows]
    new = [f"- {r['column']}: {', '.join(r['new_categories'])}" for r in rows if r.get("new_categories")]
    tail = "\n\nCategories in the synthetic table but not the real one:\n" + "\n".join(new) if new else ""
    return head + "\n".join(lines) + tail + "\n"


def run(args: argparse.Namespace) -> int:
    import json

    from ehrsynth.datasets import load_demo
    from ehrsynth.estimator import MedGAN
    from ehrsynth.io.atomic import write_text_atomic
    from ehrsynth.io.synthetic import write_synthetic
    from ehrsynth.training.progress import TqdmProgress

    warn_no_dp(args)
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    stage(args, "loading the ACTG 175 demo table")
    real = load_demo()
    stage(
        args, "fitting WITHOUT DP" if args.no_dp else "fitting under DP: releasing the schema, then training"
    )
    model = MedGAN(
        epsilon=None if args.no_dp else args.epsilon,
        epochs=args.epochs,
        random_state=args.seed,
        progress=None if args.quiet else TqdmProgress(),
    )
    model.fit(real)
    stage(args, f"sampling {len(real)} rows and writing {out_dir}")
    synth = model.sample(len(real), random_state=args.seed + 1)
    privacy = model.privacy_.to_dict()
    write_synthetic(
        synth,
        out_dir / "synthetic.csv",
        schema=model.schema_,
        privacy=privacy,
        release_notes=model.release_notes_,
    )
    model.save(str(out_dir / "model"))
    rows = marginal_summary(model.as_modelled(real), model.as_modelled(synth), model.schema_)
    write_text_atomic(
        out_dir / "summary.json", json.dumps({"privacy": privacy, "columns": rows}, indent=2) + "\n"
    )
    write_text_atomic(out_dir / "summary.md", _markdown(rows, privacy, len(real)))
    print(_markdown(rows, privacy, len(real)))
    print(
        f"ehrsynth: wrote {out_dir}/synthetic.csv (+ .meta.json), summary.md, summary.json, model/",
        file=sys.stderr,
    )
    return 0
