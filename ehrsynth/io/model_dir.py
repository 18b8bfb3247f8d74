"""Model directories, generic part: everything needed to sample, in safe formats only (JSON + safetensors).

Layout (every estimator)::

    MODEL_DIR/
      config.json          format, estimator class, parameters, library version, fitted values, history
      privacy.json         the privacy record (ε, δ, accountant, every mechanism) — recompute ε from it
      weights.safetensors  one prefix per module: generator.*, discriminator.*, ...
      <extra>.json         estimator-specific JSON files (MedGAN: schema.json, long_input.json)
      manifest.json        sha256 of every file above, checked on load

The estimators own their persistence (``MedGAN.save``/``ehrsynth.load``, ``ImageGAN.save``/
``ehrsynth.imaging.load``) on top of :func:`write_model_dir`, :func:`verify_model_dir`, :func:`read_config`,
:func:`load_weights` and :func:`read_privacy`.

A directory written by someone else is safe to load: nothing is executed or unpickled, symbolic links are
refused (never followed), the parameters are validated, ε is recomputed from the recorded mechanisms, and a
missing, altered or malformed file raises :class:`~ehrsynth.errors.ModelDirError`. The manifest detects
corruption and accidental edits, not a malicious author (who can rehash it): a model directory is as
trustworthy as whoever wrote it, except for ε, which is always recomputed.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ehrsynth._version import __version__
from ehrsynth.errors import EhrsynthError, ModelDirError
from ehrsynth.fsutil.atomic import sha256_file, write_text_atomic
from ehrsynth.fsutil.tensors import load_tensors, prefixed, save_tensors, unprefixed

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ehrsynth.dp.record import PrivacyRecord

FORMAT = "ehrsynth-model"
FORMAT_VERSION = 1
WEIGHTS = "weights.safetensors"
COMMON_FILES = ("config.json", "privacy.json", WEIGHTS)
CONFIG_KEYS = ("format", "format_version", "library_version", "estimator", "params", "fitted", "history")
EPSILON_TOLERANCE = (
    0.01  # relative: a recorded epsilon_spent further than this from the recomputed one is refused
)


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


# -- writing ------------------------------------------------------------------------------------------------
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
    if d.is_symlink() or (d.exists() and not d.is_dir()):
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


# -- verifying ----------------------------------------------------------------------------------------------
def _refuse_links(d: Path) -> None:
    """Symbolic links anywhere in the directory (or the directory itself) are refused, never followed."""
    if d.is_symlink():
        raise ModelDirError(f"model directory {str(d)!r} is a symbolic link; pass the real directory")
    with os.scandir(d) as entries:
        for entry in entries:
            if entry.is_symlink():
                raise ModelDirError(
                    f"model directory {str(d)!r} holds a symbolic link ({entry.name}); model directories hold "
                    "plain files only — replace the link by the file"
                )


def verify_model_dir(path: str | os.PathLike[str], required: Sequence[str] = COMMON_FILES) -> Path:
    """Check that ``path`` is a model directory of plain files whose manifest lists ``required`` and whose
    every listed file is present with its recorded sha256. Returns the directory."""
    d = Path(path)
    if not d.is_dir():
        raise ModelDirError(f"model directory {str(d)!r} does not exist")
    _refuse_links(d)
    if not (d / "manifest.json").is_file():
        raise ModelDirError(f"{str(d)!r} has no manifest.json; it is not an ehrsynth model directory")
    listed = listed_files(d)
    for name in required:
        if name not in listed:
            raise ModelDirError(f"manifest.json in {str(d)!r} does not list {name}")
    for name, digest in listed.items():
        if not _plain_name(name):
            raise ModelDirError(f"manifest.json in {str(d)!r} lists {name!r}, which is not a plain file name")
        file = d / name
        try:
            mode = os.lstat(file).st_mode
        except FileNotFoundError:
            raise ModelDirError(
                f"model directory {str(d)!r} is missing {name}; re-save or re-fit the model"
            ) from None
        if not stat.S_ISREG(mode):
            raise ModelDirError(f"{name} in {str(d)!r} is not a plain file")
        if sha256_file(file) != digest:
            raise ModelDirError(
                f"{name} in {str(d)!r} does not match its sha256 in manifest.json: the file was altered or "
                "corrupted; do not use this model"
            )
    return d


def listed_files(d: Path) -> dict[str, str]:
    """The manifest's file name → sha256 map."""
    manifest = read_json(d, "manifest.json")
    listed = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(listed, dict) or not all(isinstance(v, str) for v in listed.values()):
        raise ModelDirError(f"manifest.json in {str(d)!r} is unreadable: no 'files' object of sha256 strings")
    return listed


