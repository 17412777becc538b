"""User errors: bad input the ``ervlight`` command reports as one line (what, which file or key, what to do).

Raise a :class:`UserError` subclass for a problem the user fixes in a config, a file or the environment; the
command line prints ``ervlight <command>: <message>`` and exits with :data:`USER_ERROR_EXIT` (no traceback).
Anything else is a bug and keeps its traceback. The subclasses also derive from the built-in exception that
callers already catch (``ValueError``, ``FileNotFoundError``).
"""

from __future__ import annotations

__all__ = ["USER_ERROR_EXIT", "ConfigError", "MissingPathError", "UserError"]

#: Exit code of a command stopped by a :class:`UserError` (argparse's code for bad usage).
USER_ERROR_EXIT = 2


class UserError(Exception):
    """Base class: input the user must fix; the message says what, where (file or key) and what to do."""


class ConfigError(UserError, ValueError):
    """A config value is invalid or names something that does not exist."""


class MissingPathError(UserError, FileNotFoundError):
    """A file or folder the config names does not exist or is not what it should be."""
