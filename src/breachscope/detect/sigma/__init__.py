"""The Sigma engine: load rules, convert them to one predicate tree, compile it to each SQL dialect,
and keep a pure-Python evaluator of the same tree as the oracle."""