def read_json(d: Path, name: str) -> Any:
    try:
        with open(d / name, "rb", opener=_no_follow) as fh:
            return json.loads(fh.read().decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelDirError(f"{name} in {str(d)!r} is not valid JSON: {exc}") from exc
    except OSError as exc:
        raise ModelDirError(f"cannot read {name} in {str(d)!r}: {exc}") from exc


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | getattr(os, "O_NOFOLLOW", 0))


# -- reading (the estimators validate the values) -----------------------------------------------------------
def read_config(
    d: Path, estimator: str, param_names: Sequence[str], *, hint: str = "", optional: Sequence[str] = ()
) -> dict[str, Any]:
    """config.json of a verified directory, checked to hold ``estimator`` in a supported format version with
    exactly the keys it writes and exactly the parameters ``param_names`` (those in ``optional`` may be absent:
    directories saved before they existed)."""
    config = read_json(d, "config.json")
    where = f"config.json in {str(d)!r}"
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelDirError(f"{where} is not an ehrsynth model config")
    if config.get("estimator") != estimator:
        raise ModelDirError(f"{str(d)!r} holds {config.get('estimator')!r}, not a {estimator} model{hint}")
    if config.get("format_version") != FORMAT_VERSION:
        raise ModelDirError(f"model format version {config.get('format_version')!r} is not supported")
    _exact_keys(config, CONFIG_KEYS, where)
    for key in ("params", "fitted"):
        if not isinstance(config[key], dict):
            raise ModelDirError(f"{where} has no {key!r} object")
    present = [k for k in param_names if k not in optional or k in config["params"]]
    _exact_keys(config["params"], present, f"{where}, 'params'")
    check_history(config["history"], where)
    return config


def _exact_keys(obj: Mapping[str, Any], keys: Sequence[str], where: str) -> None:
    missing = sorted(set(keys) - set(obj))
    unknown = sorted(set(obj) - set(keys))
    if missing or unknown:
        raise ModelDirError(f"{where}: missing keys {missing}, unknown keys {unknown}; re-save the model")


def fitted_fields(fitted: Mapping[str, Any], keys: Sequence[str], where: str) -> None:
    """Check that ``fitted`` has exactly ``keys``."""
    _exact_keys(fitted, keys, f"{where}, 'fitted'")


def check_history(history: Any, where: str) -> None:
    """history: {phase: [{name: number}, ...]}."""
    ok = isinstance(history, dict) and all(
        isinstance(v, list)
        and all(
            isinstance(e, dict)
            and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
                for x in e.values()
            )
            for e in v
        )
        for v in history.values()
    )
    if not ok:
        raise ModelDirError(f"{where}: 'history' must map phases to lists of {{name: number}} entries")


def load_weights(d: Path, modules: Mapping[str, nn.Module], device: torch.device | str = "cpu") -> None:
    """Load weights.safetensors into ``modules`` (by name), move them to ``device`` and set eval mode."""
    try:
        tensors = load_tensors(d / WEIGHTS)
    except Exception as exc:  # safetensors raises its own error types on a truncated or foreign file
        raise ModelDirError(f"{WEIGHTS} in {str(d)!r} is not a readable safetensors file: {exc}") from exc
    for name, module in modules.items():
        try:
            module.load_state_dict(unprefixed(name, tensors))
        except RuntimeError as exc:
            raise ModelDirError(
                f"weights for {name} in {str(d)!r} do not fit the schema/config: {exc}"
            ) from exc
        module.to(device).eval()


def read_privacy(d: Path) -> PrivacyRecord:
    """privacy.json, validated, with ``epsilon_spent`` recomputed from its mechanisms: a recorded value that
    disagrees with the recomputation is refused (the printed/written ε is always the recomputed one)."""
    from ehrsynth.dp.record import PrivacyRecord

    try:
        record = PrivacyRecord.from_dict(read_json(d, "privacy.json"))
        if not record.private:
            return record
        recomputed = record.recompute()
    except (EhrsynthError, ValueError, TypeError, KeyError) as exc:
        if isinstance(exc, ModelDirError):
            raise
        raise ModelDirError(f"privacy.json in {str(d)!r} is malformed: {exc}") from exc
    recorded = float(record.epsilon_spent or 0.0)
    if not math.isfinite(recomputed) or abs(recorded - recomputed) > EPSILON_TOLERANCE * max(recomputed, 0.1):
        raise ModelDirError(
            f"privacy.json in {str(d)!r} records epsilon_spent = {recorded:.4g}, but its mechanisms compose to "
            f"{recomputed:.4g}: the privacy claim does not match what was run; do not use this model"
        )
    return dataclasses.replace(record, epsilon_spent=recomputed)
