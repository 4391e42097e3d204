"""Artifacts as JSON documents: one frozen dataclass per document type is its definition.

`to_jsonable` turns an artifact into plain JSON values (no library: fast, stable order). `parse` checks
the document's version and validates it against the same dataclass with pydantic, imported when first
needed (start-up stays fast); `json_schema` generates the JSON Schema published in docs/artifacts/.
A document without a `version` is taken as version 1 (written before versions were recorded); a newer
version than this breachscope knows is refused, never half-read.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from breachscope.model.errors import CaseError
from breachscope.model.text import json_text

T = TypeVar("T")
SCHEMA_BASE = "https://breachscope.invalid/schemas/"  # ids only: nothing is fetched


class ArtifactError(CaseError):
    """An artifact of the case is damaged, or was written by a newer breachscope."""


def doc(text: str, **kwargs: Any) -> Any:
    """A dataclass field with its description (it goes into the JSON Schema)."""
    return dataclasses.field(metadata={"doc": text}, **kwargs)


#: Parquet schema metadata of an artifact table: which artifact, which version of its format
ARTIFACT_KEY, VERSION_KEY = b"breachscope.artifact", b"breachscope.version"


def dumps(obj: Any) -> str:
    """Artifact JSON files: sorted keys, indented, UTF-8 text as is (the same document, the same bytes);
    control and bidi characters from evidence as \\u escapes (model/text.py)."""
    return json_text(obj, indent=2, sort_keys=True, default=str) + "\n"


def typed_table(table: Any, schema: Any, artifact: str, version: int, where: str | Path) -> Any:
    """`table` (pyarrow) checked against an artifact's schema and stamped with the artifact and its version;
    a table written by a newer breachscope, or with other columns, is an ArtifactError."""
    import pyarrow as pa

    raw = (table.schema.metadata or {}).get(VERSION_KEY, b"1")  # tables from before versions: 1
    try:
        found = int(raw)
    except ValueError:
        raise ArtifactError(f"{where}: bad {artifact} version {raw!r}") from None
    if found > version:
        raise ArtifactError(f"{where}: {artifact} version {found} was written by a newer breachscope "
                            f"(this one reads up to {version})")
    meta = {ARTIFACT_KEY: artifact.encode(), VERSION_KEY: str(version).encode()}
    try:
        return table.select(schema.names).cast(schema.with_metadata(meta))
    except (KeyError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ArtifactError(f"{where}: not a {artifact} table of the published schema: {exc}") from exc


def json_object(obj: Any) -> dict[str, Any]:
    """A dataclass artifact as a JSON object."""
    out = to_jsonable(obj)
    if not isinstance(out, dict):
        raise TypeError(f"{type(obj).__name__} is not a JSON object")
    return out


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)  # paths and the like, as text


@functools.cache
def _adapter(cls: Any) -> Any:  # one pydantic TypeAdapter per class (building one costs milliseconds)
    from pydantic import TypeAdapter

    return TypeAdapter(cls)


def parse(cls: type[T], document: object, where: str | Path) -> T:
    """`document` (parsed JSON) as a `cls`, or an ArtifactError naming `where` and the first problems."""
    from pydantic import ValidationError

    if not isinstance(document, Mapping):
        raise ArtifactError(f"{where}: not a {cls.__name__} document (a JSON object is expected)")
    known = int(getattr(cls, "VERSION", 1))
    version = document.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ArtifactError(f"{where}: bad version {version!r}")
    if version > known:
        raise ArtifactError(f"{where}: {cls.__name__} version {version} was written by a newer breachscope "
                            f"(this one reads up to {known}); upgrade to read it")
    target: Any = cls  # pydantic's adapter is untyped
    try:
        value: T = _adapter(target).validate_python(dict(document))
        return value
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}"
                             for e in exc.errors()[:3])
        raise ArtifactError(f"{where}: damaged {cls.__name__}: {problems}") from exc


def json_schema(cls: type, name: str) -> dict[str, Any]:
    """The JSON Schema of `cls` documents, with each field's description."""
    schema: dict[str, Any] = _adapter(cls).json_schema()
    classes = _dataclasses_in(cls)
    for node in [schema, *schema.get("$defs", {}).values()]:
        c = classes.get(node.get("title", ""))
        if c is None:
            continue
        for f in dataclasses.fields(c):
            text = f.metadata.get("doc")
            if text and f.name in node.get("properties", {}):
                node["properties"][f.name]["description"] = text
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_BASE + f"{name}.schema.json",
            **schema}


def _dataclasses_in(cls: type, seen: dict[str, type] | None = None) -> dict[str, type]:
    """Every dataclass reachable from cls's fields, by name (pydantic titles $defs by class name)."""
    import typing

    seen = {} if seen is None else seen
    if not dataclasses.is_dataclass(cls) or cls.__name__ in seen:
        return seen
    seen[cls.__name__] = cls
    stack = list(typing.get_type_hints(cls).values())
    while stack:
        t = stack.pop()
        if isinstance(t, type) and dataclasses.is_dataclass(t):
            _dataclasses_in(t, seen)
        stack.extend(typing.get_args(t))
    return seen
