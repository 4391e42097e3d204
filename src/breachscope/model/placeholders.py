"""`hunt --placeholders FILE`: the values of Sigma placeholders (`%Admins_Workstations%`).

```yaml
Admins_Workstations: [WS-ADM01, WS-ADM02]
Domain_Controllers: DC01        # one value may be written alone
```

A name is what the rule writes between `%` signs; values are text (numbers are taken as text). A
nested mapping, an empty name or a list of lists is refused with its line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, RootModel

from breachscope.model.config import Matching, Text, load_yaml, validate

PlaceholderName = Annotated[str, Matching(r"[A-Za-z0-9_.\-]{1,200}", "a placeholder name (letters, digits, _ . -)")]
Values = Annotated[list[Text] | Text, Field(description="the values (a list, or one value)")]


class PlaceholdersFile(RootModel[dict[PlaceholderName, Values]]):
    """Placeholder name -> its values."""

    model_config = {"frozen": True}


def load_placeholders(path: Path) -> dict[str, list[str]]:
    doc, node = load_yaml(path, "placeholders")
    if doc is None:  # an empty file: no values
        return {}
    data = validate(PlaceholdersFile, doc, node, path, "placeholders")
    return {name: list(v) if isinstance(v, list) else [v] for name, v in data.root.items()}
