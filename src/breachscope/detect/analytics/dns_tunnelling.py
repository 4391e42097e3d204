"""DNS tunnelling: data carried in DNS names (upstream: many unique, long, random-looking subdomains of one
domain) or in TXT/NULL answers (downstream: commands and payloads fetched record by record). Per
registered domain (the last two labels, three under a short second-level public suffix such as co.jp,
com.au): unique subdomains, their length, the share of TXT/NULL queries and the length of their answers,
and how many clients ask; the Shannon entropy of the subdomains is computed for the few candidate
domains only. Reverse lookups (.arpa) are left out; domains everybody queries weigh little."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from breachscope.detect.analytics.base import Analytic, EvidenceQuery, Hit, Skipped, clamp
from breachscope.detect.analytics.netcommon import clamp01, rarity
from breachscope.detect.casecontext import CaseContext
from breachscope.model.sql import quote_literal

MIN_UNIQUE = 10  # unique subdomains of a domain before it can be a channel
CANDIDATES = 200  # domains whose subdomains are fetched for the entropy
SAMPLE = 300  # subdomains per candidate domain for the entropy
REPORT = 40.0
MAX_HITS = 50
LONG_SUB = 16  # a subdomain this long (or half the domain's mean) carries data
#: second-level labels that are public suffixes under a two-letter country code (co.jp, com.au, ac.uk...)
SECOND_LEVEL = ("co", "com", "ac", "ne", "or", "go", "net", "org", "gov", "edu", "ed", "lg", "gr", "ad", "mil")
TUNNEL_TYPES = ("TXT", "NULL", "KEY", "ANY", "*", "PRIVATE")
TUNNEL_QTYPES = (16, 10, 25, 255)


def _sources(ctx: CaseContext) -> list[str]:
    """(ts, name, client, tunnel_type, answer_len) of every DNS query the case has: Zeek dns.log, Sysmon 22."""
    out = []
    w = ctx.window()
    if ctx.has("zeek_dns", "query", "id.orig_h"):
        kinds = []
        if ctx.has("zeek_dns", "qtype_name"):
            kinds.append(f"qtype_name IN ({', '.join(quote_literal(t) for t in TUNNEL_TYPES)})")
        if ctx.has("zeek_dns", "qtype"):
            kinds.append(f"qtype IN ({', '.join(map(str, TUNNEL_QTYPES))})")
        known = " OR ".join(f"{c} IS NOT NULL" for c in ("qtype_name", "qtype") if ctx.has("zeek_dns", c))
        tunnel = (f"CASE WHEN {' OR '.join(kinds)} THEN 1 WHEN {known} THEN 0 END" if kinds
                  else "CAST(NULL AS INTEGER)")
        # the answers as text, whatever their type (a list, or a string in some logs); '[]' and '-' are none
        answer = ("CAST(length(CAST(answers AS VARCHAR)) AS DOUBLE)" if ctx.has("zeek_dns", "answers")
                  else "CAST(NULL AS DOUBLE)")
        out.append(f"""SELECT ts, lower(rtrim(query, '.')) AS name, "id.orig_h" AS client, {tunnel} AS tunnel_type,
            CASE WHEN ({tunnel}) = 1 AND {answer} > 2 THEN {answer} END AS answer_len, 'zeek_dns' AS source
            FROM zeek_dns WHERE query IS NOT NULL AND {w}""")
    if ctx.has("windows", "EventID", "QueryName", "host"):
        out.append(f"""SELECT ts, lower(rtrim(QueryName, '.')) AS name, host AS client,
            CAST(NULL AS INTEGER) AS tunnel_type, CAST(NULL AS DOUBLE) AS answer_len, 'windows' AS source
            FROM windows WHERE EventID = 22 AND QueryName IS NOT NULL AND {w}""")
    return out


def _named_sql(ctx: CaseContext) -> str:
    """CTEs `nc` (per query name and client: counts) and `named` (each distinct name with its registered
    domain and subdomain): the regular expressions run once per name, not per query."""
    suffix = "|".join(SECOND_LEVEL)
    domain = (f"CASE WHEN regexp_matches(name, '[.]({suffix})[.][a-z][a-z]$') "
              f"THEN regexp_extract(name, '[^.]+[.][^.]+[.][^.]+$', 0) "
              f"ELSE regexp_extract(name, '[^.]+[.][^.]+$', 0) END")
    return f"""nc AS (SELECT name, client, count(*) AS n, min(ts) AS first_ts, max(ts) AS last_ts,
                      sum(tunnel_type) AS tunnel_n, count(tunnel_type) AS typed_n, sum(answer_len) AS answer_sum,
                      count(answer_len) AS answer_n
               FROM ({' UNION ALL '.join(_sources(ctx))}) AS q GROUP BY name, client),
    named AS (SELECT name, domain, CASE WHEN length(name) > length(domain) + 1
                                        THEN left(name, length(name) - length(domain) - 1) ELSE '' END AS sub
              FROM (SELECT name, {domain} AS domain FROM (SELECT DISTINCT name FROM nc) AS u
                    WHERE NOT ends_with(name, '.arpa')) AS d
              WHERE domain <> '')"""


def domains_sql(ctx: CaseContext) -> str:
    """The candidate domains (enough unique subdomains), the likeliest channels first, each with up to SAMPLE
    of its subdomains (for the entropy, computed in Python). Public: investigate's exfil_channels scores the
    same candidates (with `score`) to measure the tunnels' payload. The times and the clients are those of the
    names that carry data (long subdomains, TXT/NULL queries): a look-up of the domain's web site days before, or
    by another host, is not the tunnel."""
    carrying = f"length(named.sub) >= greatest({LONG_SUB}, shape.avg_len / 2) OR nc.tunnel_n > 0"
    return f"""
    WITH {_named_sql(ctx)},
    population AS (SELECT count(DISTINCT client) AS clients_all FROM nc),
    shape AS (SELECT domain, count(*) AS uniq, avg(length(sub)) AS avg_len, max(length(sub)) AS max_len
              FROM named GROUP BY domain HAVING count(*) >= {MIN_UNIQUE}),
    traffic AS (SELECT named.domain, sum(nc.n) AS n,
                       coalesce(nullif(count(DISTINCT nc.client) FILTER (WHERE {carrying}), 0),
                                count(DISTINCT nc.client)) AS clients,
                       coalesce(mode(nc.client) FILTER (WHERE {carrying}), mode(nc.client)) AS top_client,
                       sum(nc.tunnel_n) / nullif(sum(nc.typed_n), 0) AS tunnel_share,
                       sum(nc.answer_sum) / nullif(sum(nc.answer_n), 0) AS answer_len,
                       coalesce(min(nc.first_ts) FILTER (WHERE {carrying}), min(nc.first_ts)) AS first_ts,
                       coalesce(max(nc.last_ts) FILTER (WHERE {carrying}), max(nc.last_ts)) AS last_ts
                FROM nc JOIN named ON nc.name = named.name JOIN shape ON named.domain = shape.domain
                GROUP BY named.domain),
    top AS (SELECT shape.*, traffic.n, traffic.clients, traffic.top_client, traffic.tunnel_share,
                   traffic.answer_len, traffic.first_ts, traffic.last_ts, population.clients_all
            FROM shape JOIN traffic ON shape.domain = traffic.domain CROSS JOIN population
            ORDER BY shape.uniq * shape.avg_len * (1 + 10 * coalesce(traffic.tunnel_share, 0)) DESC, shape.domain
            LIMIT {CANDIDATES}),
    sample AS (SELECT domain, sub FROM (
                   SELECT named.domain, named.sub, row_number() OVER (PARTITION BY named.domain ORDER BY named.sub) AS k
                   FROM named JOIN top ON named.domain = top.domain) AS r
               WHERE k <= {SAMPLE}),
    samples AS (SELECT domain, list(sub) AS subs FROM sample GROUP BY domain)
    SELECT top.*, samples.subs FROM top JOIN samples ON top.domain = samples.domain"""


def entropy(text: str) -> float:
    """Shannon entropy of the characters of `text`, in bits per character."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def score(r: dict[str, Any], subs: list[str]) -> tuple[float, dict[str, float]]:
    """The score (0-100) of a row of `domains_sql` with its subdomains, and the parts it is made of."""
    h = sum(entropy(s.replace(".", "")) for s in subs) / len(subs) if subs else 0.0
    unique = clamp01(math.log10(r["uniq"]) / 3)  # 1000 unique subdomains: 1
    length = clamp01((r["avg_len"] - 10) / 30)  # 40 characters: 1
    random_ = clamp01((h - 2.5) / 1.5)  # base32/hex labels: ~4 bits a character
    upstream = 0.35 * unique + 0.3 * length + 0.35 * random_
    share = r["tunnel_share"] or 0.0
    answers = clamp01(((r["answer_len"] or 0.0) - 30) / 170)  # TXT answers of 200 characters: 1
    downstream = share * (0.4 + 0.3 * unique + 0.3 * answers)
    rare = rarity(r["clients"], r["clients_all"])
    parts = {"entropy": h, "unique": unique, "length": length, "randomness": random_, "upstream": upstream,
             "txt_share": share, "answers": answers, "downstream": downstream, "rarity": rare}
    return clamp(100 * max(upstream, downstream) * rare), parts


