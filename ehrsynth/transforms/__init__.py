"""Encode a DataFrame into a float matrix laid out as spans, and decode back (docs/design.md §2)."""

from ehrsynth.transforms.layout import Span, SpanKind
from ehrsynth.transforms.table import TableTransformer

__all__ = ["Span", "SpanKind", "TableTransformer"]
