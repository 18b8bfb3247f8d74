"""What the command line says and how: library messages translated into CLI flags, stage lines on stderr,
and logging that keeps third-party formats (Opacus) out of our output. Standard library only.

``main`` calls :func:`to_cli_language` on an error message before printing it and :func:`configure_logging`
instead of ``logging.basicConfig``; commands call :func:`stage` before each silent step.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys

#: library parameter → CLI flag; ``epsilon=None`` (no DP) first
_FLAGS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bepsilon=None\b"), "--no-dp"),
    *(
        (re.compile(rf"\b{name}=(?=\S)"), f"--{name.replace('_', '-')} ")
        for name in ("ae_epochs", "epochs", "batch_size", "delta", "epsilon", "device", "accountant")
    ),
    (re.compile(r"\brandom_state="), "--seed "),
    (re.compile(r"\bn_rows="), "--rows "),
)


def to_cli_language(message: str) -> str:
    """``message`` with library parameters (``epsilon=None``, ``epochs=5``) spelled as CLI flags
    (``--no-dp``, ``--epochs 5``); parameters without a flag are left as they are."""
    for pattern, flag in _FLAGS:
        message = pattern.sub(flag, message)
    return message


def stage(args: argparse.Namespace, text: str) -> None:
    """One ``ehrsynth: <text>…`` line on stderr, unless ``--quiet``: no silent seconds before a progress bar."""
    if not getattr(args, "quiet", False):
        print(f"ehrsynth: {text}…", file=sys.stderr, flush=True)


class _ThirdPartyFilter(logging.Filter):
    """Drop Opacus' INFO chatter (it sets its own loggers to INFO); its warnings still show, in our format."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("opacus") and record.levelno < logging.WARNING)


def configure_logging(verbose: bool) -> None:
    """The CLI's logging: one stderr handler in our format. ``force=True`` replaces the root handler
    Opacus installs with ``logging.basicConfig`` at import time (its timestamped format)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_ThirdPartyFilter())
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler], force=True)


def format_warnings() -> None:
    """Warnings as one ``ehrsynth: warning: …`` line in CLI language, without the source line (CLI only)."""
    import warnings

    def _format(message: Warning | str, category: type[Warning], *_: object, **__: object) -> str:
        return f"ehrsynth: warning: {to_cli_language(str(message))}\n"

    warnings.formatwarning = _format
