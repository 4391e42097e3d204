"""Where the attack graph's nodes and edges go in the SVG: fixed columns by role, nodes stacked in the order
the incident ranks them, accounts in a band below, edges as curves with their number at the middle.
Computed here (not in the page) so the same document gives the same picture, byte for byte."""

from __future__ import annotations

import math
from dataclasses import dataclass

from breachscope.report.graph import ACCOUNTS, COLUMN_KEYS, Graph, Node

WIDTH = 1100
NODE_W, NODE_H = 180, 44
COL_X = (20, 240, 460, 680, 900)  # left edge of each column's nodes
TOP = 96  # below the column titles, with room for the arcs of edges that skip columns
ROW = 64  # vertical pitch of the nodes
MAX_PER_COLUMN = 30  # more nodes than this in a column: listed in the edge table only
LABEL_CHARS = 22
PARALLEL = 28  # vertical spread of edges between the same two nodes


@dataclass(frozen=True)
class Box:
    node: Node
    x: int
    y: int
    text: str  # the label, cut to fit (the full label is in the node's <title>)
    sub: str


@dataclass(frozen=True)
class Line:
    number: int
    kind: str
    d: str
    lx: int  # where the edge's number goes
    ly: int
    head: str  # the arrowhead's points (drawn here: no marker reference needed)


@dataclass(frozen=True)
class Heading:
    key: str
    x: int
    y: int
    hidden: int  # nodes of the column left out of the picture


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    boxes: tuple[Box, ...]
    lines: tuple[Line, ...]
    headings: tuple[Heading, ...]


def _cut(s: str, n: int = LABEL_CHARS) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def layout(g: Graph) -> Layout:
    columns: list[list[Node]] = [[] for _ in COLUMN_KEYS]
    for n in g.nodes:
        columns[n.column].append(n)
    placed: dict[int, Box] = {}
    headings: list[Heading] = []
    tallest = max((min(len(c), MAX_PER_COLUMN) for c in columns[:ACCOUNTS]), default=0)
    for col, nodes in enumerate(columns[:ACCOUNTS]):
        headings.append(Heading(COLUMN_KEYS[col], COL_X[col] + NODE_W // 2, 24, max(0, len(nodes) - MAX_PER_COLUMN)))
        for i, n in enumerate(nodes[:MAX_PER_COLUMN]):
            placed[n.number] = Box(n, COL_X[col], TOP + i * ROW, _cut(n.label), _cut(n.detail, 28))
    band = TOP + max(tallest, 1) * ROW + 40  # the accounts' band
    accounts = columns[ACCOUNTS][: MAX_PER_COLUMN * 2]
    if accounts:
        headings.append(Heading(COLUMN_KEYS[ACCOUNTS], WIDTH // 2, band - 16,
                                max(0, len(columns[ACCOUNTS]) - len(accounts))))
    for i, n in enumerate(accounts):
        row, col = divmod(i, len(COL_X))
        placed[n.number] = Box(n, COL_X[col], band + 8 + row * ROW, _cut(n.label), _cut(n.detail, 28))
    height = max((b.y for b in placed.values()), default=TOP) + NODE_H + 24
    shown = [e for e in g.edges if e.src.number in placed and e.dst.number in placed]
    pairs: dict[tuple[int, int], list[int]] = {}  # edges between the same two nodes, either way
    for e in shown:
        pairs.setdefault((min(e.src.number, e.dst.number), max(e.src.number, e.dst.number)), []).append(e.number)
    lines = []
    for e in shown:
        same = pairs[(min(e.src.number, e.dst.number), max(e.src.number, e.dst.number))]
        offset = (same.index(e.number) - (len(same) - 1) / 2) * PARALLEL
        lines.append(_line(e.number, e.kind, placed[e.src.number], placed[e.dst.number], offset))
    return Layout(WIDTH, height, tuple(placed[k] for k in sorted(placed)), tuple(lines), tuple(headings))


def _line(number: int, kind: str, a: Box, b: Box, offset: float) -> Line:
    """A cubic curve from a side of `a` to a side of `b` facing it. `offset` separates edges between the same
    two nodes; an edge that skips columns arcs above the nodes between; accounts go up to the host's bottom."""
    shift = round(offset * 0.4)  # parallel edges leave and reach the boxes at different heights
    if a.node.column == ACCOUNTS:
        x1, y1, x2, y2 = a.x + NODE_W // 2 + shift, a.y, b.x + NODE_W // 2 + shift, b.y + NODE_H
        c1, c2 = (x1, y1 - 40), (x2, y2 + 40)
    elif b.x != a.x:
        sign = 1 if b.x > a.x else -1
        x1, x2 = (a.x + NODE_W, b.x) if sign > 0 else (a.x, b.x + NODE_W)
        y1, y2 = a.y + NODE_H // 2 + shift, b.y + NODE_H // 2 + shift
        if abs(b.x - a.x) > COL_X[1] - COL_X[0]:  # over the columns between: arc above them
            top = min(a.y, b.y) - 44 + round(offset)
            c1, c2 = (x1 + sign * 60, top), (x2 - sign * 60, top)
        else:
            c1, c2 = (x1 + sign * 40, y1 + round(offset)), (x2 - sign * 40, y2 + round(offset))
    else:  # same column: a loop out to the right
        x1, y1, x2, y2 = a.x + NODE_W, a.y + NODE_H // 2 + shift, b.x + NODE_W, b.y + NODE_H // 2 + shift
        c1, c2 = (x1 + 50 + round(offset), y1), (x2 + 50 + round(offset), y2)
    # the curve's middle (t = 1/2) carries the edge's number
    lx = round((x1 + 3 * c1[0] + 3 * c2[0] + x2) / 8)
    ly = round((y1 + 3 * c1[1] + 3 * c2[1] + y2) / 8)
    d = f"M{x1},{y1} C{c1[0]},{c1[1]} {c2[0]},{c2[1]} {x2},{y2}"
    return Line(number, kind, d, lx, ly, _head(c2, (x2, y2)))


def _head(c: tuple[int, int], tip: tuple[int, int], size: float = 10.0) -> str:
    """A triangle at `tip` pointing along the curve's last tangent (from its last control point)."""
    dx, dy = tip[0] - c[0], tip[1] - c[1]
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length, dy / length
    bx, by = tip[0] - ux * size, tip[1] - uy * size
    left = (round(bx - uy * size / 2), round(by + ux * size / 2))
    right = (round(bx + uy * size / 2), round(by - ux * size / 2))
    return f"{tip[0]},{tip[1]} {left[0]},{left[1]} {right[0]},{right[1]}"
