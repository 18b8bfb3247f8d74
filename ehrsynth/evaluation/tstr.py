"""Train on synthetic, test on real (TSTR) for a declared target column.

The target's own encoded columns are removed from the features; everything else is the shared design matrix.
A binary or categorical target is a classification task: multinomial logistic regression (lbfgs, C=1, at most
300 iterations), scored on the real test table by AUROC (binary: the usual AUROC; more classes: the macro
average of one-vs-rest AUROCs over the classes present in test), accuracy, macro F1 and the Brier skill
score. A count, continuous or
datetime target is a regression task: ridge regression (alpha=1), scored by R², MAE and RMSE. The same
model trained on the real training table is the ceiling. The constant-label rule of dimension-wise prediction
applies: a model whose training labels hold one class predicts that class for every test row (AUROC 0.5).
Rows whose target is missing are left out.

Why a Brier skill score beside AUROC: AUROC ignores the size of the predicted differences, so a model fitted on
a table without any dependence (a column-shuffled copy) gets small *random* coefficients whose direction, on
strongly correlated test features, can rank the test rows well or badly by chance (seen on a generated 3-factor
table: 0.39 to 0.81 over 8 shuffles; the mean over many codes, as in dimension-wise prediction, averages this
out). The Brier skill score, 1 − Brier(model) / Brier(predicting the real training class frequencies), stays
at about 0 or below for such a model and is positive only when the predictions carry real information.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, r2_score, roc_auc_score

from ehrsynth.errors import InvalidDataError, InvalidParameterError
from ehrsynth.evaluation.columns import ColumnPlan
from ehrsynth.evaluation.encoding import Encoder
from ehrsynth.evaluation.prepare import MISSING, Prepared

CLASSIFIER = "LogisticRegression(solver='lbfgs', C=1.0, max_iter=300)"
REGRESSOR = "Ridge(alpha=1.0)"


@dataclass(frozen=True)
class TargetTask:
    """A validated TSTR target: its kind, task and (for classification) the training classes."""

    target: str
    kind: str
    task: str
    classes: list[str]
    prior: list[float]


def check_target_name(target: str, columns: list[str], plan: ColumnPlan) -> None:
    """Fail early when ``target`` is not an evaluated column of the training table."""
    if target in plan.excluded:
        raise InvalidParameterError(
            f"target column {target!r} is excluded from the evaluation ({plan.excluded[target]}); "
            "choose a binary, categorical or numeric column",
            column=target,
        )
    if target not in plan.kinds:
        shown = ", ".join(repr(c) for c in list(plan.kinds)[:15])
        raise InvalidParameterError(
            f"target column {target!r} is not in the training table; choose one of: {shown}"
            + (" ..." if len(plan.kinds) > 15 else ""),
            column=target,
        )
    if target not in columns:  # pragma: no cover - plan.kinds is built from the columns
        raise InvalidParameterError(f"target column {target!r} is not in the training table", column=target)


def target_values(table: Prepared, plan: ColumnPlan, target: str) -> np.ndarray:
    """The target of every row: strings (classification; missing → None) or floats (regression; NaN)."""
    kind = plan.kinds[target]
    if kind == "binary":
        col = table.binary[:, plan.binary.index(target)]
        return np.array([None if np.isnan(v) else str(int(v)) for v in col], dtype=object)
    if kind == "categorical":
        values = table.categorical[target]
        return np.array([None if v == MISSING else v for v in values], dtype=object)
    return table.numeric[:, plan.numeric.index(target)].astype(np.float64)


def _observed(values: np.ndarray) -> np.ndarray:
    if values.dtype == object:
        return np.array([v is not None for v in values], dtype=bool)
    return ~np.isnan(values)


def make_task(target: str, plan: ColumnPlan, train: Prepared, test: Prepared) -> TargetTask:
    """Validate the target on the real tables: at least 2 classes (or values) in train and in test."""
    kind = plan.kinds[target]
    task = "classification" if kind in ("binary", "categorical") else "regression"
    y_train, y_test = target_values(train, plan, target), target_values(test, plan, target)
    classes: list[str] = []
    prior: list[float] = []
    for what, y in (("training", y_train), ("test", y_test)):
        observed = y[_observed(y)]
        distinct = np.unique(observed.astype(str) if task == "classification" else observed)
        if len(distinct) < 2:
            found = f"only {str(distinct[0])!r}" if len(distinct) else "no observed value"
            raise InvalidDataError(
                f"target column {target!r} has {found} in the {what} table; TSTR needs at least 2 "
                f"{'classes' if task == 'classification' else 'distinct values'} there "
                "(choose another target or another split)",
                column=target,
            )
        if what == "training" and task == "classification":
            classes = [str(c) for c in distinct]
            prior = [float(np.mean(observed.astype(str) == c)) for c in classes]
    return TargetTask(target=target, kind=kind, task=task, classes=classes, prior=prior)


def _macro_auroc(y_test: np.ndarray, proba: np.ndarray, classes: list[str]) -> float | None:
    if len(classes) == 2:
        pos = y_test == classes[1]
        if pos.all() or not pos.any():
            return None
        return float(roc_auc_score(pos, proba[:, 1]))
    scores = []
    for k, cls in enumerate(classes):
        pos = y_test == cls
        if pos.any() and not pos.all():
            scores.append(roc_auc_score(pos, proba[:, k]))
    return float(np.mean(scores)) if scores else None


def _brier(y_test: np.ndarray, proba: np.ndarray, classes: list[str]) -> float:
    onehot = np.stack([y_test == c for c in classes], axis=1).astype(np.float64)
    return float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))


def _classify(
    x: sp.spmatrix, y: np.ndarray, x_test: sp.spmatrix, y_test: np.ndarray, task: TargetTask
) -> dict[str, Any]:
    classes = task.classes
    labels = np.unique(y)
    proba = np.zeros((x_test.shape[0], len(classes)))
    reference = np.tile(np.asarray(task.prior, dtype=np.float64), (x_test.shape[0], 1))
    if len(labels) == 1:
        pred = np.full(x_test.shape[0], labels[0], dtype=object)
        if labels[0] in classes:
            proba[:, classes.index(labels[0])] = 1.0
    else:
        model = LogisticRegression(solver="lbfgs", C=1.0, max_iter=300)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x, y)
        p = model.predict_proba(x_test)
        for k, cls in enumerate(model.classes_):
            if cls in classes:
                proba[:, classes.index(cls)] = p[:, k]
        pred = model.classes_[np.argmax(p, axis=1)]
    return {
        "auroc": _macro_auroc(y_test, proba, classes),
        "accuracy": float(accuracy_score(y_test, pred)),
        "f1_macro": float(f1_score(y_test, pred, labels=classes, average="macro", zero_division=0.0)),
        "brier_skill": 1.0 - _brier(y_test, proba, classes) / _brier(y_test, reference, classes),
        "constant_labels": bool(len(labels) == 1),
    }


def _regress(x: sp.spmatrix, y: np.ndarray, x_test: sp.spmatrix, y_test: np.ndarray) -> dict[str, Any]:
    pred = Ridge(alpha=1.0).fit(x, y).predict(x_test)
    return {
        "r2": float(r2_score(y_test, pred)),
        "mae": float(mean_absolute_error(y_test, pred)),
        "rmse": float(np.sqrt(np.mean((y_test - pred) ** 2))),
    }


def run_tstr(
    task: TargetTask,
    encoder: Encoder,
    test: tuple[Prepared, sp.csc_matrix],
    sources: dict[str, tuple[Prepared, sp.csc_matrix]],
) -> dict[str, dict[str, Any]]:
    """Metrics of the model trained on each source (e.g. ``"real"``, ``"synthetic"``), tested on ``test``."""
    plan = encoder.plan
    drop = set(encoder.columns_of(task.target).tolist())
    keep = np.array([j for j in range(len(encoder.names_)) if j not in drop], dtype=np.int64)

    def xy(table: Prepared, x: sp.csc_matrix) -> tuple[sp.spmatrix, np.ndarray]:
        y = target_values(table, plan, task.target)
        ok = _observed(y)
        feats = x[:, keep].tocsr()
        return feats[ok], y[ok]

    x_test, y_test = xy(*test)
    out: dict[str, dict[str, Any]] = {}
    for name, (table, x) in sources.items():
        x_train, y_train = xy(table, x)
        if len(y_train) == 0:
            out[name] = {"note": "no row with an observed target"}
        elif task.task == "classification":
            out[name] = _classify(x_train, y_train.astype(str), x_test, y_test.astype(str), task)
        else:
            out[name] = _regress(x_train, y_train.astype(np.float64), x_test, y_test.astype(np.float64))
    return out


def tstr_section(task: TargetTask, per_source: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The report's ``tstr`` section: nested per-source metrics plus flat headline keys."""
    metrics = (
        ("auroc", "accuracy", "f1_macro", "brier_skill")
        if task.task == "classification"
        else ("r2", "mae", "rmse")
    )
    out: dict[str, Any] = {
        "target": task.target,
        "kind": task.kind,
        "task": task.task,
        "model": CLASSIFIER if task.task == "classification" else REGRESSOR,
    }
    if task.task == "classification":
        out["classes"] = task.classes
    for source in ("real", "synthetic"):
        out[source] = per_source.get(source)
        for metric in metrics:
            out[f"{metric}_{source}"] = (per_source.get(source) or {}).get(metric)
    return out
