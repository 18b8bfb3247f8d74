"""Realistic large patient × code tables for scale tests, made by resampling and perturbing a template.

The template is a real patient table (by default the diabetes130 patient table built from
``../shared/data/diabetes130/``; Strack B. et al. 2014, BioMed Research International 781670, CC BY 4.0).
The generated tables are never saved: they would be tables derived from real data.

``python benchmarks/scale_data.py`` prints shape, density and generation time for 10k / 50k / 200k patients ×
1,000 codes and writes those numbers (no data) to ``benchmarks/results/scale_data.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from ehrsynth.errors import InvalidDataError, InvalidParameterError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "diabetes130" / "diabetic_data_dev.csv.gz"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "scale_data.json"


def _code_matrix(template: pd.DataFrame, code_cols: list[str]) -> sparse.csr_matrix:
    values = template[code_cols].to_numpy()
    bad = ~np.isin(values, (0, 1))
    if bad.any():
        col = code_cols[int(np.flatnonzero(bad.any(axis=0))[0])]
        raise InvalidDataError(
            f"template code column {col!r} is not 0/1; code columns must be binary", column=col
        )
    return sparse.csr_matrix(values.astype(np.uint8))


def _subcodes(counts: np.ndarray, n_new: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Choose a parent code and a keep-probability for each new code.

    New codes are refinements of existing ones (like 4-digit ICD-9 codes under a 3-digit category): a
    patient can have the new code only if they have its parent. Target prevalences are drawn from the
    template's own prevalence distribution, so the extended vocabulary keeps its long tail.
    """
    prevalence = counts / max(counts.sum(), 1)
    observed = np.flatnonzero(counts > 0)
    if len(observed) == 0:
        raise InvalidDataError("the resampled template has no codes at all; cannot extend its vocabulary")
    targets = counts[rng.choice(observed, size=n_new)]
    parents = np.empty(n_new, dtype=np.int64)
    keep = np.empty(n_new, dtype=np.float64)
    order = observed[np.argsort(counts[observed], kind="stable")]
    sorted_counts = counts[order]
    for j, target in enumerate(targets):
        # parents at least as common as the target, picked in proportion to their prevalence
        eligible = order[np.searchsorted(sorted_counts, target) :]
        weights = prevalence[eligible] / prevalence[eligible].sum()
        parents[j] = eligible[rng.choice(len(eligible), p=weights)]
        keep[j] = min(0.9, target / counts[parents[j]])
    return parents, keep


