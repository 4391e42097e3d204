"""breachscope: breach investigation from the evidence an organization already keeps."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from breachscope.engines.duckdb_case import Case, open_case

__version__ = "0.1.0"
__all__ = ["Case", "__version__", "open_case"]


def __getattr__(name: str) -> Any:
    """`breachscope.open_case` and `Case` load DuckDB on first use: the command line starts without it."""
    if name in ("Case", "open_case"):
        from breachscope.engines import duckdb_case

        return getattr(duckdb_case, name)
    raise AttributeError(f"module 'breachscope' has no attribute {name!r}")
