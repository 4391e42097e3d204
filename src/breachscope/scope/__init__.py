"""Breach scoping: which data subjects were exposed, which categories, how sure (docs/scope.md)."""
