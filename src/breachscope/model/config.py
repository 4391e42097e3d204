"""Configuration files (inventory, placeholders, notification rules): YAML validated by pydantic models.

Why pydantic (v2) and not jsonschema: the models are the types the rest of the code uses, so a file is
parsed once into typed, frozen values; `extra="forbid"` refuses unknown keys (an `exclusion:` typo no
longer drops the exclusion silently); error locations come as key paths, which we map to the YAML line;
and the JSON Schemas published for editors (docs/schemas/) are generated from the same models, so the
two cannot drift (a test compares them). jsonschema would validate the file but leave the typed values,
the messages and the schema to be written by hand a second time.

A file is composed with PyYAML (node marks give every key and value its line), the alias expansion is
bounded (a "billion laughs" file is refused, not expanded), and every error names `path:line`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import yaml
from annotated_types import GroupedMetadata
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from breachscope.model.errors import ConfigError
from breachscope.model.text import quoted

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

M = TypeVar("M", bound=BaseModel)
#: Nodes a file may expand to through anchors and aliases (the inventory of a large database is ~10^4).
MAX_NODES = 200_000
MAX_ERRORS = 5


class Strict(BaseModel):
    """Base of every configuration model: unknown keys refused, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _text(value: Any) -> Any:
    """Free text may be written unquoted: a date, a number or a boolean is taken as its text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return value


#: A free-text value (names, descriptions, sources).
Text = Annotated[str, BeforeValidator(_text)]


class Matching(GroupedMetadata):
    """Metadata of a text type that must match `regex`, written `Annotated[str, Matching(...)]` (a type
    checker sees `str`): the error says what it is not ("not a table name"), the JSON Schema carries
    the pattern for editors."""

    def __init__(self, regex: str, what: str, description: str | None = None) -> None:
        self.regex, self.what, self.description = regex, what, description or what
        self._compiled = re.compile(regex)

    def _check(self, value: str) -> str:
        if not self._compiled.fullmatch(value):
            raise ValueError(f"not {self.what}")
        return value

    def __iter__(self) -> Iterator[object]:
        yield AfterValidator(self._check)
        yield Field(description=self.description, json_schema_extra={"pattern": f"^{self.regex}$"})


def matching(regex: str, what: str, description: str | None = None) -> Any:
    """`Annotated[str, Matching(regex, what, description)]` built at run time (a type checker cannot
    follow it: prefer writing the `Annotated` alias)."""
    return Annotated[str, Matching(regex, what, description)]


def load_yaml(path: Path, what: str) -> tuple[Any, yaml.Node | None]:
    """The document of a one-document YAML file and its node tree (for lines)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), None, f"{what}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), None, f"{what}: not UTF-8 text: {exc}") from exc
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _bounded(node, str(path), what)
        return loader.construct_document(node), node
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(str(path), mark.line + 1 if mark else None, f"{what}: not valid YAML: {problem}") from None
    finally:
        loader.dispose()


def _bounded(root: yaml.Node, path: str, what: str) -> None:
    """Refuse a file whose aliases expand past MAX_NODES (counted without expanding anything)."""
    seen, stack = 0, [root]
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise ConfigError(path, root.start_mark.line + 1,
                              f"{what}: more than {MAX_NODES:,} values once anchors and aliases are expanded")
        if isinstance(node, yaml.MappingNode):
            stack.extend(n for kv in node.value for n in kv)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def validate(model: type[M], data: Any, node: yaml.Node | None, path: Path | str, what: str,
             context: dict[str, Any] | None = None) -> M:
    """`data` as a `model`, or ConfigError naming the file, the line and the key of the first errors.
    `context` reaches the validators that take a ValidationInfo (values checked against other parts)."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        found: dict[tuple[Any, ...], list[str]] = {}  # the members of a union fail at one place: one error
        for e in exc.errors(include_url=False):
            found.setdefault(_clean(e["loc"]), []).append(describe(e, model))
        places = list(found.items())
        texts = []
        for loc, reasons in places[:MAX_ERRORS]:
            where = _loc_text(loc)
            why = " or ".join(dict.fromkeys(reasons))
            texts.append((line_of(node, loc), f"{where}: {why}" if where else why))
        rest = "; ".join(f"line {line or '?'}: {text}" for line, text in texts[1:])
        more = f" (and {len(places) - MAX_ERRORS} more)" if len(places) > MAX_ERRORS else ""
        raise ConfigError(str(path), texts[0][0], f"{what}: {texts[0][1]}" + (f"; {rest}" if rest else "")
                          + more) from None


def describe(error: ErrorDetails, model: type[BaseModel]) -> str:
    """What is wrong at the error's place, in words (an unknown key comes with the likely intended one)."""
    loc = _clean(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        known = _known_keys(model, loc[:-1])
        hint = difflib.get_close_matches(key, known, n=1)
        return "unknown key" + (f" (did you mean {quoted(hint[0])}?)" if hint else
                                f" (known keys: {', '.join(known)})" if known else "")
    if kind == "missing":
        return "missing"
    value = error.get("input")
    shown = f" (got {quoted(value)})" if isinstance(value, str | int | float) and not isinstance(value, bool) else ""
    msg = error["msg"].removeprefix("Value error, ")
    return msg[0].lower() + msg[1:] + shown if msg else kind


def _clean(loc: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(p for p in loc if isinstance(p, int) or not _is_type_tag(p))


def _is_type_tag(part: Any) -> bool:
    """pydantic puts the union member or validator in the location: 'list[str]', 'function-after[...]'."""
    return isinstance(part, str) and ("[" in part or part in ("str", "int", "float", "bool", "list", "dict"))


def _loc_text(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _known_keys(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """Field names of the (nested) model at `loc`."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = _model_in(field.annotation)
    return list(getattr(current, "model_fields", {}))


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def line_of(node: yaml.Node | None, loc: Sequence[Any]) -> int | None:
    """1-based line of the key path `loc` in the YAML node tree: the deepest key or item the path
    reaches (the unknown key itself; the enclosing mapping's key for a missing one)."""
    if node is None:
        return None
    current, line = node, node.start_mark.line + 1
    for part in loc:
        if isinstance(current, yaml.MappingNode):
            for k, v in current.value:
                if str(getattr(k, "value", None)) == str(part):
                    current, line = v, k.start_mark.line + 1  # a key's value: the key's line
                    break
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int) and part < len(current.value):
            current = current.value[part]
            line = current.start_mark.line + 1
    return line
