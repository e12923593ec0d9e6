"""A region's process map of a statistics release (issue #23, from issue #13's ``dynamics``
table) as boxes and arrows: the geometry only; ``process_map.svg`` draws it (escaped).

Only what the API's ``/process-map`` answers is drawn: published nodes and edges. A withheld
number is never drawn; an activity whose own count is withheld but that a published edge names is
a box without a number. Rows, top to bottom: the fewest published steps from ``start``; an edge
back to an earlier row (or within one) bends round the right of the boxes.
"""

from collections import deque
from dataclasses import dataclass

from api.schemas import ProcessMapView
from projections.statistics.dynamics import END, START

BOX_W, BOX_H = 170, 38
COL_W, ROW_H = 200, 78
MARGIN = 24


@dataclass(frozen=True, slots=True)
class Box:
    activity: str
    count: int | None  # None: not published (zero or withheld), never drawn as a number
    x: float
    y: float
    ends: bool  # start or end


@dataclass(frozen=True, slots=True)
class Arrow:
    source: str
    target: str
    count: int
    median_weeks: float | None
    path: str
    label_x: float
    label_y: float
    width: float


@dataclass(frozen=True, slots=True)
class MapLayout:
    width: int
    height: int
    boxes: list[Box]
    arrows: list[Arrow]


def layout(view: ProcessMapView) -> MapLayout:
    counts: dict[str, int | None] = {node.activity: node.count for node in view.nodes}
    for edge in view.edges:
        counts.setdefault(edge.source, None)
        counts.setdefault(edge.target, None)
    rank = _ranks(view, list(counts))
    rows: dict[int, list[str]] = {}
    for activity in sorted(counts, key=lambda a: (rank[a], -(counts[a] or 0), a)):
        rows.setdefault(rank[activity], []).append(activity)
    at: dict[str, tuple[float, float]] = {}
    for row, activities in rows.items():
        for column, activity in enumerate(activities):
            at[activity] = (MARGIN + column * COL_W, MARGIN + row * ROW_H)
    widest = max((len(a) for a in rows.values()), default=1)
    right = MARGIN + (widest - 1) * COL_W + BOX_W
    heaviest = max((e.count for e in view.edges), default=1)
    arrows = []
    for i, edge in enumerate(view.edges):
        sx, sy = at[edge.source]
        tx, ty = at[edge.target]
        if rank[edge.target] > rank[edge.source]:
            x0, y0, x1, y1 = sx + BOX_W / 2, sy + BOX_H, tx + BOX_W / 2, ty
            bend = (y1 - y0) / 2
            path = f"M{x0},{y0} C{x0},{y0 + bend} {x1},{y1 - bend} {x1},{y1}"
            lx, ly = (x0 + x1) / 2 + 6, (y0 + y1) / 2 + 4
        else:  # back to an earlier row, or within one: round the right of every box
            x0, y0 = sx + BOX_W, sy + BOX_H / 2 + 6
            x1, y1 = tx + BOX_W, ty + BOX_H / 2 - 6
            out = right + 30 + (i % 4) * 18
            path = f"M{x0},{y0} C{out},{y0} {out},{y1} {x1},{y1}"
            lx, ly = x0 + 0.75 * (out - x0) + 3, (y0 + y1) / 2 + 4
        arrows.append(
            Arrow(
                source=edge.source,
                target=edge.target,
                count=edge.count,
                median_weeks=edge.median_weeks,
                path=path,
                label_x=round(lx, 1),
                label_y=round(ly, 1),
                width=round(1 + 4 * edge.count / heaviest, 1),
            )
        )
    boxes = [Box(a, counts[a], x, y, a in (START, END)) for a, (x, y) in sorted(at.items())]
    return MapLayout(
        width=int(right + MARGIN + 110),
        height=int(MARGIN * 2 + (max(rows, default=0) + 1) * ROW_H),
        boxes=boxes,
        arrows=arrows,
    )


def _ranks(view: ProcessMapView, activities: list[str]) -> dict[str, int]:
    """The fewest published steps from ``start``; ``end`` after every other column; an
    activity no published path reaches, in the column after the deepest reached one."""
    following: dict[str, list[str]] = {}
    for edge in view.edges:
        following.setdefault(edge.source, []).append(edge.target)
    rank = {START: 0}
    queue = deque([START])
    while queue:
        here = queue.popleft()
        for there in following.get(here, []):
            if there not in rank and there != END:
                rank[there] = rank[here] + 1
                queue.append(there)
    deepest = max(rank.values())
    for activity in activities:
        if activity not in rank and activity != END:
            rank[activity] = deepest + 1
    rank[END] = max(rank.values()) + 1
    return {a: rank[a] for a in [*activities, START, END] if a in rank}
