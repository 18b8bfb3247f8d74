"""Loading a MedGAN model directory (:func:`load_medgan`, re-exported as ``ehrsynth.load``): the directory may
come from someone else, so the manifest is verified first, then every file is validated, and anything
malformed is a :class:`~ehrsynth.errors.ModelDirError`. Loading executes nothing (JSON + safetensors)."""

from __future__ import annotations

import os

from ehrsynth.errors import EhrsynthError, ModelDirError
from ehrsynth.estimator import MedGAN
from ehrsynth.io.model_dir import (
    fitted_fields,
    listed_files,
    load_weights,
    read_config,
    read_json,
    read_privacy,
)
from ehrsynth.io.model_dir import verify_model_dir as verify
from ehrsynth.medgan_files import (
    FITTED_KEYS,
    LONG_INPUT,
    OPTIONAL_FITTED_KEYS,
    OPTIONAL_PARAMS,
    SCHEMA_FILE,
    check_long_input,
    checked_calibration,
    checked_date_gaps,
    checked_date_orders,
    checked_params,
    checked_release_notes,
    checked_row_sizes,
    checked_schedule,
)
from ehrsynth.params import RUNTIME_PARAMS
from ehrsynth.schema import Schema
from ehrsynth.training.device import resolve_device
from ehrsynth.training.medgan_parts import MedGANState, build_modules


def load_medgan(path: str | os.PathLike[str], *, device: str = "cpu") -> MedGAN:
    """Load a model directory saved with :meth:`MedGAN.save` onto ``device``."""
    d = verify(path)
    where = f"config.json in {str(d)!r}"
    names = [k for k in MedGAN._constraints if k not in RUNTIME_PARAMS]
    hint = " (image models load with ehrsynth.imaging.load)"
    config = read_config(d, "MedGAN", names, hint=hint, optional=tuple(OPTIONAL_PARAMS))
    listed = listed_files(d)
    if SCHEMA_FILE not in listed:
        raise ModelDirError(f"manifest.json in {str(d)!r} does not list {SCHEMA_FILE}")
    params = {**OPTIONAL_PARAMS, **config["params"]}  # directories saved before a parameter existed
    model = MedGAN(**checked_params(params, MedGAN._constraints, where))
    model.device = device
    try:
        schema = Schema.from_dict(read_json(d, SCHEMA_FILE))
        modules = build_modules(schema, model._architecture())
    except (EhrsynthError, ValueError, TypeError, KeyError) as exc:
        raise ModelDirError(f"{SCHEMA_FILE} in {str(d)!r} is malformed: {exc}") from exc
    load_weights(d, modules.as_dict(), resolve_device(device))
    fitted = config["fitted"]
    fitted_fields({k: v for k, v in fitted.items() if k not in OPTIONAL_FITTED_KEYS}, FITTED_KEYS, where)
    state = MedGANState(
        schema=schema,
        modules=modules,
        privacy=read_privacy(d),
        calibration=checked_calibration(fitted["calibration"], schema, where),
        history=config["history"],
        schedule=checked_schedule(fitted["schedule"], where),
        row_sizes=checked_row_sizes(fitted.get("row_sizes"), where),
        date_gaps=checked_date_gaps(fitted.get("date_gaps"), schema, where),
        date_orders=checked_date_orders(fitted.get("date_orders"), schema, where),
        release_notes=checked_release_notes(fitted.get("release_notes"), where),
    )
    columns = [c.name for c in schema.columns]
    if fitted["feature_names_in"] != columns or fitted["n_features_in"] != len(columns):
        raise ModelDirError(f"{where}: 'feature_names_in'/'n_features_in' do not match {SCHEMA_FILE}")
    model._set_state(state)
    model.long_input_ = check_long_input(read_json(d, LONG_INPUT)) if LONG_INPUT in listed else None
    return model
