"""What every frozen fit configuration shares (``MedGANConfig``, ``ImageGANConfig``): whether it is private,
and the fingerprint a checkpoint must have been made with."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ehrsynth.dp.budget import DPConfig


class FitConfig:
    """Mixin for a frozen dataclass with a ``dp`` field (``None``: no differential privacy) and a
    ``checkpoint_dir`` field (where a run keeps its checkpoints; not part of what it learns)."""

    dp: DPConfig | None
    checkpoint_dir: str | None

    @property
    def private(self) -> bool:
        return self.dp is not None

    def fingerprint(self) -> dict[str, Any]:
        """The settings a checkpoint must have been made with (JSON values; no run-time-only fields)."""
        out = asdict(self)  # type: ignore[call-overload]  # subclasses are dataclasses
        out.pop("checkpoint_dir")
        return out
