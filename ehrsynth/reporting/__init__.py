"""One report layer shared by every ehrsynth report (utility evaluation, image evaluation, and offered to the
privacy audit and the DP audit): :func:`jsonable`, HTML helpers that escape by default (:mod:`.html`), SVG
helpers (:mod:`.svg`) and the :class:`Report` base (``to_dict``/``to_json``/``save_json``/``save_html``/
``summary``). Imports no torch.
"""

from ehrsynth.reporting.base import Report
from ehrsynth.reporting.jsonable import jsonable

__all__ = ["Report", "jsonable"]
