"""Model directories: everything needed to sample, in safe formats only (JSON + safetensors, no pickle).

Layout (every estimator)::

    MODEL_DIR/
      config.json          format, estimator class, parameters, library version, fitted scalars, history
      privacy.json         the privacy record (ε, δ, accountant, every mechanism) — recompute ε from it
      weights.safetensors  one prefix per module: generator.*, discriminator.*, ...
      <extra>.json         estimator-specific JSON files (MedGAN: schema.json)
      manifest.json        sha256 of every file above, checked on load

The generic part (:func:`write_model_dir`, :func:`verify_model_dir`, :func:`read_config`,
:func:`load_weights`, :func:`read_privacy`) is shared by the tabular :class:`~ehrsynth.estimator.MedGAN` and the
imaging ``ImageGAN``; :func:`save_model` / :func:`load` are the MedGAN-specific part.

A directory written by someone else is safe to load: nothing is executed or unpickled, the parameters are
validated, and a missing or altered file raises :class:`~ehrsynth.errors.ModelDirError`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ehrsynth._version import __version__
from ehrsynth.errors import ModelDirError
from ehrsynth.io.atomic import sha256_file, write_text_atomic
from ehrsynth.io.tensors import load_tensors, prefixed, save_tensors, unprefixed

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ehrsynth.dp.accounting import PrivacyRecord
    from ehrsynth.estimator import MedGAN

FORMAT = "ehrsynth-model"
FORMAT_VERSION = 1
WEIGHTS = "weights.safetensors"
COMMON_FILES = ("config.json", "privacy.json", WEIGHTS)
FILES = ("config.json", "schema.json", "privacy.json", WEIGHTS)  # a MedGAN directory
UNSAVED_PARAMS = ("progress", "verbose", "checkpoint_dir")


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


def saved_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Estimator parameters as JSON values (tuples → lists), without the run-time-only ones."""
    out = {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()}
    for key in UNSAVED_PARAMS:
        out.pop(key, None)
    return out


# -- generic: any estimator ---------------------------------------------------------------------------------
def write_model_dir(
    path: str | os.PathLike[str],
    *,
    estimator: str,
    params: Mapping[str, Any],
    fitted: Mapping[str, Any],
    history: Any,
    modules: Mapping[str, nn.Module],
    privacy: PrivacyRecord,
    extra_json: Mapping[str, Any] | None = None,
) -> Path:
    """Write config.json, privacy.json, weights.safetensors (``modules`` under their names), ``extra_json``
    (file name → JSON value) and, last, manifest.json with the sha256 of every other file."""
    d = Path(path)
    if d.exists() and not d.is_dir():
        raise ModelDirError(f"{str(d)!r} exists and is not a directory")
    if not d.resolve().parent.is_dir():
        raise ModelDirError(f"parent directory of {str(d)!r} does not exist; create it first")
    extra = dict(extra_json or {})
    for name in extra:
        if name in (*COMMON_FILES, "manifest.json") or not _plain_name(name) or not name.endswith(".json"):
            raise ModelDirError(f"internal: {name!r} cannot be an extra model-dir JSON file")
    d.mkdir(exist_ok=True)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "estimator": estimator,
        "params": dict(params),
        "fitted": dict(fitted),
        "history": history,
    }
    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        tensors.update(prefixed(name, module.state_dict()))
    save_tensors(d / WEIGHTS, tensors)
    write_text_atomic(d / "config.json", _json(config))
    write_text_atomic(d / "privacy.json", _json(privacy.to_dict()))
    for name, value in extra.items():
        write_text_atomic(d / name, _json(value))
    names = [*COMMON_FILES, *extra]
    manifest = {"format": FORMAT, "files": {name: sha256_file(d / name) for name in names}}
    write_text_atomic(d / "manifest.json", _json(manifest))
    return d


def _plain_name(name: object) -> bool:
    return isinstance(name, str) and bool(name) and name == Path(name).name and name not in (".", "..")


def verify_model_dir(path: str | os.PathLike[str], required: Sequence[str] = COMMON_FILES) -> Path:
    """Check that ``path`` is a model directory whose manifest lists ``required`` and whose every listed file
    is present with its recorded sha256. Returns the directory."""
    d = Path(path)
    if not d.is_dir():
        raise ModelDirError(f"model directory {str(d)!r} does not exist")
    manifest_path = d / "manifest.json"
    if not manifest_path.is_file():
        raise ModelDirError(f"{str(d)!r} has no manifest.json; it is not an ehrsynth model directory")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        listed = manifest["files"]
        if not isinstance(listed, dict):
            raise TypeError("'files' is not an object")
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ModelDirError(f"manifest.json in {str(d)!r} is unreadable: {exc}") from exc
    for name in required:
        if name not in listed:
            raise ModelDirError(f"manifest.json in {str(d)!r} does not list {name}")
    for name, digest in listed.items():
        if not _plain_name(name):
            raise ModelDirError(f"manifest.json in {str(d)!r} lists {name!r}, which is not a plain file name")
        file = d / name
        if not file.is_file():
            raise ModelDirError(f"model directory {str(d)!r} is missing {name}; re-save or re-fit the model")
        if sha256_file(file) != digest:
            raise ModelDirError(
                f"{name} in {str(d)!r} does not match its sha256 in manifest.json: the file was altered or "
                "corrupted; do not use this model"
            )
    return d


