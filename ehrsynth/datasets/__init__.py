"""Datasets: the bundled demo table (loaded from an installed package) and builders for public tables.

- :func:`load_demo` — the ACTG 175 HIV clinical-trial table shipped inside ``lifelines`` (``pip install
  "ehrsynth[demo]"``); nothing is copied into this project or downloaded.
- :func:`diabetes130_patient_table` — one row per patient from a user-supplied copy of the UCI
  Diabetes 130-US hospitals file, with 3-digit ICD-9 diagnosis indicators.
"""

from __future__ import annotations

from ehrsynth.datasets.demo import DEMO_CITATION, load_demo
from ehrsynth.datasets.diabetes130 import diabetes130_patient_table

__all__ = ["DEMO_CITATION", "diabetes130_patient_table", "load_demo"]
