"""Shared fixtures. Real data lives in ../shared/data (never copied into the repo); tests that need it
skip cleanly when it is absent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def mimic_demo(shared_data: Path) -> Path:
    path = shared_data / "mimic-iii-demo"
    if not (path / "DIAGNOSES_ICD.csv").is_file():
        pytest.skip("MIMIC-III demo not present")
    return path


@pytest.fixture(scope="session")
def diabetes_csv(shared_data: Path) -> Path:
    path = shared_data / "diabetes130" / "diabetic_data_dev.csv.gz"
    if not path.is_file():
        pytest.skip("diabetes130 data not present")
    return path


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Every test runs torch on one thread: the tiny models here train faster on one, and much faster when
    other jobs share the machine's cores. The previous setting is restored after the test."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
