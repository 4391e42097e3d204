"""Typed records and table schemas shared by every layer. Imports nothing of ours."""
