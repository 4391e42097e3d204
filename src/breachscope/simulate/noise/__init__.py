"""Ordinary activity, one module per log family; each group generates a slice of records at once."""
