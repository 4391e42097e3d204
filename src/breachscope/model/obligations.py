"""The obligations artifact that notify hands over: one decision (`Notification`) from which both
obligations.json and the drafts are made, so that they can never disagree. Written under
runs/<run_id>/notify/ with the drafts, copied to CASE/notify/ for the latest run."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final, Literal

from breachscope.model.jsondoc import ArtifactError, doc, json_object, parse

#: Whether an obligation is owed: `unknown` when an input is unknown (never a silent no).
Owed = Literal["yes", "no", "unknown"]
YES: Final = "yes"
NO: Final = "no"
UNKNOWN: Final = "unknown"


@dataclass(frozen=True)
class Facts:
    """What the rules look at, taken from the exposure summary once."""

    jurisdictions: dict[str, dict[str, int]] = doc("jurisdiction -> affected organizations, persons (all levels)")
    categories: tuple[str, ...] = doc("data categories exposed")
    unlawful_purpose: bool = doc("the statements scoped were a suspect's and reached someone: unauthorized access is "
                                 "suspected (APPI Rules Art. 7(iii): 60 days for the final report)")
    sectors: tuple[str, ...] = doc("the controller's sectors (telecommunications...)")
    sectors_known: bool = doc("false when the inventory does not say")


@dataclass(frozen=True)
class Source:
    """The text a rule relies on."""

    title: str = doc("the law, regulation or guideline")
    text: str = doc("what it says, as the rule applies it")
    url: str | None = doc("where to read it", default=None)


@dataclass(frozen=True)
class Obligation:
    """One report or notice: owed or not, why, to whom, by when."""

    rule: str = doc("the rule file's id (jp_appi, eu_gdpr...)")
    jurisdiction: str = doc("the rule's jurisdiction (JP, EU, US-CA...)")
    obligation: str = doc("the obligation's id within the rule")
    to: str = doc("the recipient")
    what: str = doc("what is owed")
    owed: str = doc("yes | no | unknown (an input is unknown: never a silent no)")
    why: tuple[str, ...] = doc("the triggers that apply, or why it is not owed")
    deadline: str | None = doc("ISO 8601 time it is due, when the rule fixes one and it is owed")
    deadline_text: str = doc("the deadline in the rule's words")
    persons: int = doc("affected persons of the rule's jurisdictions")
    organizations: int = doc("affected organizations of the rule's jurisdictions")
    sources: tuple[Source, ...] = doc("the texts the rule cites", default=())
    drafts: tuple[str, ...] = doc("drafts made for it (names, see Notification.drafts)", default=())

    def to_dict(self) -> dict[str, Any]:
        return json_object(self)


@dataclass(frozen=True)
class Notification:
    """What is owed after an exposure, decided once: obligations.json, the table and the drafts."""

    VERSION: ClassVar[int] = 1

    aware_at: str = doc("when the organization became aware (ISO 8601); deadlines count from it")
    exposure_run: str | None = doc("the exposure run decided from (null: an exposure from before run history)")
    jurisdictions: tuple[str, ...] = doc("the jurisdictions asked for (--jurisdictions); empty = all")
    facts: Facts = doc("the decision's inputs, as taken from the exposure")
    obligations: tuple[Obligation, ...] = doc("every obligation of the rules that apply")
    drafts: tuple[str, ...] = doc("draft files written beside obligations.json (e.g. appi_report_ja.md)")
    owed: str = doc("yes: something is owed; unknown: possibly (an input is unknown); no: nothing is owed")
    reason: str = doc("why nothing is owed, or what is unknown (empty when something is owed)")
    version: int = doc("version of this document's format", default=1)

    def to_json(self) -> dict[str, Any]:
        return json_object(self)

    @classmethod
    def from_json(cls, d: Mapping[str, Any], where: str | Path = "obligations") -> Notification:
        return parse(cls, d, where)

    @classmethod
    def read(cls, path: Path) -> Notification:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"{path}: unreadable obligations: {exc}") from exc
        return cls.from_json(document, path)
