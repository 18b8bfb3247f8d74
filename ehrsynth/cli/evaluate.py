"""`ehrsynth evaluate --train T --test H --synthetic S`: utility metrics of a synthetic table (JSON + HTML).

Prints a short summary; ``--json OUT`` writes every metric (``--json -``: to stdout, the summary then goes
to stderr) and ``--html OUT`` a self-contained report. Files are written atomically. Imports only the
standard library at module level.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ehrsynth.cli._common import positive_int as _positive_int


def _n_jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or -1, found {text!r}") from None
    if value == 0 or value < -1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or -1 (all cores), found {text!r}")
    return value


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate",
        help="utility of a synthetic table: dimension-wise probability/prediction, pairwise, marginals, TSTR",
        description=(
            "Compare a synthetic table with the real training table it was made from and a real test table "
            "it never saw (medGAN protocol plus TSTR), beside the independent-marginals floor."
        ),
    )
    p.add_argument(
        "--train", required=True, metavar="T", help="real training table (.csv, .csv.gz, .parquet)"
    )
    p.add_argument("--test", required=True, metavar="H", help="real holdout table, same columns")
    p.add_argument("--synthetic", required=True, metavar="S", help="synthetic table, same columns")
    p.add_argument("--target", metavar="COL", help="column for train-on-synthetic/test-on-real (TSTR)")
    p.add_argument("--schema", metavar="F", help="schema JSON; only column names and kinds are read")
    p.add_argument(
        "--top-k",
        type=_positive_int,
        default=100,
        metavar="K",
        help="most prevalent codes to predict (default 100)",
    )
    p.add_argument("--json", metavar="OUT", help="write all metrics as JSON here ('-' for stdout)")
    p.add_argument("--html", metavar="OUT", help="write a self-contained HTML report here")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument(
        "--n-jobs",
        type=_n_jobs,
        default=None,
        metavar="N",
        help="parallel model fits (-1: all cores; default 1)",
    )
    p.add_argument(
        "--no-baselines",
        action="store_true",
        help="skip the independent-marginals floor and holdout reference",
    )
    p.set_defaults(handler=run)


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "n/a"


def headline_lines(m: dict[str, Any]) -> list[str]:
    """The answer first: per area, the score between the floor (0) and the real data (1) and the verdict."""
    from ehrsynth.evaluation.headline import headline

    lines = []
    for area in headline(m):
        score = "" if area["score"] is None else f"score {area['score']:.2f}, "
        worst = [r["metric"] for r in area["metrics"] if r["worse_than_floor"]]
        detail = f" ({'; '.join(worst)})" if worst else ""
        lines.append(
            f"{area['area']}: {score}{area['verdict'].upper() if worst else area['verdict']}{detail}"
        )
    return lines


def summary_lines(m: dict[str, Any]) -> list[str]:
    """A few human-readable lines with the headline numbers."""
    floor = (m.get("baselines") or {}).get("independent_marginals") or {}
    hold = (m.get("baselines") or {}).get("holdout") or {}
    data, prob = m["data"], m["dimension_wise_probability"]
    pred, pair, marg = m["dimension_wise_prediction"], m["pairwise"], m["marginals"]
    excluded = m["columns"]["excluded"]
    lines = [
        f"rows: train {data['n_train']}, test {data['n_test']}, synthetic {data['n_synthetic']}; "
        f"{data['n_columns_evaluated']} columns evaluated, {len(excluded)} excluded"
        + (f" ({', '.join(list(excluded)[:5])})" if excluded else ""),
        f"dimension-wise probability: r {_fmt(prob['pearson_r'])}, RMSE {_fmt(prob['rmse'])} "
        f"over {prob['n_codes']} binary codes",
        f"dimension-wise prediction: AUROC synthetic {_fmt(pred['auroc_synthetic'])} / real "
        f"{_fmt(pred['auroc_real'])} (floor {_fmt((floor.get('dimension_wise_prediction') or {}).get('auroc_synthetic'))})"
        f" over {pred['n_evaluated']} codes",
        f"pairwise correlation MAE: {_fmt(pair['correlation_mae'])} (floor "
        f"{_fmt((floor.get('pairwise') or {}).get('correlation_mae'))}, holdout "
        f"{_fmt((hold.get('pairwise') or {}).get('correlation_mae'))})",
        f"marginals: mean TVD {_fmt(marg['tvd_mean'])}, mean KS {_fmt(marg['ks_mean'])}",
    ]
    tstr = m.get("tstr")
    if tstr:
        metric = "auroc" if tstr["task"] == "classification" else "r2"
        lines.append(
            f"TSTR {tstr['target']}: {metric.upper()} synthetic {_fmt(tstr[f'{metric}_synthetic'])} / real "
            f"{_fmt(tstr[f'{metric}_real'])} (floor {_fmt((floor.get('tstr') or {}).get(f'{metric}_synthetic'))})"
        )
    if m.get("sdmetrics_quality") is not None:
        lines.append(f"SDMetrics quality: {_fmt(m['sdmetrics_quality'])}")
    return lines


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ehrsynth.cli._ux import stage
    from ehrsynth.evaluation import evaluate
    from ehrsynth.io.atomic import ensure_parent, write_text_atomic
    from ehrsynth.io.tables import read_table

    for out in (args.json, args.html):
        if out and out != "-":
            ensure_parent(Path(out))
    stage(args, f"reading {args.train}, {args.test} and {args.synthetic}")
    tables = {name: read_table(getattr(args, name)) for name in ("train", "test", "synthetic")}
    stage(
        args, "computing the metrics" + ("" if args.no_baselines else " and the independent-marginals floor")
    )
    report = evaluate(
        tables["train"],
        tables["test"],
        tables["synthetic"],
        target=args.target,
        schema=args.schema,
        top_k=args.top_k,
        random_state=args.seed,
        n_jobs=args.n_jobs,
        baselines=not args.no_baselines,
    )
    stream = sys.stderr if args.json == "-" else sys.stdout
    for line in headline_lines(report.to_dict()) + summary_lines(report.to_dict()):
        print(f"ehrsynth evaluate: {line}", file=stream)
    if args.json == "-":
        print(report.to_json())
    elif args.json:
        write_text_atomic(args.json, report.to_json() + "\n")
        print(f"ehrsynth evaluate: wrote {args.json}", file=stream)
    if args.html:
        write_text_atomic(args.html, report.to_html())
        print(f"ehrsynth evaluate: wrote {args.html}", file=stream)
    return 0