def run(ctx: CaseContext) -> list[Hit]:
    sources = _sources(ctx)
    if not sources or not ctx.rows(f"SELECT 1 AS x FROM ({' UNION ALL '.join(sources)}) AS q LIMIT 1"):
        within = " in the --since/--until window" if ctx.since or ctx.until else ""
        raise Skipped(f"no DNS queries{within}: no zeek_dns records (query, id.orig_h) and no Sysmon event 22")
    scored = [(score(r, sorted(r["subs"])), r) for r in ctx.rows(domains_sql(ctx))]
    ranked = sorted((x for x in scored if x[0][0] >= REPORT), key=lambda x: (-x[0][0], x[1]["domain"]))[:MAX_HITS]
    return [_hit(ctx, s, parts, r, sorted(r["subs"])) for (s, parts), r in ranked]


def _evidence(ctx: CaseContext, domain: str) -> tuple[EvidenceQuery, ...]:
    tail = quote_literal("." + domain)
    out = []
    if ctx.has("zeek_dns", "query"):
        out.append(EvidenceQuery("zeek_dns", f"ends_with(lower(rtrim(query, '.')), {tail})"))
    if ctx.has("windows", "EventID", "QueryName"):
        out.append(EvidenceQuery("windows", f"EventID = 22 AND ends_with(lower(rtrim(QueryName, '.')), {tail})"))
    return tuple(out)


