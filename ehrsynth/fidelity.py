"""The fidelity summary printed after every synthesis: each synthetic column against its released marginal.

It compares the synthetic table with what the fit released (under DP the noisy 1-way marginals in the schema;
without DP the exact ones), never with the real data again, so computing and showing it is post-processing and
spends no budget. Per column: the released and synthetic ranges (or category counts), missing rates, and TVD
(categories, 0/1 columns) or KS (numbers, against the released CDF). A column whose error is large is flagged,
and one :class:`~ehrsynth.errors.DataFidelityWarning` names the flagged columns, so a distorted column never
passes silently.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ehrsynth.errors import DataFidelityWarning
from ehrsynth.schema import Column, Kind, Schema
from ehrsynth.transforms.marginals import is_integer_column
from ehrsynth.transforms.numeric import numeric_values

MAX_TVD = 0.05
MAX_KS = 0.08
MAX_MISSING_GAP = 0.02


def _allowance(m: int) -> float:
    """Sampling noise of a metric on m synthetic rows (≈ the 95 % KS critical value): a 50-row sample is not
    flagged for the noise of its own draw."""
    return 1.36 / math.sqrt(max(m, 1))


@dataclass
class ColumnFidelity:
    column: str
    kind: str
    metric: str  # "TVD" | "KS" | ""
    error: float | None
    released_range: str
    synthetic_range: str
    released_missing: float | None
    synthetic_missing: float
    outside: float = 0.0  # share of synthetic values outside the released domain
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in vars(self).items()
        }


@dataclass
class FidelitySummary:
    columns: list[ColumnFidelity]

    @property
    def flagged(self) -> list[ColumnFidelity]:
        return [c for c in self.columns if c.problems]

    def to_dict(self) -> dict[str, Any]:
        return {
            "thresholds": {
                "tvd": MAX_TVD,
                "ks": MAX_KS,
                "missing_gap": MAX_MISSING_GAP,
                "plus_sampling_noise": "1.36/sqrt(rows) (half of it for missing rates)",
            },
            "compared_with": "the released 1-way marginals (noisy under DP)",
            "columns": [c.to_dict() for c in self.columns],
            "flagged": [c.column for c in self.flagged],
        }

    def to_markdown(self) -> str:
        lines = [
            "| column | kind | released range | synthetic range | missing (released → synthetic) | error | note |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in self.columns:
            miss = (
                "—" if c.released_missing is None else f"{c.released_missing:.3f} → {c.synthetic_missing:.3f}"
            )
            err = "—" if c.error is None else f"{c.metric} {c.error:.3f}"
            note = "; ".join(c.problems) or "ok"
            lines.append(
                f"| {c.column} | {c.kind} | {c.released_range} | {c.synthetic_range} | {miss} | {err} | {note} |"
            )
        return "\n".join(lines)

    def to_text(self) -> str:
        """A compact table for the terminal."""
        rows = [("column", "kind", "released", "synthetic", "missing", "error", "")]
        for c in self.columns:
            miss = (
                "—" if c.released_missing is None else f"{c.released_missing:.3f}→{c.synthetic_missing:.3f}"
            )
            err = "—" if c.error is None else f"{c.metric} {c.error:.3f}"
            rows.append(
                (c.column, c.kind, c.released_range, c.synthetic_range, miss, err, "; ".join(c.problems))
            )
        widths = [min(max(len(r[i]) for r in rows), 28) for i in range(6)]
        return "\n".join(
            "  ".join(r[i][:28].ljust(widths[i]) for i in range(6)) + (f"  ! {r[6]}" if r[6] else "")
            for r in rows
        )

    def warn(self) -> None:
        if self.flagged:
            parts = ", ".join(f"{c.column!r} ({'; '.join(c.problems)})" for c in self.flagged[:10])
            more = f" and {len(self.flagged) - 10} more" if len(self.flagged) > 10 else ""
            warnings.warn(
                f"{len(self.flagged)} synthetic column(s) differ from their released marginal by more than the "
                f"fidelity thresholds: {parts}{more}. More rows, a larger epsilon, or a declared schema help",
                DataFidelityWarning,
                stacklevel=3,
            )


def fidelity_summary(schema: Schema, synthetic: pd.DataFrame) -> FidelitySummary:
    """Each modelled column of ``synthetic`` against the marginal its schema column carries."""
    out = []
    for col in schema.modelled:
        if col.name in synthetic.columns and col.has_marginal:
            out.append(_column(col, synthetic[col.name]))
    return FidelitySummary(out)


def _column(col: Column, s: pd.Series) -> ColumnFidelity:
    missing = s.isna().to_numpy()
    syn_missing = float(missing.mean()) if len(s) else 0.0
    rel_missing = float(col.missing_rate) if col.missing_rate is not None else None
    if col.kind in (Kind.CATEGORICAL, Kind.BINARY):
        row = _categorical(col, s[~missing], syn_missing, rel_missing)
    else:
        row = _numeric(col, s, missing, syn_missing, rel_missing)
    if rel_missing is not None and abs(syn_missing - rel_missing) > MAX_MISSING_GAP + _allowance(len(s)) / 2:
        row.problems.append(f"missing rate {syn_missing:.3f} vs released {rel_missing:.3f}")
    if row.outside > 0:
        row.problems.append(f"{row.outside:.1%} outside the released domain")
    return row


def _categorical(col: Column, s: pd.Series, syn_missing: float, rel_missing: float | None) -> ColumnFidelity:
    freq = np.asarray(col.frequencies or [], dtype=np.float64)
    n = max(len(s), 1)
    if col.kind is Kind.BINARY:
        share = float((s.to_numpy(dtype="float64") != 0).mean()) if len(s) else 0.0
        error = abs(share - float(freq[0]))
        released, synthetic = f"share of 1s {freq[0]:.3f}", f"share of 1s {share:.3f}"
        outside = 0.0
    else:
        from ehrsynth.transforms.table import category_codes

        cats = list(col.categories or [])
        codes = category_codes(cats, s)
        counts = np.bincount(codes[codes >= 0], minlength=len(cats)) / n
        target = freq / freq.sum() if freq.sum() > 0 else freq
        error = 0.5 * float(np.abs(counts - target).sum())
        outside = float((codes < 0).mean()) if len(s) else 0.0
        released = f"{len(cats)} categories"
        synthetic = f"{int((counts > 0).sum())} categories"
    row = ColumnFidelity(
        col.name, col.kind.value, "TVD", error, released, synthetic, rel_missing, syn_missing, outside
    )
    if error > MAX_TVD + _allowance(n):
        row.problems.append(f"TVD {error:.3f} > {MAX_TVD}")
    return row


def _numeric(
    col: Column, s: pd.Series, missing: np.ndarray, syn_missing: float, rel_missing: float | None
) -> ColumnFidelity:
    knots = np.asarray(col.knots, dtype=np.float64)
    cdf = np.asarray(col.cdf, dtype=np.float64)
    y = numeric_values(col, s)[~missing]
    y = np.sort(y[np.isfinite(y)])
    lo, hi = (
        float(col.lower if col.lower is not None else knots[0]),
        float(col.upper if col.upper is not None else knots[-1]),
    )
    if len(y):
        below = np.searchsorted(y, knots, side="left") / len(y)  # P(y < knot), as the released CDF counts
        error = float(np.abs(below - cdf).max())
        outside = float(((y < lo) | (y > hi)).mean())
        synthetic = f"[{_fmt(col, y[0])}, {_fmt(col, y[-1])}]"
    else:
        error, outside, synthetic = float("nan"), 0.0, "—"
    row = ColumnFidelity(
        col.name, col.kind.value, "KS", error if math.isfinite(error) else None,
        f"[{_fmt(col, lo)}, {_fmt(col, hi)}]", synthetic, rel_missing, syn_missing, outside,
    )  # fmt: skip
    if math.isfinite(error) and error > MAX_KS + _allowance(len(y)):
        row.problems.append(f"KS {error:.3f} > {MAX_KS}")
    return row


def _fmt(col: Column, x: float) -> str:
    if col.kind is Kind.DATETIME:
        return str((pd.Timestamp("1970-01-01") + pd.Timedelta(days=float(x))).date())
    if is_integer_column(col):
        return f"{x:.0f}"
    return f"{x:.4g}"