def require_files(d: Path, names: Sequence[str]) -> None:
    """Check that the (verified) manifest of ``d`` lists ``names`` — files only some estimators write."""
    listed = read_json(d, "manifest.json").get("files", {})
    for name in names:
        if name not in listed:
            raise ModelDirError(f"manifest.json in {str(d)!r} does not list {name}")


def read_json(d: Path, name: str) -> Any:
    try:
        return json.loads((d / name).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelDirError(f"{name} in {str(d)!r} is not valid JSON: {exc}") from exc


def read_config(d: Path, estimator: str, *, hint: str = "") -> dict[str, Any]:
    """config.json of a verified directory, checked to hold ``estimator`` in a supported format version."""
    config = read_json(d, "config.json")
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelDirError(f"config.json in {str(d)!r} is not an ehrsynth model config")
    if config.get("estimator") != estimator:
        raise ModelDirError(f"{str(d)!r} holds {config.get('estimator')!r}, not a {estimator} model{hint}")
    if config.get("format_version") != FORMAT_VERSION:
        raise ModelDirError(f"model format version {config.get('format_version')!r} is not supported")
    for key in ("params", "fitted"):
        if not isinstance(config.get(key), dict):
            raise ModelDirError(f"config.json in {str(d)!r} has no {key!r} object")
    return config


def load_weights(d: Path, modules: Mapping[str, nn.Module], device: torch.device | str = "cpu") -> None:
    """Load weights.safetensors into ``modules`` (by name), move them to ``device`` and set eval mode."""
    tensors = load_tensors(d / WEIGHTS)
    for name, module in modules.items():
        try:
            module.load_state_dict(unprefixed(name, tensors))
        except RuntimeError as exc:
            raise ModelDirError(
                f"weights for {name} in {str(d)!r} do not fit the schema/config: {exc}"
            ) from exc
        module.to(device).eval()


def read_privacy(d: Path) -> PrivacyRecord:
    from ehrsynth.dp.accounting import PrivacyRecord

    return PrivacyRecord.from_dict(read_json(d, "privacy.json"))


# -- MedGAN -------------------------------------------------------------------------------------------------
def save_model(model: MedGAN, path: str | os.PathLike[str]) -> None:
    write_model_dir(
        path,
        estimator=type(model).__name__,
        params=saved_params(model.get_params()),
        fitted={
            "n_features_in": int(model.n_features_in_),
            "feature_names_in": [str(c) for c in model.feature_names_in_],
            "schedule": vars(model.schedule_),
            "calibration": getattr(model, "calibration_", None),
        },
        history=model.history_,
        modules=model._modules(),
        privacy=model.privacy_,
        extra_json={"schema.json": model.schema_.to_dict()},
    )


def _calibration(raw: Any, schema: Any) -> dict[str, list[Any]] | None:
    """Validate the stored marginal calibration (the directory may come from someone else): one finite logit
    shift per encoded unit of the schema's layout."""
    if raw is None:
        return None
    from ehrsynth.transforms import TableTransformer

    try:
        shift = [float(x) for x in raw["shift"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelDirError(f"config.json: malformed 'calibration' ({exc}); re-save the model") from exc
    if len(shift) != TableTransformer(schema).width:
        raise ModelDirError(
            "config.json: 'calibration' does not match the schema's layout; re-save the model"
        )
    if not all(math.isfinite(x) for x in shift):
        raise ModelDirError("config.json: 'calibration' holds non-finite shifts; re-save the model")
    return {"shift": shift}


def load(path: str | os.PathLike[str], *, device: str = "cpu") -> MedGAN:
    """Load a model directory saved with :meth:`MedGAN.save` (verifies the manifest first)."""
    import numpy as np

    from ehrsynth.estimator import MedGAN, resolve_device
    from ehrsynth.schema import Schema
    from ehrsynth.training.schedule import Schedule

    d = verify_model_dir(path)
    config = read_config(d, "MedGAN", hint=" (image models load with ehrsynth.imaging.load)")
    require_files(d, FILES)
    params = dict(config["params"])
    for key in ("generator_dims", "discriminator_dims"):
        params[key] = tuple(params[key])
    model = MedGAN(**params)
    model.device = device
    schema = Schema.from_dict(read_json(d, "schema.json"))
    model._build_modules(schema)
    load_weights(d, model._modules(), resolve_device(device))
    model.privacy_ = read_privacy(d)
    fitted = config["fitted"]
    model.n_features_in_ = int(fitted["n_features_in"])
    model.feature_names_in_ = np.asarray(fitted["feature_names_in"], dtype=object)
    model.schedule_ = Schedule(**fitted["schedule"])
    model.calibration_ = _calibration(fitted.get("calibration"), schema)
    model.history_ = config.get("history", {})
    return model
