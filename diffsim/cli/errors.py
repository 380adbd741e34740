"""User errors of the command line: one readable line on stderr and a non-zero exit code.

Anything the user can fix by changing the command (an unknown process, a bad ``--param``, a
missing PDF set, …) raises :class:`UserError`; :func:`diffsim.cli.main` prints
``diffsim: error: <message>`` and exits with :data:`EXIT_USER_ERROR`. Programming errors
keep their tracebacks.
"""

import difflib
from collections.abc import Iterable

__all__ = ["EXIT_INTERRUPTED", "EXIT_USER_ERROR", "UserError", "suggest"]

EXIT_USER_ERROR = 2
"""Exit status of a user error (argparse uses the same for bad usage)."""

EXIT_INTERRUPTED = 130
"""Exit status after an interruption (128 + SIGINT, as shells report Ctrl-C)."""


class UserError(Exception):
    """A mistake in the command or its inputs; the message is one line, shown as is."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


def suggest(word: str, choices: Iterable[str]) -> str:
    """``" Did you mean 'x' or 'y'?"`` for the close matches of ``word`` (difflib), else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.5)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
