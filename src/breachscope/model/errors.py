"""Errors that carry their source; the caller picks the policy (skip, report, abort)."""

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
