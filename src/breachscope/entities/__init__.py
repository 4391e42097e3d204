"""Entities of a case (hosts, accounts) resolved from its evidence; shared by scope and the investigation."""
