"""Default schedules: the non-DP default finishes in minutes; the medGAN reference stays available."""

from __future__ import annotations

from ehrsynth.training.schedule import (
    NONDP_AE_STEPS,
    NONDP_GAN_ITERATIONS,
    REFERENCE_AE_BATCH,
    REFERENCE_BATCH,
    resolve_schedule,
)


def _nondp(n: int, **kwargs: int | None) -> tuple[int, int]:
    args = {"ae_epochs": None, "ae_batch_size": None, "epochs": None, "batch_size": None, **kwargs}
    s = resolve_schedule(n, dp=False, d_steps=2, **args)  # type: ignore[arg-type]
    return s.ae_steps, s.gan_iterations


def test_non_dp_default_is_capped_on_large_tables() -> None:
    ae, gan = _nondp(8000)
    assert ae == NONDP_AE_STEPS and gan == NONDP_GAN_ITERATIONS  # the reference would be 8,000 and 8,000


def test_small_tables_keep_the_reference_schedule() -> None:
    ae, gan = _nondp(500)
    assert ae == 100 * -(-500 // REFERENCE_AE_BATCH) and gan == 1000 * -(-500 // REFERENCE_BATCH)


def test_reference_schedule_by_explicit_epochs() -> None:
    ae, gan = _nondp(8000, ae_epochs=100, epochs=1000)
    assert ae == 100 * 8000 // REFERENCE_AE_BATCH and gan == 1000 * 8000 // REFERENCE_BATCH
