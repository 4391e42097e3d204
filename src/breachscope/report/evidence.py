"""The evidence appendix's file list: every evidence file of the case, numbered, and every file a claim cites.

Claims link to a file by its number (`#f<number>`): an anchor never carries evidence text. A cited file the
case's file list does not hold (an older manifest, a path written differently) is appended, marked, so no
citation points nowhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from breachscope.model.incident import EvidenceRef
from breachscope.model.result import EvidenceFile


@dataclass
class FileIndex:
    """Evidence files by number; counts how often each is cited while the report is built."""

    files: list[EvidenceFile]
    listed: int = 0  # files[:listed] are the case's; later ones were only cited
    cited: list[int] = field(default_factory=list)
    _by_path: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, files: Iterable[EvidenceFile]) -> FileIndex:
        index = cls(list(files))
        index.listed = len(index.files)
        index.cited = [0] * index.listed
        for i, f in enumerate(index.files):
            index._by_path.setdefault(f.path, i)
        return index

    def number(self, path: str | None) -> int | None:
        """The file's number, the file appended when only cited; counts one citation."""
        if not path:
            return None
        i = self._by_path.get(path)
        if i is None:
            i = self._by_path[path] = len(self.files)
            self.files.append(EvidenceFile(path=path, sha256="", format=None, status="", records=0, rejected=0))
            self.cited.append(0)
        self.cited[i] += 1
        return i


@dataclass(frozen=True)
class Ref:
    """One citation as shown: file number (None: no file), record, table."""

    file: int | None
    record: int | None
    table: str | None


def refs(index: FileIndex, evidence: Iterable[EvidenceRef]) -> list[Ref]:
    return [Ref(index.number(e.src_file), e.src_record, e.table or None) for e in evidence]
