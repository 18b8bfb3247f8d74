"""Model directories: everything needed to sample, in safe formats only (JSON + safetensors, no pickle).

Layout::

    MODEL_DIR/
      config.json          estimator class, parameters, library version, fitted scalars, history
      schema.json          the schema the model was fitted with
      privacy.json         the privacy record (ε, δ, accountant, every mechanism) — recompute ε from it
      weights.safetensors  autoencoder.*, generator.*, discriminator.* tensors
      manifest.json        sha256 of every file above, checked on load

A directory written by someone else is safe to load: nothing is executed or unpickled, the parameters are
validated, and a missing or altered file raises :class:`~ehrsynth.errors.ModelDirError`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ehrsynth._version import __version__
from ehrsynth.errors import ModelDirError
from ehrsynth.io.atomic import sha256_file, write_text_atomic
from ehrsynth.io.tensors import load_tensors, prefixed, save_tensors, unprefixed

if TYPE_CHECKING:
    from ehrsynth.estimator import MedGAN

FORMAT = "ehrsynth-model"
FORMAT_VERSION = 1
FILES = ("config.json", "schema.json", "privacy.json", "weights.safetensors")
UNSAVED_PARAMS = ("progress", "verbose", "checkpoint_dir")


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


def save_model(model: MedGAN, path: str | os.PathLike[str]) -> None:
    d = Path(path)
    if d.exists() and not d.is_dir():
        raise ModelDirError(f"{str(d)!r} exists and is not a directory")
    if not d.resolve().parent.is_dir():
        raise ModelDirError(f"parent directory of {str(d)!r} does not exist; create it first")
    d.mkdir(exist_ok=True)
    params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in model.get_params().items()}
    for key in UNSAVED_PARAMS:
        params.pop(key, None)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "estimator": type(model).__name__,
        "params": params,
        "fitted": {
            "n_features_in": int(model.n_features_in_),
            "feature_names_in": [str(c) for c in model.feature_names_in_],
            "schedule": vars(model.schedule_),
        },
        "history": model.history_,
    }
    tensors = {}
    for name, module in model._modules().items():
        tensors.update(prefixed(name, module.state_dict()))
    save_tensors(d / "weights.safetensors", tensors)
    write_text_atomic(d / "config.json", _json(config))
    write_text_atomic(d / "schema.json", _json(model.schema_.to_dict()))
    write_text_atomic(d / "privacy.json", _json(model.privacy_.to_dict()))
    manifest = {"format": FORMAT, "files": {name: sha256_file(d / name) for name in FILES}}
    write_text_atomic(d / "manifest.json", _json(manifest))


def verify_model_dir(path: str | os.PathLike[str]) -> Path:
    d = Path(path)
    if not d.is_dir():
        raise ModelDirError(f"model directory {str(d)!r} does not exist")
    manifest_path = d / "manifest.json"
    if not manifest_path.is_file():
        raise ModelDirError(f"{str(d)!r} has no manifest.json; it is not an ehrsynth model directory")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        listed = manifest["files"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ModelDirError(f"manifest.json in {str(d)!r} is unreadable: {exc}") from exc
    for name in FILES:
        if name not in listed:
            raise ModelDirError(f"manifest.json in {str(d)!r} does not list {name}")
        file = d / name
        if not file.is_file():
            raise ModelDirError(f"model directory {str(d)!r} is missing {name}; re-save or re-fit the model")
        if sha256_file(file) != listed[name]:
            raise ModelDirError(
                f"{name} in {str(d)!r} does not match its sha256 in manifest.json: the file was altered or "
                "corrupted; do not use this model"
            )
    return d


def read_json(d: Path, name: str) -> Any:
    try:
        return json.loads((d / name).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelDirError(f"{name} in {str(d)!r} is not valid JSON: {exc}") from exc


def load(path: str | os.PathLike[str], *, device: str = "cpu") -> MedGAN:
    """Load a model directory saved with :meth:`MedGAN.save` (verifies the manifest first)."""
    from ehrsynth.dp.accounting import PrivacyRecord
    from ehrsynth.estimator import MedGAN, resolve_device
    from ehrsynth.schema import Schema
    from ehrsynth.training.schedule import Schedule

    d = verify_model_dir(path)
    config = read_json(d, "config.json")
    if config.get("format") != FORMAT or config.get("estimator") != "MedGAN":
        raise ModelDirError(f"{str(d)!r} holds {config.get('estimator')!r}, not a MedGAN model")
    if config.get("format_version") != FORMAT_VERSION:
        raise ModelDirError(f"model format version {config.get('format_version')!r} is not supported")
    params = dict(config["params"])
    for key in ("generator_dims", "discriminator_dims"):
        params[key] = tuple(params[key])
    model = MedGAN(**params)
    model.device = device
    schema = Schema.from_dict(read_json(d, "schema.json"))
    model._build_modules(schema)
    tensors = load_tensors(d / "weights.safetensors")
    torch_device = resolve_device(device)
    for name, module in model._modules().items():
        try:
            module.load_state_dict(unprefixed(name, tensors))
        except RuntimeError as exc:
            raise ModelDirError(
                f"weights for {name} in {str(d)!r} do not fit the schema/config: {exc}"
            ) from exc
        module.to(torch_device).eval()
    model.privacy_ = PrivacyRecord.from_dict(read_json(d, "privacy.json"))
    fitted = config["fitted"]
    model.n_features_in_ = int(fitted["n_features_in"])
    import numpy as np

    model.feature_names_in_ = np.asarray(fitted["feature_names_in"], dtype=object)
    model.schedule_ = Schedule(**fitted["schedule"])
    model.history_ = config.get("history", {})
    return model
