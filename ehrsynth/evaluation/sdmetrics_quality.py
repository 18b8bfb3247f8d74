"""The SDMetrics single-table quality score, when the optional ``sdmetrics`` package is installed.

SDMetrics compares every pair of columns, which is quadratic in the number of columns, so the score is
computed on at most :data:`MAX_COLUMNS` columns: every non-binary column first, then the most prevalent binary
codes. Both tables are passed as the evaluation typed them (binary codes and categories as categorical,
count/continuous/datetime as numbers, datetimes in days since 1970-01-01). Any failure inside SDMetrics gives
``None`` with a note instead of failing the whole evaluation.
"""

from __future__ import annotations

import importlib
import logging
import warnings

import pandas as pd

from ehrsynth.evaluation.columns import ColumnPlan
from ehrsynth.evaluation.prepare import Prepared

logger = logging.getLogger(__name__)

MAX_COLUMNS = 50


def _frame(table: Prepared, plan: ColumnPlan, columns: list[str]) -> pd.DataFrame:
    data: dict[str, object] = {}
    for name in columns:
        kind = plan.kinds[name]
        if kind == "binary":
            col = table.binary[:, plan.binary.index(name)]
            data[name] = pd.Series(col).map(lambda v: None if pd.isna(v) else str(int(v)))
        elif kind == "categorical":
            data[name] = table.categorical[name]
        else:
            data[name] = table.numeric[:, plan.numeric.index(name)]
    return pd.DataFrame(data, columns=columns)


def sdmetrics_quality(
    real: Prepared, synthetic: Prepared, plan: ColumnPlan, top_codes: list[str]
) -> tuple[float | None, str]:
    """(score in [0, 1] or None, note)."""
    try:
        module = importlib.import_module("sdmetrics.reports.single_table")
    except ImportError:
        return None, "sdmetrics is not installed (pip install sdmetrics) — score not computed"
    non_binary = [name for name in plan.kinds if plan.kinds[name] != "binary"]
    codes = [c for c in top_codes if c in plan.kinds]
    columns = (non_binary + codes)[:MAX_COLUMNS]
    metadata = {
        "columns": {
            name: {
                "sdtype": "numerical"
                if plan.kinds[name] in ("count", "continuous", "datetime")
                else "categorical"
            }
            for name in columns
        }
    }
    try:
        report = module.QualityReport()
        report.generate(
            _frame(real, plan, columns), _frame(synthetic, plan, columns), metadata, verbose=False
        )
        score = float(report.get_score())
    except Exception as exc:  # SDMetrics is optional third-party code: report, do not fail the evaluation
        warnings.warn(
            f"the SDMetrics quality report failed ({type(exc).__name__}: {exc}); the score is left out — "
            "check the sdmetrics version (pip install -U sdmetrics)",
            RuntimeWarning,
            stacklevel=3,
        )
        return None, f"SDMetrics QualityReport failed: {type(exc).__name__}: {exc}"
    subset = "" if len(columns) == len(plan.kinds) else f" on {len(columns)} of {len(plan.kinds)} columns"
    return score, f"SDMetrics QualityReport score (column shapes and pair trends){subset}"
