"""Quoting names and text into SQL: the one place every layer takes them from (evidence is hostile,
a table, column or value may hold any character)."""

from __future__ import annotations


def quote_ident(name: str, quote: str = '"') -> str:
    """An identifier (table, column, view) quoted with `quote`, doubling any inside: `"` for DuckDB and
    PostgreSQL, a backtick for Spark SQL."""
    return quote + name.replace(quote, quote + quote) + quote


def quote_literal(text: str) -> str:
    """A standard SQL string literal (DuckDB, PostgreSQL): only the quote is doubled, a backslash is text."""
    return "'" + text.replace("'", "''") + "'"


def quote_backslash_literal(text: str) -> str:
    """A string literal of an SQL that treats backslash as an escape in strings (Spark SQL)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
