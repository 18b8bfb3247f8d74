"""Entry point of the ``ehrsynth`` command.

Exit codes: 0 success; 2 bad input or usage (one line naming the problem, no traceback);
1 internal error; some commands (audit, audit-dp) use 3 for "the check failed"; 130 interrupted (Ctrl-C);
141 (128 + SIGPIPE, what a shell reports for ``yes | head -1``) when the reader of stdout went away early
(``ehrsynth schema f.csv | head -1``): the command stops quietly, like other Unix tools.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from ehrsynth._version import __version__

# Each module defines ``add_parser(subparsers) -> None`` and sets ``handler`` on its parser with
# ``parser.set_defaults(handler=run)`` where ``run(args) -> int``. Modules import only argparse-level
# things at import time.
COMMAND_MODULES: tuple[str, ...] = (
    "train",
    "schema_cmd",
    "privacy_cmd",
    "demo",
    "audit",
    "audit_dp",
    "evaluate",
    "imaging",
)

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that Python's final flush does not complain about the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor (e.g. captured in tests)
        pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ehrsynth",
        description="Privacy-preserving synthetic electronic health records (DP medGAN, privacy audit).",
    )
    parser.add_argument("--version", action="version", version=f"ehrsynth {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"ehrsynth.cli.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from ehrsynth.cli._ux import configure_logging, format_warnings, to_cli_language
    from ehrsynth.errors import EhrsynthError

    configure_logging(args.verbose)
    format_warnings()

    try:
        code = int(args.handler(args))
        sys.stdout.flush()  # a closed pipe shows up here, inside the handler below, not at interpreter exit
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except EhrsynthError as exc:
        col = f" (column {exc.column!r})" if exc.column and repr(exc.column) not in str(exc) else ""
        print(f"ehrsynth: error: {to_cli_language(str(exc))}{col}".replace("\n", " "), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("ehrsynth: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if os.environ.get("EHRSYNTH_DEBUG"):
            raise
        print(
            f"ehrsynth: internal error: {type(exc).__name__}: {exc} "
            "(set EHRSYNTH_DEBUG=1 for a traceback and please report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
