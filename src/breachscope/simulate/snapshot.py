"""The database snapshot: one Parquet file per table, and a plain-SQL dump as `pg_dump` writes it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from breachscope.simulate.customers import FOREIGN_KEYS, INDEXES, PRIMARY_KEYS, SCHEMA, UNIQUE, OrderDB
from breachscope.simulate.sqlnames import ident
from breachscope.simulate.text import Part, join, lpad, strs, write_lines

PG_VERSION = "15.10 (Debian 15.10-0+deb12u1)"


@dataclass(frozen=True)
class DumpSchema:
    """What pg_dump writes of a database's tables: columns (name, PostgreSQL type, NOT NULL) in order, keys,
    unique constraints, indexes and foreign keys (table, column, referenced table)."""

    database: str
    tables: tuple[tuple[str, tuple[tuple[str, str, bool], ...]], ...]
    primary_keys: tuple[tuple[str, str], ...]
    unique: tuple[tuple[str, str], ...] = ()
    indexes: tuple[tuple[str, str], ...] = ()
    foreign_keys: tuple[tuple[str, str, str], ...] = ()

    @property
    def file_name(self) -> str:
        return f"{self.database}.sql"

    def columns(self, table: str) -> tuple[tuple[str, str, bool], ...]:
        return dict(self.tables)[table]


#: the NTT story's order database
ORDERS = DumpSchema("orders", tuple((t, tuple((c, sql, nn) for c, _, sql, nn in cols)) for t, cols in SCHEMA.items()),
                    tuple(PRIMARY_KEYS.items()), tuple(UNIQUE), tuple(INDEXES), tuple(FOREIGN_KEYS))
_HEADER = f"""--
-- PostgreSQL database dump
--

-- Dumped from database version {PG_VERSION}
-- Dumped by pg_dump version {PG_VERSION}

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

"""


def write_parquet(db: OrderDB, folder: Path) -> dict[str, int]:
    return write_parquet_tables(db.tables, folder)


def write_parquet_tables(tables: dict[str, pa.Table], folder: Path) -> dict[str, int]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        pq.write_table(table, folder / f"{name}.parquet", compression="zstd", row_group_size=256 * 1024)
    return {name: t.num_rows for name, t in tables.items()}


def write_dump(folder: Path, schema: DumpSchema = ORDERS) -> None:
    """DATABASE.sql from the Parquet files of the same folder (so it can run beside the log writers)."""
    with (folder / schema.file_name).open("wb") as fh:
        fh.write(_HEADER.encode())
        for name, cols in schema.tables:
            fh.write(_create_table(name, cols).encode())
        for name, cols in schema.tables:
            _copy_block(fh, name, cols, pq.read_table(folder / f"{name}.parquet"))
        fh.write(_constraints(schema).encode())
        fh.write(b"--\n-- PostgreSQL database dump complete\n--\n\n")


def write(db: OrderDB, folder: Path) -> dict[str, int]:
    counts = write_parquet(db, folder)
    write_dump(folder)
    return counts


def _create_table(name: str, columns: tuple[tuple[str, str, bool], ...]) -> str:
    cols = ",\n".join(f"    {ident(c)} {sql}{' NOT NULL' if nn else ''}" for c, sql, nn in columns)
    return (f"--\n-- Name: {name}; Type: TABLE; Schema: public; Owner: -\n--\n\n"
            f"CREATE TABLE public.{ident(name)} (\n{cols}\n);\n\n\n")


def _constraints(schema: DumpSchema) -> str:
    out = []
    keys = dict(schema.primary_keys)
    for table, key in schema.primary_keys:
        out.append(f"--\n-- Name: {table} {table}_pkey; Type: CONSTRAINT; Schema: public; Owner: -\n--\n\n"
                   f"ALTER TABLE ONLY public.{ident(table)}\n"
                   f"    ADD CONSTRAINT {table}_pkey PRIMARY KEY ({ident(key)});\n\n\n")
    for table, col in schema.unique:
        out.append(f"--\n-- Name: {table} {table}_{col}_key; Type: CONSTRAINT; Schema: public; Owner: -\n--\n\n"
                   f"ALTER TABLE ONLY public.{ident(table)}\n"
                   f"    ADD CONSTRAINT {table}_{col}_key UNIQUE ({ident(col)});\n\n\n")
    for table, col in schema.indexes:
        out.append(f"--\n-- Name: {table}_{col}_idx; Type: INDEX; Schema: public; Owner: -\n--\n\n"
                   f"CREATE INDEX {table}_{col}_idx ON public.{ident(table)} USING btree ({ident(col)});\n\n\n")
    for table, col, ref in schema.foreign_keys:
        out.append(f"--\n-- Name: {table} {table}_{col}_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -\n--\n\n"
                   f"ALTER TABLE ONLY public.{ident(table)}\n"
                   f"    ADD CONSTRAINT {table}_{col}_fkey FOREIGN KEY ({ident(col)}) "
                   f"REFERENCES public.{ident(ref)}({ident(keys[ref])});\n\n\n")
    return "".join(out)


def _copy_block(fh: BinaryIO, name: str, columns: tuple[tuple[str, str, bool], ...], table: pa.Table,
                rows_per_chunk: int = 200_000) -> None:
    cols = ", ".join(ident(c) for c, _, _ in columns)
    fh.write((f"--\n-- Data for Name: {name}; Type: TABLE DATA; Schema: public; Owner: -\n--\n\n"
              f"COPY public.{ident(name)} ({cols}) FROM stdin;\n").encode())
    for start in range(0, table.num_rows, rows_per_chunk):
        part = table.slice(start, rows_per_chunk)
        texts = [copy_text(part[c].combine_chunks(), sql) for c, sql, _ in columns]
        parts: list[Part] = []
        for i, t in enumerate(texts):
            parts += ([t] if i == 0 else ["\t", t])
        write_lines(fh, join(*parts, "\n"))
    fh.write(b"\\.\n\n\n")


def copy_text(arr: pa.Array, sql_type: str) -> pa.Array:
    """Values as COPY text format writes them (PostgreSQL output functions; NULL is \\N)."""
    if sql_type.startswith("timestamp"):
        out = pg_timestamptz(arr)
    elif pa.types.is_string(arr.type):
        out = arr
        for src, dst in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
            out = pc.replace_substring(out, src, dst)
    else:
        out = pc.cast(arr, pa.string())
    return pc.fill_null(out, "\\N")


def pg_timestamptz(arr: pa.Array) -> pa.Array:
    """2022-10-31 18:59:13.022922+09: the server's TimeZone is Asia/Tokyo; trailing zeros dropped."""
    us = np.asarray(pc.fill_null(pc.cast(arr, pa.int64()), 0))
    local = us + 9 * 3600 * 10**6
    days = local // (86400 * 10**6)
    first = int(days.min()) if len(days) else 0
    vocab = pa.array(np.datetime_as_string(np.arange(first, int(days.max()) + 1 if len(days) else 1)
                                           .astype("datetime64[D]")))
    sod = (local // 10**6) % 86400
    hms = join(lpad(strs(sod // 3600), 2), ":", lpad(strs(sod // 60 % 60), 2), ":", lpad(strs(sod % 60), 2))
    base = join(vocab.take(pa.array(days - first)), " ", hms)
    frac = local % 10**6
    frac_txt = pc.utf8_rtrim(lpad(strs(frac), 6), characters="0")
    out = pc.if_else(pa.array(frac != 0), join(base, ".", frac_txt, "+09"), join(base, "+09"))
    return pc.if_else(pc.is_null(arr), pa.nulls(len(arr), pa.string()), out)
