"""Spill past the real range against the fit inside it: the numeric 1-way release's edge bar (``EDGE_Z``).

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python benchmarks/edge_spill_bench.py [--edge-z 1 2] [--releases 30]

Only the DP 1-way release runs (no model fit): on generated tables (five years of admission dates, ages 18–94,
log-normal creatinine, HbA1c with one decimal, time in hospital 1–14 days) it measures, per column and
averaged over seeded releases, the released mass outside the real [min, max] ("spill"), how far the released
support reaches past the real max ("overshoot", in the column's unit) and the KS distance of the released CDF
from the real one (TVD for columns released as categories). ``EDGE_Z`` is the bar (in noise sd) a child cell
at the edge of a smooth parent must clear to be kept (``ehrsynth.dp.numeric_zoom``); the default is 1.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import environment, save_json, update_section

COLUMNS = ("admit_date", "age", "creatinine", "hba1c", "time_in_hospital")
SETTINGS = ((1.0, 5000), (3.0, 5000), (1.0, 20000))


def table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "admit_date": pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 365 * 5, n), unit="D"),
            "age": rng.integers(18, 95, n),
            "creatinine": np.round(np.exp(rng.normal(0, 0.4, n)), 2),
            "hba1c": np.round(rng.normal(6.5, 1.2, n), 1),
            "time_in_hospital": np.minimum(rng.geometric(0.22, n), 14),
        }
    )


def measure(col: Any, x: np.ndarray, integer: bool) -> tuple[float, float, float]:
    """(spill mass, overshoot past the max, KS or TVD) of one released column against the real values."""
    lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
    if col.knots is None:  # released as categories
        cats, freq = np.asarray(col.categories, float), np.asarray(col.frequencies, float)
        vals, cnt = np.unique(x, return_counts=True)
        tvd = 0.5 * pd.Series(cnt / cnt.sum(), vals).sub(pd.Series(freq, cats), fill_value=0).abs().sum()
        return float(freq[(cats < lo) | (cats > hi)].sum()), max(float(cats.max()) - hi, 0.0), float(tvd)
    k, f = np.asarray(col.knots), np.asarray(col.cdf)
    top = hi + 1 if integer else hi
    spill = np.interp(lo, k, f) + 1 - np.interp(top, k, f)
    grid = np.quantile(x, np.linspace(0.001, 0.999, 400))
    if integer:  # the released CDF at v + 1 is the share of values <= v: compare at whole values only
        grid = np.floor(grid) + 1
    real = np.searchsorted(np.sort(x), grid, side="left") / len(x)
    return float(spill), float(k[-1] - top), float(np.max(np.abs(np.interp(grid, k, f) - real)))


def run(edge_z: float, releases: int) -> list[dict[str, Any]]:
    import ehrsynth.dp.numeric_zoom as numeric
    from ehrsynth.dp.discovery import build_specs
    from ehrsynth.dp.one_way import one_way_noise, release_one_way

    numeric.EDGE_Z = edge_z  # the bar under test (module constant; restored by the caller's process exit)
    rows = []
    for eps, n in SETTINGS:
        sigma = one_way_noise(epsilon=eps, delta=1e-5, share=0.45, accountant="prv")
        got: dict[str, list[tuple[float, float, float]]] = {c: [] for c in COLUMNS}
        for seed in range(releases):
            df = table(n, seed)
            specs, _, values = build_specs(df)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rel = release_one_way(
                    df, specs, noise_multiplier=sigma, rng=np.random.default_rng(seed), values=values
                )
            for c in COLUMNS:
                got[c].append(measure(rel.columns[c], values[c], c != "creatinine" and c != "hba1c"))
        for c, v in got.items():
            a = np.asarray(v)
            rows.append(
                {"edge_z": edge_z, "epsilon": eps, "rows": n, "column": c, "spill": a[:, 0].mean(),
                 "spill_max": a[:, 0].max(), "overshoot": a[:, 1].mean(), "ks": a[:, 2].mean()}
            )  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--edge-z", type=float, nargs="+", default=[1.0, 2.0])
    ap.add_argument("--releases", type=int, default=30)
    args = ap.parse_args(argv)
    rows = [r for z in args.edge_z for r in run(z, args.releases)]
    for r in rows:
        print(r)
    out = {"environment": environment(), "releases": args.releases, "rows": rows}
    path = save_json("edge-spill", out)
    lines = [
        "### Numeric edges: spill past the real range against the fit inside it\n",
        "`"
        + f"python benchmarks/edge_spill_bench.py {' '.join(sys.argv[1:])}".rstrip()
        + "`"
        + f" ({out['environment']['date']}): the DP 1-way release alone, {args.releases} seeded releases per "
        "setting, generated columns. Spill = released mass outside the real [min, max]; overshoot = how far "
        "the support reaches past the real max (days, years, …); KS (TVD for columns released as categories). "
        "`EDGE_Z` = 1 is the default.\n",
        "| EDGE_Z | ε | rows | column | spill (max) | overshoot | KS / TVD |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['edge_z']:g} | {r['epsilon']:g} | {r['rows']} | {r['column']} | {r['spill']:.4f} "
            f"({r['spill_max']:.4f}) | {r['overshoot']:.1f} | {r['ks']:.4f} |"
        )
    update_section("edge-spill", "\n".join(lines) + f"\n\nRaw: `{path.relative_to(path.parents[1])}`.\n")


if __name__ == "__main__":
    main()
