"""One report layer shared by every ehrsynth report (privacy audit, DP audit, utility evaluation, image
evaluation): :func:`jsonable`, HTML helpers that escape by default (:mod:`.html`), SVG helpers (:mod:`.svg`) and
the :class:`Report` base (``to_dict``/``to_json``/``save_json``/``save_html``/``summary``) they all subclass.
Imports no torch.
"""

from ehrsynth.reporting.base import Report
from ehrsynth.reporting.jsonable import jsonable

__all__ = ["Report", "jsonable"]
