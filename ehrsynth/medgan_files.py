"""The MedGAN-specific files of a model directory, validated on load (the directory may come from someone
else): the fitted fields of config.json, the marginal calibration and ``long_input.json``. Each check raises
:class:`~ehrsynth.errors.ModelDirError`, never ``TypeError``/``KeyError``."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

from ehrsynth.errors import EhrsynthError, ModelDirError
from ehrsynth.params import Constraint, validate
from ehrsynth.schema import Schema
from ehrsynth.training.schedule import Schedule
from ehrsynth.transforms.date_gaps import DateGap, DateOrder

SCHEMA_FILE = "schema.json"
LONG_INPUT = "long_input.json"
FITTED_KEYS = ("n_features_in", "feature_names_in", "schedule", "calibration")
OPTIONAL_FITTED_KEYS = (
    "row_sizes",
    "date_gaps",
    "date_orders",
    "release_notes",
)  # absent from directories saved before they existed
#: parameters absent from directories saved before they existed, with the value those fits had
OPTIONAL_PARAMS: dict[str, Any] = {"date_gaps": False}


def checked_schedule(raw: Any, where: str) -> Schedule:
    fields = {f.name: f.type for f in dataclasses.fields(Schedule)}
    if not isinstance(raw, dict) or set(raw) != set(fields):
        raise ModelDirError(f"{where}: 'schedule' must have exactly the keys {sorted(fields)}")
    ints = [k for k in fields if k != "sample_rate"]
    rate = raw["sample_rate"]
    if not all(
        isinstance(raw[k], int) and not isinstance(raw[k], bool) and raw[k] >= 0 for k in ints
    ) or not (
        rate is None or (isinstance(rate, (int, float)) and not isinstance(rate, bool) and 0 < rate <= 1)
    ):
        raise ModelDirError(f"{where}: 'schedule' holds a value of the wrong type or range")
    return Schedule(**raw)


def checked_calibration(raw: Any, schema: Schema, where: str) -> dict[str, Any] | None:
    """Validate the stored marginal calibration (the directory may come from someone else): one finite logit
    shift per encoded unit of the schema's layout."""
    if raw is None:
        return None
    from ehrsynth.transforms import TableTransformer
    from ehrsynth.transforms.table import POSITION_GRID

    transformer = TableTransformer(schema)
    try:
        if not set(raw) <= {"shift", "positions"} or "shift" not in raw:
            raise KeyError(f"keys {sorted(raw)}")
        shift = [float(x) for x in raw["shift"]]
        positions = {
            str(name): [[float(v) for v in row] for row in table]
            for name, table in (raw.get("positions") or {}).items()
        }
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelDirError(f"{where}: malformed 'calibration' ({exc}); re-save the model") from exc
    if len(shift) != transformer.width:
        raise ModelDirError(f"{where}: 'calibration' does not match the schema's layout; re-save the model")
    if not all(math.isfinite(x) for x in shift):
        raise ModelDirError(f"{where}: 'calibration' holds non-finite values; re-save the model")
    for name, table in positions.items():
        codec = transformer.codecs.get(name)
        ok = codec is not None and len(table) == codec.n_bins
        ok = ok and all(
            len(row) == len(POSITION_GRID) and all(0.0 <= v <= 1.0 for v in row) and row == sorted(row)
            for row in table
        )
        if not ok:
            raise ModelDirError(
                f"{where}: 'calibration' positions of column {name!r} do not match its bins; re-save the model"
            )
    return {"shift": shift, "positions": positions}


def checked_row_sizes(raw: Any, where: str) -> list[float] | None:
    """Validate the stored row-size histogram (None, or 2 to DEFAULT_MAX_CAP + 1 finite frequencies with some
    positive mass; released values may be negative)."""
    if raw is None:
        return None
    from ehrsynth.dp.sparse_marginals import DEFAULT_MAX_CAP

    ok = isinstance(raw, list) and 2 <= len(raw) <= DEFAULT_MAX_CAP + 1
    ok = ok and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in raw)
    if not ok or not any(x > 0 for x in raw):
        raise ModelDirError(
            f"{where}: 'row_sizes' must be null or a list of 2 to {DEFAULT_MAX_CAP + 1} finite frequencies "
            "with some positive mass; re-save the model"
        )
    return [float(x) for x in raw]


