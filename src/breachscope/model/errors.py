"""Errors that carry their source; the caller picks the policy (skip, report, abort).

Exit codes of the command line (README, "Exit codes"): 0 success, 1 failure (BreachscopeError: evidence
that cannot be read, a failed query, a damaged case, an internal error), 2 usage (UsageError: the command
line, a path it names, or a configuration file it names is wrong), 130 interrupted.
"""

from __future__ import annotations


class BreachscopeError(Exception):
    """Base class: a failure the user can act on, shown without a traceback."""

    exit_code = 1


class UsageError(BreachscopeError):
    """The command line or its arguments are wrong (exit code 2)."""

    exit_code = 2


class InputError(BreachscopeError):
    """An evidence file cannot be read at all (unknown format, unreadable)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class CaseError(BreachscopeError):
    """The case folder is missing, locked or not a breachscope case."""


class MissingCaseError(CaseError):
    """The folder given as a case does not exist or is not a case: a usage error (exit code 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration file (inventory, placeholders, notification rules) is invalid, at a line."""

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}" if line else f"{path}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason
