"""Issue 11 (Fidelity I): is every column right on the user path — ``ehrsynth.synthesize(df)``, no schema?

For each table and ε, fits with the defaults, samples as many rows as the table, and compares every synthetic
column with the REAL column: TVD (categorical, 0/1, integer codes) or KS (numbers), missing-rate error, share
of synthetic values outside the real range, invented missingness (a column without missing values that gets
> 1 %), and the mean 2-way TVD over random column pairs next to the independent-marginals baseline (each
real column shuffled on its own). Also times sampling 100k rows of a 1,000-code table (no file write).

Tables (read in place from ../shared/data and the installed lifelines; never stored):
- ``diabetes``: Diabetes 130-US hospitals (Strack et al. 2014, CC BY 4.0), one row per patient: race, gender,
  age band, readmitted + the 200 most frequent 3-digit ICD-9 codes, ``--rows`` patients (default 8,000).
- ``encounters``: the same file's first encounter per patient as a mixed table: ids stored as numbers,
  counts, A1C/glucose results, medications, ``weight`` (97 % missing), readmitted.
- ``actg175``: ACTG 175 (Hammer et al. 1996, via lifelines), continuous labs.

    python benchmarks/marginals_bench.py                      # every table, eps 1 3 10 and no DP
    python benchmarks/marginals_bench.py --tables actg175 --epsilons 3
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
from _results import SHARED_DATA, environment, save_json, update_section

import ehrsynth

DIABETES = SHARED_DATA / "diabetes130" / "diabetic_data_dev.csv.gz"
ENCOUNTER_COLUMNS = [
    "race", "gender", "age", "weight", "admission_type_id", "discharge_disposition_id", "admission_source_id",
    "time_in_hospital", "num_lab_procedures", "num_procedures", "num_medications", "number_outpatient",
    "number_emergency", "number_inpatient", "number_diagnoses", "max_glu_serum", "A1Cresult", "metformin",
    "insulin", "change", "diabetesMed", "readmitted",
]  # fmt: skip


def load(name: str, rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    if name == "actg175":
        from ehrsynth.datasets import load_demo

        return load_demo()
    if name == "diabetes":
        from ehrsynth.datasets.diabetes130 import diabetes130_patient_table

        table = diabetes130_patient_table(DIABETES)
        codes = [c for c in table.columns if c.startswith("dx_")]
        top = table[codes].sum().sort_values(ascending=False).index[:200]
        table = table[["race", "gender", "age", "readmitted", *sorted(top)]]
        return table.iloc[rng.permutation(len(table))[:rows]].reset_index(drop=True)
    raw = pd.read_csv(DIABETES, na_values=["?"], keep_default_na=True)
    first = raw.sort_values("encounter_id").drop_duplicates("patient_nbr")
    table = first[ENCOUNTER_COLUMNS]
    return table.iloc[rng.permutation(len(table))[:rows]].reset_index(drop=True)


def column_errors(real: pd.DataFrame, synth: pd.DataFrame) -> pd.DataFrame:
    """Every modelled column (identifiers get fresh surrogate keys by design) against the real one."""
    from scipy.stats import ks_2samp

    schema = synth.attrs.get("ehrsynth", {}).get("schema", {"columns": []})
    identifiers = {c["name"] for c in schema["columns"] if c["kind"] == "identifier"}
    rows = []
    for col in [c for c in real.columns if c not in identifiers]:
        r, s = real[col], synth[col]
        r_miss, s_miss = float(r.isna().mean()), float(s.isna().mean())
        rv, sv = r.dropna(), s.dropna()
        numeric = pd.api.types.is_numeric_dtype(r) and rv.nunique() > 20
        if numeric and len(sv):
            metric, err = "KS", float(ks_2samp(rv.astype(float), sv.astype(float)).statistic)
            outside = float(((sv < rv.min()) | (sv > rv.max())).mean())
        else:
            p = rv.astype(str).value_counts(normalize=True)
            q = sv.astype(str).value_counts(normalize=True)
            metric, err = "TVD", float(0.5 * p.subtract(q, fill_value=0).abs().sum())
            outside = float((~sv.astype(str).isin(set(p.index))).mean()) if len(sv) else 0.0
        rows.append(
            {"column": col, "metric": metric, "error": err, "real_missing": r_miss, "synth_missing": s_miss,
             "outside_real": outside, "invented_missing": r_miss == 0 and s_miss > 0.01}
        )  # fmt: skip
    return pd.DataFrame(rows)


def pair_tvd(real: pd.DataFrame, synth: pd.DataFrame, pairs: list[tuple[str, str]]) -> float:
    def codes(df: pd.DataFrame, col: str, edges: dict[str, np.ndarray]) -> pd.Series:
        s = df[col]
        if col in edges:
            return pd.Series(np.digitize(s.astype(float).fillna(np.inf), edges[col]), index=s.index).astype(
                str
            )
        return s.astype(object).where(s.notna(), "<missing>").astype(str)  # NaN, None and pd.NA alike

    edges = {
        c: np.unique(np.nanquantile(real[c].astype(float), np.linspace(0.1, 0.9, 9)))
        for c in real.columns
        if pd.api.types.is_numeric_dtype(real[c]) and real[c].nunique() > 20
    }
    out = []
    for a, b in pairs:
        p = (codes(real, a, edges) + "|" + codes(real, b, edges)).value_counts(normalize=True)
        q = (codes(synth, a, edges) + "|" + codes(synth, b, edges)).value_counts(normalize=True)
        out.append(0.5 * p.subtract(q, fill_value=0).abs().sum())
    return float(np.mean(out))


def shuffled(real: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: real[c].to_numpy()[rng.permutation(len(real))] for c in real.columns})


def run_one(
    table: str, real: pd.DataFrame, eps: float | None, seed: int, engine: str | None = None
) -> dict[str, Any]:
    t0 = time.perf_counter()
    extra = {} if engine is None else {"engine": engine}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        synth = ehrsynth.synthesize(real, epsilon=eps, random_state=seed, **extra)
    fit_s = time.perf_counter() - t0
    errors = column_errors(real, synth)
    rng = np.random.default_rng(seed)
    cols = list(real.columns)
    pairs = [
        tuple(rng.choice(cols, 2, replace=False)) for _ in range(min(300, len(cols) * (len(cols) - 1) // 2))
    ]
    tvd_ks = errors.groupby("metric")["error"].max().to_dict()
    return {
        "table": table, "epsilon": eps, "rows": len(real), "columns": len(cols), "fit_sample_s": round(fit_s, 1),
        "max_tvd": tvd_ks.get("TVD"), "max_ks": tvd_ks.get("KS"),
        "worst": errors.sort_values("error", ascending=False).head(3)[["column", "metric", "error"]].to_dict("records"),
        "missing_error_max": float((errors.real_missing - errors.synth_missing).abs().max()),
        "invented_missing": errors.loc[errors.invented_missing, "column"].tolist(),
        "outside_real_max": float(errors.outside_real.max()),
        "pair_tvd": pair_tvd(real, synth, pairs),
        "pair_tvd_independent": pair_tvd(real, shuffled(real, seed), pairs),
        "warnings": sorted({f"{w.category.__name__}: {str(w.message)[:160]}" for w in caught
                            if w.category.__name__ != "NoPrivacyWarning"}),
        "columns_detail": errors.to_dict("records"),
        "head": synth.head(3).astype(str).to_dict("records"),
    }  # fmt: skip


def sampling_speed(seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    n, k = 5000, 1000
    codes = (rng.random((n, k)) < np.geomspace(0.3, 0.002, k)).astype("uint8")
    df = pd.DataFrame(codes, columns=[f"dx_{i:04d}" for i in range(k)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ehrsynth.MedGAN(epsilon=None, epochs=1, ae_epochs=1, random_state=seed).fit(df)
    model.sample(1000, random_state=0)  # warm-up
    t0 = time.perf_counter()
    out = model.sample(100_000, random_state=1)
    dt = time.perf_counter() - t0
    return {"rows": 100_000, "codes": k, "seconds": round(dt, 3), "rows_per_s": round(100_000 / dt),
            "dtype": str(out.dtypes.iloc[0]), "bytes": int(out.memory_usage(index=False).sum())}  # fmt: skip


def markdown(
    results: list[dict[str, Any]],
    speed: dict[str, Any] | None,
    env: dict[str, Any],
    engine: str | None = None,
) -> str:
    lines = [
        "### Fidelity I — every column on the user path (issue 11)"
        + ("" if engine is None else f", engine `{engine}`"),
        "",
        f"`python benchmarks/{' '.join(sys.argv)}` ({env['date']}, 2 cores, torch {env['torch']}; 1-minute load "
        f"average {env['load_average_1min']:.1f}). `ehrsynth.synthesize(df, epsilon=ε, random_state=0)` with "
        "defaults and **no schema**; every synthetic column against the real one. Data: Diabetes 130-US "
        "hospitals (Strack et al. 2014, CC BY 4.0) and ACTG 175 (Hammer et al. 1996).",
        "",
        "| table | rows × cols | ε | max TVD | max KS | worst column | max missing error | invented missing | "
        "outside real range | 2-way TVD (independent) | fit+sample s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if "refused" in r:
            lines.append(f"| {r['table']} | {r['rows']} × {r['columns']} | {r['epsilon'] or 'no DP'} | refused: "
                         f"{r['refused'][:150]} | | | | | | | |")  # fmt: skip
            continue
        w = r["worst"][0]
        fmt = lambda v: "—" if v is None else f"{v:.3f}"  # noqa: E731
        lines.append(
            f"| {r['table']} | {r['rows']} × {r['columns']} | {r['epsilon'] or 'no DP'} | {fmt(r['max_tvd'])} | "
            f"{fmt(r['max_ks'])} | {w['column']} ({w['metric']} {w['error']:.3f}) | {r['missing_error_max']:.3f} | "
            f"{', '.join(r['invented_missing']) or 'none'} | {r['outside_real_max']:.3f} | "
            f"{r['pair_tvd']:.4f} ({r['pair_tvd_independent']:.4f}) | {r['fit_sample_s']} |"
        )
    if speed:
        lines += ["", f"Sampling: {speed['rows_per_s']:,} rows/s for {speed['rows']:,} rows × {speed['codes']} "
                  f"0/1 codes (no file write; output dtype {speed['dtype']}, {speed['bytes'] / 1e6:.0f} MB)."]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tables", nargs="+", default=["actg175", "encounters", "diabetes"])
    ap.add_argument("--epsilons", nargs="+", default=["1", "3", "10", "none"])
    ap.add_argument("--rows", type=int, default=8000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--no-update", action="store_true", help="do not rewrite RESULTS.md")
    ap.add_argument("--engine", default=None, help="MedGAN engine (default: the library's default)")
    args = ap.parse_args()
    env = environment()
    results = []
    for table in args.tables:
        real = load(table, args.rows, args.seed)
        for e in args.epsilons:
            eps = None if e == "none" else float(e)
            try:
                r = run_one(table, real, eps, args.seed, args.engine)
            except ehrsynth.errors.EhrsynthError as exc:  # a refusal is a result: the user sees this line
                r = {
                    "table": table,
                    "epsilon": eps,
                    "rows": len(real),
                    "columns": real.shape[1],
                    "refused": str(exc),
                }
            results.append(r)
            print({k: v for k, v in r.items() if k not in ("columns_detail", "head")}, flush=True)
    speed = None if args.no_speed else sampling_speed(args.seed)
    print(speed)
    tag = "" if args.engine is None else f"-{args.engine}"
    path = save_json(f"marginals{tag}", {"environment": env, "results": results, "sampling": speed})
    md = markdown(results, speed, env, args.engine)
    print(md, f"\nsaved {path}", sep="\n")
    if not args.no_update:
        update_section(f"marginals{tag}", md)


if __name__ == "__main__":
    main()