def _parsed(raw: Any, parse: Callable[[Any], Any], key: str, where: str) -> list[Any]:
    """``parse`` applied to each item of a stored list (None: empty); a malformed one is a ModelDirError."""
    from ehrsynth.errors import SchemaError

    if raw is None:
        return []
    try:
        if not isinstance(raw, list):
            raise SchemaError(f"expected a list, found {type(raw).__name__}")
        return [parse(item) for item in raw]
    except SchemaError as exc:
        raise ModelDirError(f"{where}: malformed {key!r} ({exc}); re-save the model") from exc


def checked_date_gaps(raw: Any, schema: Schema, where: str) -> tuple[DateGap, ...]:
    """Validate the stored date gaps (transforms/date_gaps.py): each gap column and its anchor are columns of
    the schema, the gap is numeric, and no column has two anchors or a cycle."""
    from ehrsynth.errors import SchemaError
    from ehrsynth.schema import Kind
    from ehrsynth.transforms.date_gaps import order_gaps

    gaps = _parsed(raw, DateGap.from_dict, "date_gaps", where)
    try:
        order_gaps(gaps)  # no column with two anchors, no cycle
    except SchemaError as exc:
        raise ModelDirError(f"{where}: malformed 'date_gaps' ({exc}); re-save the model") from exc
    names = set(schema.names)
    for g in gaps:
        col = schema[g.column] if g.column in names else None
        numeric = col is not None and (
            col.kind in (Kind.CONTINUOUS, Kind.COUNT, Kind.BINARY)
            or (
                col.kind is Kind.CATEGORICAL
                and all(isinstance(c, (int, float)) for c in col.categories or [])
            )
        )
        if not numeric or g.anchor not in names:
            raise ModelDirError(
                f"{where}: 'date_gaps' names {g.column!r} after {g.anchor!r}, which do not match the schema "
                "(the gap must be a modelled number of days); re-save the model"
            )
    return tuple(gaps)


def checked_date_orders(raw: Any, schema: Schema, where: str) -> tuple[DateOrder, ...]:
    """Validate the stored date orders: pairs of date columns of the schema (or gap columns: days rebuilt
    into dates before the orders are checked)."""
    from ehrsynth.schema import Kind

    orders = _parsed(raw, DateOrder.from_dict, "date_orders", where)
    names = {c.name: c.kind for c in schema.columns}
    for o in orders:
        if names.get(o.column) in (None, Kind.IDENTIFIER) or names.get(o.after) in (None, Kind.IDENTIFIER):
            raise ModelDirError(
                f"{where}: 'date_orders' names {o.column!r} after {o.after!r}, which are not modelled columns of "
                "the schema; re-save the model"
            )
    return tuple(orders)


def checked_params(raw: dict[str, Any], constraints: Mapping[str, Constraint], where: str) -> dict[str, Any]:
    """The saved parameters, validated against the same constraints as fit's."""
    params = dict(raw)
    for key in ("generator_dims", "discriminator_dims"):
        if isinstance(params[key], list):
            params[key] = tuple(params[key])
    try:
        validate(params, constraints)
    except EhrsynthError as exc:
        raise ModelDirError(f"{where}: {exc}; re-save the model") from exc
    return params


def check_long_input(raw: Any) -> dict[str, Any]:
    """Validate ``long_input.json``: how a long (patient, code) input was laid out, to write long output."""
    from ehrsynth.codes import GROUPINGS

    keys = {"patient", "code", "counts", "grouping"}
    if not isinstance(raw, dict) or set(raw) != keys:
        raise ModelDirError(f"{LONG_INPUT} must be an object with exactly the keys {sorted(keys)}")
    if not all(isinstance(raw[k], str) and raw[k] for k in ("patient", "code")):
        raise ModelDirError(f"{LONG_INPUT}: 'patient' and 'code' must be non-empty column names")
    if not isinstance(raw["counts"], bool) or raw["grouping"] not in (None, *GROUPINGS):
        raise ModelDirError(
            f"{LONG_INPUT}: 'counts' must be true/false, 'grouping' null or one of {GROUPINGS}"
        )
    return dict(raw)


def schema_source(schema: Schema | None) -> str:
    """Where the domains came from, as recorded in privacy.json (see PrivacyRecord.schema_source)."""
    if schema is None:
        return "released"
    if not schema.complete:
        return "declared+released"
    return "declared-data-derived" if schema.data_derived else "declared"


def checked_release_notes(raw: Any, where: str) -> tuple[str, ...]:
    """The stored release notes: a list of strings (absent in directories saved before they existed)."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(m, str) for m in raw):
        raise ModelDirError(f"{where}: 'release_notes' must be a list of strings")
    return tuple(raw)
