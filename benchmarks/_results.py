"""Shared by the benchmark scripts: save a JSON result and replace one marked section of RESULTS.md."""

from __future__ import annotations

import datetime as dt
import json
import platform
import re
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
RESULTS_MD = HERE / "RESULTS.md"
SHARED_DATA = HERE.parent.parent / "shared" / "data"


def environment() -> dict[str, Any]:
    import os

    import torch

    return {
        "date": dt.date.today().isoformat(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average_1min": os.getloadavg()[0],
    }


def save_json(name: str, payload: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}-{dt.date.today().isoformat()}.json"
    path.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    return path


def update_section(section: str, markdown: str) -> None:
    begin, end = f"<!-- BEGIN {section} -->", f"<!-- END {section} -->"
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else "# Benchmark results\n"
    block = f"{begin}\n{markdown.rstrip()}\n{end}"
    if begin in text:
        text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS_MD.write_text(text)
