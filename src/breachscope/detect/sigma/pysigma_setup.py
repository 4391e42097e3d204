"""What breachscope sets in pySigma's process-wide state before it parses rules, in one explicit,
idempotent step (`prepare()`), taken where rules are compiled (loader.compile_file, in every worker
too) instead of on import:

- the `utf16le` modifier of the Sigma specification, which pySigma knows as `wide` (pySigma has no
  extension point for modifiers: its `modifier_mapping` table is the registry it reads);
- a quiet RE2 regex engine in pySigma's default policy (below).

pySigma checks regular expressions with Google RE2 (its default SafePolicy). RE2 logs every pattern
it rejects through absl, before absl is initialised, so each bad rule regex printed two raw lines on
stderr ("WARNING: All log messages before absl::InitializeLog() ..." and "E0000 ... re2.cc ... Error
parsing"). The rejection is already a RuleProblem with path and line; the log is noise. RE2 has an
option for exactly this (`log_errors`): this engine compiles with it off, and `install()` makes it
pySigma's engine. The patterns and the errors raised are RE2's, unchanged."""

from __future__ import annotations

import re
from typing import Any

from sigma.modifiers import modifier_mapping
from sigma.policy import default_policy
from sigma.policy.regex_engine import RE2RegexEngine


class QuietRE2RegexEngine(RE2RegexEngine):
    """RE2RegexEngine that does not log rejected patterns (the error is still raised)."""

    def compile(self, pattern: str, flags: int = 0) -> Any:
        flag_map = {re.IGNORECASE: "i", re.MULTILINE: "m", re.DOTALL: "s"}
        prefix = "".join(v for k, v in flag_map.items() if int(flags) & int(k))
        options = self._re2.Options()
        options.log_errors = False
        return self._re2.compile(f"(?{prefix}){pattern}" if prefix else pattern, options)


def prepare() -> None:
    """Set pySigma up for breachscope's rules (idempotent, cheap: called before each file is compiled)."""
    if "utf16le" not in modifier_mapping:  # the specification's name; pySigma's is `wide`
        modifier_mapping["utf16le"] = modifier_mapping["wide"]
    if not isinstance(default_policy.regex_engine, QuietRE2RegexEngine):
        # RE2 rejections are RuleProblems, not absl log lines on stderr
        default_policy.regex_engine = QuietRE2RegexEngine()
