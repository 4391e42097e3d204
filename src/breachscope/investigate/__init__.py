"""The investigation: from a case's evidence alone, the attacker's hosts, accounts, sessions and data
movements, ranked, with the evidence of each claim (CASE/investigation/incident.json)."""
