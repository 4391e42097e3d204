"""The subjects of a scope as files: subjects.parquet (SUBJECTS_SCHEMA, the typed artifact table) and the
affected subjects' CSV, written batch by batch from DuckDB (scope/subject_sql.py) into a private temporary
folder while the levels are computed (the run folder does not exist yet: scope/outputs.py moves them in).
A million subjects never become a million Python objects, nor one Arrow table in memory.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from breachscope.model.exposure import EXPOSURE_LEVELS, SUBJECTS_SCHEMA
from breachscope.model.exposure_artifact import Exposure
from breachscope.model.jsondoc import typed_table

CSV_COLUMNS = ("subject_type", "subject_id", "name", "level", "categories", "evidence")
CSV_CELLS = tuple(f"csv_{c}" for c in CSV_COLUMNS)
BATCH = 50_000


class _OutOfOrder(Exception):
    pass


_LEVELS = pa.array(EXPOSURE_LEVELS, pa.string())


def _with_category_levels(table: pa.Table) -> pa.Table:
    """category_levels from the categories and their level ranks (two lists of the same lengths): built as a
    map in DuckDB it cost seconds a million subjects."""
    cats = table.column("categories").combine_chunks()
    ranks = table.column("category_ranks").combine_chunks()
    offsets = pc.subtract(cats.offsets, cats.offsets[0])
    levels = pa.MapArray.from_arrays(offsets, cats.flatten(), _LEVELS.take(ranks.flatten()))
    return table.append_column("category_levels", levels)


def _typed(table: pa.Table) -> pa.Table:
    return typed_table(table, SUBJECTS_SCHEMA, "exposure.subjects", Exposure.VERSION, "exposure subjects")


@dataclass
class StagedSubjects:
    folder: tempfile.TemporaryDirectory[str] = field(repr=False)
    rows: int = 0  # subjects in the Parquet file
    affected: int = 0  # rows of the CSV

    @property
    def parquet(self) -> Path:
        return Path(self.folder.name) / "staged-subjects.parquet"  # not the artifact: copied into the run

    @property
    def csv(self) -> Path:
        return Path(self.folder.name) / "staged-affected.csv"

    @classmethod
    def write(cls, con: duckdb.DuckDBPyConnection, sql: str,
              folder: tempfile.TemporaryDirectory[str]) -> StagedSubjects:
        """The rows of `sql` (`rn`, SUBJECTS_SCHEMA's columns, `affected`, the CSV cells) in the order of `rn`
        (1, 2, 3...): a plain scan keeps it; should the engine reorder it, the rows are sorted instead."""
        try:
            return cls._write(con, sql, folder)
        except _OutOfOrder:
            return cls._write(con, f"{sql} ORDER BY rn", folder)

    @classmethod
    def _write(cls, con: duckdb.DuckDBPyConnection, sql: str,
               folder: tempfile.TemporaryDirectory[str]) -> StagedSubjects:
        staged = cls(folder)
        reader = con.sql(sql).to_arrow_reader(BATCH)
        schema = _typed(SUBJECTS_SCHEMA.empty_table()).schema
        with pq.ParquetWriter(staged.parquet, schema, compression="zstd") as pw, \
                staged.csv.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(CSV_COLUMNS)
            for batch in reader:
                rn = batch.column("rn").to_numpy()
                if len(rn) and not np.array_equal(rn, np.arange(staged.rows + 1, staged.rows + 1 + len(rn))):
                    reader.close()
                    raise _OutOfOrder
                table = _with_category_levels(pa.Table.from_batches([batch]))
                pw.write_table(_typed(table))
                affected = table.filter(pc.fill_null(table.column("affected"), False))
                w.writerows(zip(*(affected.column(c).to_pylist() for c in CSV_CELLS), strict=True))
                staged.rows += table.num_rows
                staged.affected += affected.num_rows
        return staged

    @classmethod
    def empty(cls) -> StagedSubjects:
        """No subject (a summary written on its own)."""
        staged = cls(tempfile.TemporaryDirectory(prefix="breachscope-scope-"))
        pq.write_table(_typed(SUBJECTS_SCHEMA.empty_table()), staged.parquet, compression="zstd")
        with staged.csv.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerow(CSV_COLUMNS)
        return staged

    def copy_to(self, parquet: Path, csv_path: Path) -> None:
        parquet.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.parquet, parquet)
        shutil.copyfile(self.csv, csv_path)

    def cleanup(self) -> None:
        self.folder.cleanup()
