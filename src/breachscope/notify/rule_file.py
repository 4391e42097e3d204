"""The schema of a notification rule file (notify/rules/*.yaml) as pydantic models: the loader refuses
unknown keys and wrong values with the file's line; docs/schemas/notify-rule.schema.json is generated
from these models. Evaluation (rules.py) still reads the document itself, once it is valid."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from breachscope.model.config import Strict, Text, line_of, load_yaml, matching, validate
from breachscope.model.errors import ConfigError

if TYPE_CHECKING:  # mypy sees the values' Python type; pydantic the constrained type built below
    Id: TypeAlias = str
    Jurisdiction: TypeAlias = str
    Category: TypeAlias = str
else:
    Id = matching(r"[a-z0-9_]{1,80}", "an id (lower case, digits, _)")
    Jurisdiction = matching(r"[A-Z]{2}(-[A-Z0-9]{1,3})?", "a jurisdiction (JP, EU, US-CA)",
                            "ISO 3166-1 alpha-2 (JP), EU, or ISO 3166-2 (US-CA)")
    Category = matching(r"[a-z][a-z0-9_]{0,62}", "a category (lower_snake_case)")
NonEmpty = Annotated[Text, StringConstraints(min_length=1)]


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"not an IANA time zone: {name!r}") from exc
    return name


class Source(Strict):
    title: NonEmpty
    url: Text | None = None
    text: NonEmpty = Field(description="the text of the source the rule relies on")


class AppliesIf(Strict):
    subject_jurisdictions: list[Jurisdiction] | None = None
    controller_sectors_any: list[Text] | None = None


class TriggerWhen(Strict):
    categories_any: list[Category] | None = None
    unlawful_purpose: bool | None = None
    persons_over: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _some(self) -> TriggerWhen:
        if self.categories_any is None and self.unlawful_purpose is None and self.persons_over is None:
            raise ValueError("a trigger needs a condition: categories_any, unlawful_purpose or persons_over")
        return self


class Trigger(Strict):
    id: Id
    when: TriggerWhen
    text: Text = ""


class ObligationWhen(Strict):
    persons_over: Annotated[int, Field(ge=0)]


class Deadline(Strict):
    days: Annotated[int, Field(ge=0)] | None = None
    days_if_unlawful_purpose: Annotated[int, Field(ge=0)] | None = None
    hours: Annotated[int, Field(ge=0)] | None = None
    counting: Literal["calendar_from_awareness", "awareness_day_is_day_1"] | None = None
    zone: Annotated[str, AfterValidator(_zone)] | None = None
    text: Text = ""


class Obligation(Strict):
    id: Id
    to: NonEmpty
    what: Text = ""
    when: ObligationWhen | None = None
    deadline: Deadline | None = None
    owed_if_unknown: Text | None = None
    drafts: list[Id] = Field([], description="draft templates to write (notify/templates/<name>.md.j2)")


class RuleFile(Strict):
    """A breachscope notification rule: one law's reporting duties, citing its sources."""

    id: Id
    jurisdiction: Jurisdiction
    name: Text = ""
    applies_if: AppliesIf | None = None
    counts: Literal["persons", "organizations"] | None = None
    sources: Annotated[list[Source], Field(min_length=1)]
    triggers: list[Trigger] = Field([])
    obligations: Annotated[list[Obligation], Field(min_length=1)]


def load_rule_file(path: Path | Any, name: str | None = None) -> dict[str, Any]:
    """A valid rule file as the document rules.evaluate() reads (keys as written), or ConfigError."""
    shown = name or str(path)
    doc, node = load_yaml(path, "notify rule")
    if doc is None:
        raise ConfigError(shown, None, "notify rule: empty file")
    rule = validate(RuleFile, doc, node, shown, "notify rule")
    templates = resources.files("breachscope.notify") / "templates"
    for i, ob in enumerate(rule.obligations):
        for d in ob.drafts:
            if not (templates / f"{d}.md.j2").is_file():
                raise ConfigError(shown, line_of(node, ("obligations", i, "drafts")),
                                  f"notify rule: obligations[{i}].drafts: no template {d}.md.j2")
    return doc
