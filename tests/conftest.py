"""Shared fixtures. Real data lives in ../shared/data (never copied into the repo); tests that need it
skip cleanly when it is absent."""

from __future__ import annotations

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
