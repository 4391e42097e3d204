"""The database snapshot: one Parquet file per table, and a plain-SQL dump as `pg_dump` writes it."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from breachscope.simulate.customers import FOREIGN_KEYS, INDEXES, PRIMARY_KEYS, SCHEMA, UNIQUE, OrderDB
from breachscope.simulate.text import Part, join, lpad, strs, write_lines

PG_VERSION = "15.10 (Debian 15.10-0+deb12u1)"
DUMP_NAME = "orders.sql"
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
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in db.tables.items():
        pq.write_table(table, folder / f"{name}.parquet", compression="zstd", row_group_size=256 * 1024)
    return {name: t.num_rows for name, t in db.tables.items()}


def write_dump(folder: Path) -> None:
    """orders.sql from the Parquet files of the same folder (so it can run beside the log writers)."""
    with (folder / DUMP_NAME).open("wb") as fh:
        fh.write(_HEADER.encode())
        for name in SCHEMA:
            fh.write(_create_table(name).encode())
        for name in SCHEMA:
            _copy_block(fh, name, pq.read_table(folder / f"{name}.parquet"))
        fh.write(_constraints().encode())
        fh.write(b"--\n-- PostgreSQL database dump complete\n--\n\n")


def write(db: OrderDB, folder: Path) -> dict[str, int]:
    counts = write_parquet(db, folder)
    write_dump(folder)
    return counts


def _create_table(name: str) -> str:
    cols = ",\n".join(f"    {c} {sql}{' NOT NULL' if nn else ''}" for c, _, sql, nn in SCHEMA[name])
    return (f"--\n-- Name: {name}; Type: TABLE; Schema: public; Owner: -\n--\n\n"
            f"CREATE TABLE public.{name} (\n{cols}\n);\n\n\n")


def _constraints() -> str:
    out = []
    for table, key in PRIMARY_KEYS.items():
        out.append(f"--\n-- Name: {table} {table}_pkey; Type: CONSTRAINT; Schema: public; Owner: -\n--\n\n"
                   f"ALTER TABLE ONLY public.{table}\n    ADD CONSTRAINT {table}_pkey PRIMARY KEY ({key});\n\n\n")
    for table, col in UNIQUE:
        out.append(f"--\n-- Name: {table} {table}_{col}_key; Type: CONSTRAINT; Schema: public; Owner: -\n--\n\n"
                   f"ALTER TABLE ONLY public.{table}\n    ADD CONSTRAINT {table}_{col}_key UNIQUE ({col});\n\n\n")
    for table, col in INDEXES:
        out.append(f"--\n-- Name: {table}_{col}_idx; Type: INDEX; Schema: public; Owner: -\n--\n\n"
                   f"CREATE INDEX {table}_{col}_idx ON public.{table} USING btree ({col});\n\n\n")
    for table, col, ref in FOREIGN_KEYS:
        out.append(f"--\n-- Name: {table} {table}_{col}_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -\n--\n\n"
                   f"ALTER TABLE ONLY public.{table}\n    ADD CONSTRAINT {table}_{col}_fkey FOREIGN KEY ({col}) "
                   f"REFERENCES public.{ref}({PRIMARY_KEYS[ref]});\n\n\n")
    return "".join(out)


def _copy_block(fh: BinaryIO, name: str, table: pa.Table, rows_per_chunk: int = 200_000) -> None:
    cols = ", ".join(c for c, _, _, _ in SCHEMA[name])
    fh.write((f"--\n-- Data for Name: {name}; Type: TABLE DATA; Schema: public; Owner: -\n--\n\n"
              f"COPY public.{name} ({cols}) FROM stdin;\n").encode())
    for start in range(0, table.num_rows, rows_per_chunk):
        part = table.slice(start, rows_per_chunk)
        texts = [copy_text(part[c].combine_chunks(), sql) for c, _, sql, _ in SCHEMA[name]]
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