def make_scale_table(
    template: pd.DataFrame,
    n_patients: int,
    n_codes: int,
    random_state: int,
    *,
    code_prefix: str = "dx_",
    id_column: str | None = "patient_nbr",
    flip_fraction: float = 0.1,
) -> pd.DataFrame:
    """A patient × code table of ``n_patients`` rows and ``n_codes`` uint8 code columns.

    1. Template patients are resampled with replacement; their non-code columns (demographics) are kept.
    2. Codes: with ``n_codes`` ≤ the template's code count, the most prevalent ``n_codes`` are kept;
       otherwise every template code is kept and new sub-codes are added (see :func:`_subcodes`), named
       ``<parent>.<k>``.
    3. Rows are perturbed: each present code is moved, with probability ``flip_fraction`` and for at least
       one code of every patient with codes, to a code drawn in proportion to code prevalence. This keeps
       per-patient code counts and (in expectation) code prevalences while making rows differ from the
       template's.
    ``id_column`` (when the template has it) is replaced by fresh ids 1..n. Deterministic in ``random_state``.
    """
    if n_patients < 1 or n_codes < 1:
        raise InvalidParameterError(f"n_patients and n_codes must be >= 1, got {n_patients} and {n_codes}")
    if not 0.0 <= flip_fraction <= 1.0:
        raise InvalidParameterError(f"flip_fraction must be in [0, 1], got {flip_fraction}")
    code_cols = [c for c in template.columns if isinstance(c, str) and c.startswith(code_prefix)]
    if template.empty or not code_cols:
        raise InvalidDataError(f"the template needs rows and code columns starting with {code_prefix!r}")
    rng = np.random.default_rng(random_state)
    other_cols = [c for c in template.columns if c not in code_cols and c != id_column]

    rows = rng.integers(0, len(template), size=n_patients)
    codes = _code_matrix(template, code_cols)[rows]  # csr, n_patients × template codes
    counts = np.asarray(codes.sum(axis=0)).ravel()
    names = list(code_cols)
    if n_codes <= len(code_cols):
        top = np.sort(np.argsort(-counts, kind="stable")[:n_codes])
        codes = codes[:, top]
        names = [code_cols[i] for i in top]
    else:
        parents, keep = _subcodes(counts, n_codes - len(code_cols), rng)
        csc = codes.tocsc()
        new_rows, new_cols = [], []
        seen: dict[int, int] = {}
        for j, (parent, q) in enumerate(zip(parents, keep, strict=True)):
            holders = csc.indices[csc.indptr[parent] : csc.indptr[parent + 1]]
            chosen = holders[rng.random(len(holders)) < q]
            new_rows.append(chosen)
            new_cols.append(np.full(len(chosen), j, dtype=np.int64))
            seen[parent] = seen.get(parent, 0) + 1
            names.append(f"{code_cols[parent]}.{seen[parent]}")
        extra = sparse.csr_matrix(
            (
                np.ones(sum(len(r) for r in new_rows), dtype=np.uint8),
                (np.concatenate(new_rows), np.concatenate(new_cols)),
            ),
            shape=(n_patients, len(parents)),
        )
        codes = sparse.hstack([codes, extra], format="csr")

    coo_rows = np.repeat(np.arange(n_patients), np.diff(codes.indptr))
    coo_cols = codes.indices.astype(np.int64)
    move = rng.random(len(coo_cols)) < flip_fraction
    per_row = np.diff(codes.indptr)
    has = np.flatnonzero(per_row > 0)
    move[codes.indptr[has] + rng.integers(0, per_row[has])] = True  # at least one moved code per patient
    if move.any():
        prevalence = np.bincount(coo_cols, minlength=n_codes).astype(np.float64)
        coo_cols[move] = rng.choice(n_codes, size=int(move.sum()), p=prevalence / prevalence.sum())

    dense = np.zeros((n_patients, n_codes), dtype=np.uint8)
    dense[coo_rows, coo_cols] = 1
    parts = []
    if id_column is not None and id_column in template.columns:
        parts.append(pd.DataFrame({id_column: np.arange(1, n_patients + 1, dtype=np.int64)}))
    parts.append(template[other_cols].iloc[rows].reset_index(drop=True))
    parts.append(pd.DataFrame(dense, columns=names))
    return pd.concat(parts, axis=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="diabetes130 encounter CSV")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    parser.add_argument("--codes", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"template data {args.data} not found; pass --data", file=sys.stderr)
        return 2

    from ehrsynth.datasets import diabetes130_patient_table

    t0 = time.perf_counter()
    template = diabetes130_patient_table(args.data)
    t_template = time.perf_counter() - t0
    n_tcodes = sum(c.startswith("dx_") for c in template.columns)
    print(f"template: {template.shape[0]} patients x {n_tcodes} codes, built in {t_template:.2f} s")
    results: dict[str, object] = {
        "template": {"source": str(args.data.name), "patients": len(template), "codes": n_tcodes},
        "template_seconds": round(t_template, 3),
        "runs": [],
    }
    for n in args.sizes:
        t0 = time.perf_counter()
        table = make_scale_table(template, n, args.codes, random_state=args.seed)
        seconds = time.perf_counter() - t0
        codes = table.filter(like="dx_").to_numpy()
        density = float(codes.mean())
        row = {
            "patients": n,
            "codes": codes.shape[1],
            "columns": table.shape[1],
            "density": round(density, 6),
            "codes_per_patient": round(float(codes.sum(axis=1).mean()), 3),
            "mib": round(table.memory_usage(deep=True).sum() / 2**20, 1),
            "seconds": round(seconds, 3),
        }
        results["runs"].append(row)  # type: ignore[attr-defined]
        print(
            f"{n:>8} patients x {codes.shape[1]} codes: shape {table.shape}, density {density:.5f} "
            f"({row['codes_per_patient']} codes/patient), {row['mib']} MiB, {seconds:.2f} s"
        )
        del table, codes
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
