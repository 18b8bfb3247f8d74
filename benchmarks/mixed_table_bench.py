"""A generated mixed EHR table on the user path: what `ehrsynth.synthesize(df)` gives with defaults, per column.

    PYTHONPATH=$PWD OMP_NUM_THREADS=2 python benchmarks/mixed_table_bench.py [--rows 5000] [--epsilon 3]

The table is generated here (no data is read): an MRN, age, sex, an admission date over five years and a
discharge date 1–14 days later, HbA1c written with one decimal (40 % missing, rising with age), creatinine with
two decimals, a ward with 30 values (20 of them rare), a diabetes flag, a CHF flag rising with age and a count
of visits. It is fitted with defaults (no schema) and the synthetic table is read as an analyst would: each
column's range, decimals, missing rate and top values, and two relations a steward would check — the order of
the two dates (discharge before admission is impossible) and the length of stay.

Why: the workload benchmarks score marginals and codes; this one shows formats and date pairs, the things a
user sees first. The date pair is modelled as a gap (discharge as days after admission) when the DP order
release finds it (README, *Engines*); before that, half the synthetic stays were negative.
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


def generate(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 95, rows)
    sex = rng.choice(["F", "M"], rows)
    admit = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 365 * 5, rows), unit="D")
    stay = rng.poisson(4, rows) + 1
    hba1c = np.round(rng.normal(6.5 + 0.02 * (age - 50), 1.2, rows), 1)
    wards = [f"W{i:02d}" for i in range(30)]
    return pd.DataFrame(
        {
            "mrn": [f"MRN{100000 + i}" for i in range(rows)],
            "age": age,
            "sex": sex,
            "admit_date": admit,
            "discharge_date": admit + pd.to_timedelta(np.minimum(stay, 14), unit="D"),
            "hba1c": np.where(rng.random(rows) < 0.4, np.nan, hba1c),
            "creatinine": np.round(np.exp(rng.normal(0, 0.4, rows)) * (1 + (sex == "M") * 0.2), 2),
            "ward": rng.choice(wards, rows, p=np.r_[np.full(10, 0.07), np.full(20, 0.015)]),
            "diabetes": (hba1c > 6.5) | (rng.random(rows) < 0.05),
            "chf": (rng.random(rows) < 0.05 + 0.003 * (age - 18)).astype(int),
            "visits": rng.negative_binomial(2, 0.4, rows),
        }
    )


def _decimals(s: pd.Series) -> int:
    x = s.dropna().to_numpy(dtype=float)
    for d in range(7):
        if np.allclose(x, np.round(x, d), rtol=0, atol=1e-9):
            return d
    return 7


def describe(real: pd.DataFrame, synth: pd.DataFrame) -> dict[str, Any]:
    cols: dict[str, Any] = {}
    for c in real.columns:
        r, s = real[c], synth[c]
        row: dict[str, Any] = {
            "dtype": [str(r.dtype), str(s.dtype)],
            "missing": [r.isna().mean(), s.isna().mean()],
        }
        if pd.api.types.is_datetime64_any_dtype(r) or (
            pd.api.types.is_numeric_dtype(r) and not pd.api.types.is_bool_dtype(r)
        ):
            row["range"] = [[str(r.min()), str(r.max())], [str(s.min()), str(s.max())]]
            if pd.api.types.is_float_dtype(r):
                row["decimals"] = [_decimals(r), _decimals(s)]
        else:
            row["values"] = [int(r.nunique()), int(s.nunique())]
        cols[c] = row
    stay_r = (real["discharge_date"] - real["admit_date"]).dt.days
    stay_s = (synth["discharge_date"] - synth["admit_date"]).dt.days
    edges = np.r_[-np.inf, np.arange(0, 32), np.inf]  # negative, 0..30 days, longer
    h_r = np.histogram(stay_r.dropna(), edges)[0] / max(stay_r.notna().sum(), 1)
    h_s = np.histogram(stay_s.dropna(), edges)[0] / max(stay_s.notna().sum(), 1)
    outside = {
        c: float(((synth[c] < real[c].min()) | (synth[c] > real[c].max())).mean())
        for c in ("admit_date", "discharge_date")
    }
    return {
        "columns": cols,
        "discharge_before_admission": [float((stay_r < 0).mean()), float((stay_s < 0).mean())],
        "stay_over_30_days": [float((stay_r > 30).mean()), float((stay_s > 30).mean())],
        "stay_mean_days": [float(stay_r.mean()), float(stay_s.mean())],
        "stay_tvd": float(0.5 * np.abs(h_r - h_s).sum()),
        "dates_outside_real_range": outside,
        "corr_age_chf": [
            float(real[["age", "chf"]].corr().iloc[0, 1]),
            float(synth[["age", "chf"]].corr().iloc[0, 1]),
        ],
    }


def markdown(out: dict[str, Any], command: str) -> str:
    lines = [
        "### Mixed EHR table on the user path (generated; defaults, no schema)\n",
        f"`{command}` ({out['environment']['date']}): {out['rows']} rows, ε = {out['epsilon']:g}. Real | synthetic.\n",
        "| column | dtype | missing | range / values | decimals |",
        "|---|---|---|---|---|",
    ]
    for c, row in out["columns"].items():
        rng = row.get("range")
        span = (
            f"{rng[0][0]}–{rng[0][1]} \\| {rng[1][0]}–{rng[1][1]}"
            if rng
            else "{} \\| {} values".format(*row["values"])
        )
        dec = "{} \\| {}".format(*row["decimals"]) if "decimals" in row else ""
        lines.append(
            f"| {c} | {row['dtype'][0]} \\| {row['dtype'][1]} | {row['missing'][0]:.2f} \\| {row['missing'][1]:.2f} "
            f"| {span} | {dec} |"
        )
    b, o = out["discharge_before_admission"], out["stay_over_30_days"]
    lines += [
        "",
        f"Discharge before admission: real {b[0]:.3f}, synthetic {b[1]:.3f}; stays over 30 days: real {o[0]:.3f}, "
        f"synthetic {o[1]:.3f}; mean stay: real {out['stay_mean_days'][0]:.2f} d, synthetic "
        f"{out['stay_mean_days'][1]:.2f} d; TVD of the stay histogram (days 0–30, longer, negative) "
        f"{out['stay_tvd']:.3f}. Discharge is modelled as days after admission (the DP order release found the "
        f"pair: {out['date_gaps']}); synthetic dates outside the real range: "
        + ", ".join(f"{c} {v:.1%}" for c, v in out["dates_outside_real_range"].items())
        + ". "
        f"Warnings: {len(out['warnings'])} ({'; '.join(w[:80] + '…' for w in out['warnings'])}).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--epsilon", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    from ehrsynth.api import fit_sample  # what ehrsynth.synthesize runs, keeping the model
    from ehrsynth.errors import DataFidelityWarning

    real = generate(args.rows, args.seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, synth = fit_sample(real, epsilon=args.epsilon, random_state=0)
    out = {
        "date_gaps": [f"{g.column} after {g.anchor}" for g in model.date_gaps_] or "none",
        "environment": environment(),
        "rows": args.rows,
        "epsilon": args.epsilon,
        "warnings": [str(w.message) for w in caught if issubclass(w.category, DataFidelityWarning)],
        **describe(real, synth),
    }
    print(synth.head(5).T)
    print(out)
    path = save_json("mixed-table", out)
    command = "python benchmarks/mixed_table_bench.py " + " ".join(sys.argv[1:])
    update_section(
        "mixed-table", markdown(out, command.strip()) + f"\n\nRaw: `{path.relative_to(path.parents[1])}`.\n"
    )


if __name__ == "__main__":
    main()