def _hit(ctx: CaseContext, s: float, parts: dict[str, float], r: dict[str, Any], subs: list[str]) -> Hit:
    kind = "TXT/NULL answers" if parts["downstream"] > parts["upstream"] else "names"
    why = (f"{r['n']:,} queries for {r['uniq']:,} unique subdomains of {r['domain']} (mean length "
           f"{r['avg_len']:.0f}, longest {r['max_len']}, entropy {parts['entropy']:.1f} bits/char, "
           f"TXT/NULL share {parts['txt_share']:.0%}) from {r['clients']} client(s), mostly {r['top_client']}; "
           f"data carried in the {kind}")
    entities = {"domain": r["domain"], "queries": r["n"], "unique_subdomains": r["uniq"],
                "mean_subdomain_length": round(r["avg_len"], 1), "max_subdomain_length": r["max_len"],
                "clients": r["clients"], "top_client": r["top_client"], "sample_subdomains": subs[:5],
                "mean_txt_answer_length": r["answer_len"], **{k: round(v, 3) for k, v in parts.items()}}
    client = r["top_client"]
    ip = client if ctx.is_internal(client) else None
    return Hit(title=f"DNS tunnelling via {r['domain']}", why=why, score=s, first_ts=r["first_ts"],
               last_ts=r["last_ts"], key=(r["domain"],), host=None if ip else client, src_ip=ip,
               event_count=r["n"], entities=entities, evidence=_evidence(ctx, r["domain"]))


ANALYTIC = Analytic(
    name="dns_tunnelling",
    title="DNS tunnelling",
    about="Per registered domain: unique subdomains, their length and Shannon entropy, the share of TXT/NULL "
          "queries and the length of their answers, weighed by how few clients ask (Zeek dns.log, Sysmon 22); "
          "reverse lookups are left out. Dated, and its clients counted, by the names that carry data.",
    tables=("zeek_dns", "windows"),
    run=run,
    attack=("T1071.004", "T1048.003"),
)
