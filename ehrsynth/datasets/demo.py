"""The demo table: ACTG 175, a real HIV clinical trial, read from the installed ``lifelines`` package.

Nothing is copied into ehrsynth and nothing is downloaded: the table is the ``ACTG175.csv`` file that the
``lifelines`` package (MIT licence) ships in ``lifelines/datasets/``, first in lifelines 0.30.3, which needs
Python >= 3.11. Install it with ``pip install "ehrsynth[demo]"``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from ehrsynth.errors import EhrsynthError

logger = logging.getLogger(__name__)

DEMO_CITATION = (
    "ACTG 175: Hammer SM, Katzenstein DA, Hughes MD, et al. A trial comparing nucleoside monotherapy with "
    "combination therapy in HIV-infected adults with CD4 cell counts from 200 to 500 per cubic millimeter. "
    "N Engl J Med 1996;335:1081-1090. Table as distributed with the R package speff2trial and the Python "
    "package lifelines (MIT licence)."
)

#: Column groups of the demo table (all 27 columns, in file order).
IDENTIFIER_COLUMNS = ("pidnum",)
BINARY_COLUMNS = (
    "hemo", "homo", "drugs", "oprior", "z30", "zprior", "race", "gender", "str2",
    "symptom", "treat", "offtrt", "r", "cens",
)  # fmt: skip
CATEGORICAL_COLUMNS = ("karnof", "strat", "arms")
COUNT_COLUMNS = ("preanti", "cd40", "cd420", "cd496", "cd80", "cd820", "days")
CONTINUOUS_COLUMNS = ("age", "wtkg")
DEMO_COLUMNS = (
    "pidnum", "age", "wtkg", "hemo", "homo", "drugs", "karnof", "oprior", "z30", "zprior", "preanti",
    "race", "gender", "str2", "strat", "symptom", "treat", "offtrt", "cd40", "cd420", "cd496", "r",
    "cd80", "cd820", "cens", "days", "arms",
)  # fmt: skip

_LIFELINES = "lifelines"  # the distribution that ships the table (a seam for tests)
_INSTALL_HINT = 'install it with `pip install "ehrsynth[demo]"` (lifelines >= 0.30.3, Python >= 3.11)'


def _read_from_lifelines() -> pd.DataFrame:
    # Locate the file without importing lifelines (whose import pulls in autograd, formulaic, ...).
    spec = importlib.util.find_spec(_LIFELINES)
    if spec is None:
        raise EhrsynthError(
            f"the demo data ships with the lifelines package, which is not installed; {_INSTALL_HINT}"
        )
    for location in spec.submodule_search_locations or []:
        csv = Path(location) / "datasets" / "ACTG175.csv"
        if csv.is_file():
            return pd.read_csv(csv)
    try:  # a later lifelines may offer a loader instead of the bare file
        datasets: Any = importlib.import_module(f"{_LIFELINES}.datasets")
    except ImportError as exc:
        raise EhrsynthError(f"the lifelines package cannot be imported ({exc}); {_INSTALL_HINT}") from exc
    loader = getattr(datasets, "load_actg175", None)
    frame = loader() if callable(loader) else None
    if isinstance(frame, pd.DataFrame):
        return frame
    try:
        version = importlib.metadata.version(_LIFELINES)
    except importlib.metadata.PackageNotFoundError:
        version = "(unknown version)"
    raise EhrsynthError(
        f"the installed lifelines {version} does not ship the ACTG 175 table (ACTG175.csv); "
        f"upgrade it: {_INSTALL_HINT}"
    )


def _tidy(raw: pd.DataFrame) -> pd.DataFrame:
    # The CSV was written from R with row names: an unnamed first column 1..n that is not data.
    unnamed = [c for c in raw.columns if str(c) == "" or str(c).startswith("Unnamed:")]
    df = raw.drop(columns=unnamed).reset_index(drop=True)
    missing = [c for c in DEMO_COLUMNS if c not in df.columns]
    if missing:
        raise EhrsynthError(
            f"the ACTG 175 table from lifelines lacks the columns {missing}; it has {list(df.columns)}; "
            f"reinstall it: {_INSTALL_HINT}"
        )
    df = df.loc[:, list(DEMO_COLUMNS)]
    for col in DEMO_COLUMNS:
        if col == "wtkg":
            df[col] = df[col].astype("float64")
        elif df[col].isna().any():
            df[col] = df[col].astype("Int64")  # cd496: CD4 count at week 96, missing for 797 patients
        else:
            df[col] = df[col].astype("int64")
    return df


def load_demo() -> pd.DataFrame:
    """The ACTG 175 clinical-trial table: 2,139 HIV-infected adults × 27 columns, one row per patient.

    Source: AIDS Clinical Trials Group study 175 (Hammer SM et al. 1996, N Engl J Med 335:1081–1090), a
    randomized trial of zidovudine, didanosine and their combinations in adults with CD4 counts 200–500/mm³,
    as distributed with the R package *speff2trial* and shipped as ``ACTG175.csv`` inside the Python package
    *lifelines* (MIT licence), from which it is read at run time (see :data:`DEMO_CITATION`). Nothing is
    downloaded and no copy is kept in ehrsynth. Needs ``pip install "ehrsynth[demo]"``; without lifelines,
    or with a lifelines older than 0.30.3, raises :class:`~ehrsynth.errors.EhrsynthError` saying so.

    Columns (names and values exactly as in the source; only the R row-name column is dropped):

    - identifier: ``pidnum`` (patient id, int64; unique per row — never to be modelled).
    - binary flags 0/1 (int64): ``hemo`` haemophilia, ``homo`` homosexual activity, ``drugs`` IV drug use,
      ``oprior`` prior non-zidovudine antiretroviral therapy, ``z30`` zidovudine in the 30 days before,
      ``zprior`` prior zidovudine (1 for everyone), ``race`` (0 white, 1 non-white), ``gender`` (0 female,
      1 male), ``str2`` antiretroviral history (0 naive, 1 experienced), ``symptom`` symptomatic,
      ``treat`` (0 zidovudine only, 1 other), ``offtrt`` off treatment before week 96±5,
      ``r`` CD4 at week 96 observed, ``cens`` event observed (a CD4 decline, progression to AIDS, or death).
    - categories (int64 codes): ``karnof`` Karnofsky score (70/80/90/100), ``strat`` antiretroviral history
      stratum (1 naive, 2 ≤ 52 weeks, 3 > 52 weeks), ``arms`` treatment arm (0 zidovudine, 1 zidovudine +
      didanosine, 2 zidovudine + zalcitabine, 3 didanosine).
    - counts (non-negative integers, int64): ``preanti`` days of prior antiretroviral therapy; CD4 counts
      ``cd40`` (baseline), ``cd420`` (week 20±5), ``cd496`` (week 96±5; nullable ``Int64``, missing for 797
      patients, see ``r``); CD8 counts ``cd80``, ``cd820``; ``days`` to the first event or censoring.
    - continuous: ``age`` (years, int64) and ``wtkg`` (weight in kg, float64).
    """
    df = _tidy(_read_from_lifelines())
    logger.debug("loaded the ACTG 175 demo table: %d rows x %d columns", len(df), df.shape[1])
    return df
