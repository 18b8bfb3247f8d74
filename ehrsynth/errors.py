"""One exception hierarchy for the whole library.

Every error a user can trigger with bad input derives from :class:`EhrsynthError`; value problems
also derive from :class:`ValueError` so generic ``except ValueError`` code keeps working. The CLI
turns any :class:`EhrsynthError` into a one-line message and exit code 2.

Messages say what was found, what is allowed, and how to fix it, and name the column.
"""

from __future__ import annotations


class EhrsynthError(Exception):
    """Base class of every error raised on purpose by ehrsynth."""

    def __init__(self, message: str, *, column: str | None = None) -> None:
        super().__init__(message)
        self.column = column


class InvalidDataError(EhrsynthError, ValueError):
    """The input table (or a column of it) cannot be used as given."""


class FreeTextError(InvalidDataError):
    """A column holds free text, which ehrsynth refuses to model."""


class SchemaError(InvalidDataError):
    """A schema is malformed or does not match the data it is used with."""


class UnsupportedFileError(InvalidDataError):
    """A file type or layout that ehrsynth cannot read or write."""


class InvalidParameterError(EhrsynthError, ValueError):
    """A hyperparameter or option value is out of its allowed range."""


class PrivacyBudgetError(EhrsynthError, ValueError):
    """The privacy budget (epsilon, delta) is invalid or cannot cover the requested work."""


class ModelDirError(EhrsynthError):
    """A model directory is missing, incomplete or has been altered."""


class NotFittedError(EhrsynthError, AttributeError):
    """A method that needs a fitted estimator was called before ``fit``."""


class NoPrivacyWarning(UserWarning):
    """Emitted when a model is trained without differential privacy (no privacy guarantee holds)."""


class DataFidelityWarning(UserWarning):
    """The synthetic data will differ from the input in a way the user should know about (merged rare
    values, dropped codes, a column whose synthetic marginal is far from the released one)."""
