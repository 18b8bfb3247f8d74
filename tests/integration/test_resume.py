"""Training interrupted during the GAN phase resumes from its checkpoint with the accountant state intact."""

from __future__ import annotations

import pytest
from support import make_table

from ehrsynth import MedGAN
from ehrsynth.training.progress import ProgressEvent

SETTINGS = {
    "engine": "dpsgd",
    "epsilon": 2.0,
    "epochs": 3,
    "ae_epochs": 1,
    "bn_burn_in_batches": 2,
    "checkpoint_every": 5,
}


class Interrupt(Exception):
    pass


def test_resume_gives_same_epsilon_and_steps(tmp_path) -> None:
    df = make_table(2000)
    full = MedGAN(random_state=0, **SETTINGS).fit(df)

    def stop_midway(event: ProgressEvent) -> None:
        if event.phase == "gan" and event.step >= 12:
            raise Interrupt

    ckpt = tmp_path / "ckpt"
    with pytest.raises(Interrupt):
        MedGAN(random_state=0, checkpoint_dir=str(ckpt), progress=stop_midway, **SETTINGS).fit(df)
    assert (ckpt / "checkpoint.json").is_file()

    resumed_events: list[ProgressEvent] = []
    resumed = MedGAN(
        random_state=0, checkpoint_dir=str(ckpt), progress=resumed_events.append, **SETTINGS
    ).fit(df)
    assert all(
        e.phase == "gan" for e in resumed_events
    )  # the AE phase was not re-run (no budget spent twice)
    assert min(e.step for e in resumed_events) > 10
    assert resumed.privacy_.to_dict() == full.privacy_.to_dict()
    assert resumed.privacy_.epsilon_spent == pytest.approx(full.privacy_.epsilon_spent)
    assert not (ckpt / "checkpoint.json").exists()  # cleared after a complete run


def test_checkpoint_from_other_settings_is_refused(tmp_path) -> None:
    df = make_table(2000)
    ckpt = tmp_path / "ckpt"

    def stop(event: ProgressEvent) -> None:
        if event.phase == "gan" and event.step >= 6:
            raise Interrupt

    with pytest.raises(Interrupt):
        MedGAN(random_state=0, checkpoint_dir=str(ckpt), progress=stop, **SETTINGS).fit(df)
    from ehrsynth.errors import ModelDirError

    with pytest.raises(ModelDirError, match="other settings or data"):
        MedGAN(random_state=0, checkpoint_dir=str(ckpt), **{**SETTINGS, "epsilon": 3.0}).fit(df)
