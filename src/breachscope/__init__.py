"""breachscope: breach investigation from the evidence an organization already keeps."""

from breachscope.engines.duckdb_case import Case, open_case

__version__ = "0.1.0"
__all__ = ["Case", "__version__", "open_case"]
