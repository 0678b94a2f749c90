"""Typed builders for the Grafana JSON Kuzet provisions: datasources, queries, panels, layout.

Only the subset of the dashboard model Kuzet uses is built here, for Grafana 11 and 12
(dashboard `schemaVersion` 39; newer Grafana migrates it on load). Every panel, query, variable
and annotation names its datasource by `uid` (never by display name: renaming a datasource
must not break a panel), and the uids are the ones provisioned in grafana/datasources/.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Json = dict[str, Any]

GRID_WIDTH = 24
# Grafana 11.0's dashboard schema; Grafana 12 migrates it forward when it loads the file.
SCHEMA_VERSION = 39
TIMEZONE = "Asia/Almaty"
# Every Kuzet dashboard carries this tag; the dashboard links list them by it.
TAG = "kuzet"


@dataclass(frozen=True, slots=True)
class Datasource:
    """A provisioned datasource: fixed uid, plugin type and display name."""

    uid: str
    type: str
    name: str

    def ref(self) -> Json:
        """The `{"type", "uid"}` reference panels and queries use."""
        return {"type": self.type, "uid": self.uid}


# "grafana-postgresql-datasource" is the plugin id since Grafana 10.3 ("postgres" is its alias).
TIMESCALEDB = Datasource("kuzet-timescaledb", "grafana-postgresql-datasource", "Kuzet TimescaleDB")
PROMETHEUS = Datasource("kuzet-prometheus", "prometheus", "Kuzet Prometheus")
DATASOURCES = (TIMESCALEDB, PROMETHEUS)


@dataclass(frozen=True, slots=True)
class Step:
    """One threshold step: from `value` upwards (None: the base step) the colour is `color`."""

    value: float | None
    color: str


def thresholds(steps: Sequence[Step]) -> Json:
    """Absolute thresholds from steps given lowest first, the first being the base (None)."""
    return {
        "mode": "absolute",
        "steps": [{"color": s.color, "value": s.value} for s in steps],
    }


@dataclass(frozen=True, slots=True)
class Query:
    """One query of a panel: SQL for the TimescaleDB datasource, PromQL for Prometheus."""

    datasource: Datasource
    text: str
    ref: str = "A"
    table: bool = False
    legend: str = ""
    instant: bool = False

    def to_json(self) -> Json:
        """The panel target."""
        target: Json = {"datasource": self.datasource.ref(), "refId": self.ref}
        if self.datasource is PROMETHEUS:
            target |= {
                "editorMode": "code",
                "expr": self.text,
                "legendFormat": self.legend or "__auto",
                "range": not self.instant,
                "instant": self.instant,
            }
            if self.table:
                target["format"] = "table"
            return target
        return target | {
            "editorMode": "code",
            "format": "table" if self.table else "time_series",
            "rawQuery": True,
            "rawSql": self.text,
        }


def sql(text: str, *, ref: str = "A", table: bool = False) -> Query:
    """A raw SQL query on the TimescaleDB datasource (`table` for tables, maps and stats)."""
    return Query(TIMESCALEDB, text.strip(), ref=ref, table=table)


def promql(expr: str, *, legend: str = "", ref: str = "A", instant: bool = False) -> Query:
    """A PromQL query; `instant` for tables and stats that show the current value only."""
    return Query(PROMETHEUS, expr.strip(), ref=ref, legend=legend, instant=instant, table=instant)


@dataclass(frozen=True, slots=True)
class Panel:
    """A visualisation with its queries and size; the layout assigns id and position."""

    type: str
    title: str
    queries: tuple[Query, ...]
    width: int
    height: int
    description: str = ""
    unit: str = ""
    options: Json = field(default_factory=dict)
    defaults: Json = field(default_factory=dict)
    overrides: tuple[Json, ...] = ()
    transformations: tuple[Json, ...] = ()

    def to_json(self, panel_id: int, x: int, y: int) -> Json:
        """The panel JSON at grid position (x, y)."""
        sources = {q.datasource for q in self.queries}
        if len(sources) != 1:
            raise ValueError(f"panel {self.title!r}: queries must share one datasource")
        defaults: Json = {"unit": self.unit} if self.unit else {}
        return {
            "id": panel_id,
            "type": self.type,
            "title": self.title,
            "description": self.description,
            "datasource": self.queries[0].datasource.ref(),
            "gridPos": {"h": self.height, "w": self.width, "x": x, "y": y},
            "targets": [q.to_json() for q in self.queries],
            "fieldConfig": {
                "defaults": defaults | self.defaults,
                "overrides": list(self.overrides),
            },
            "options": self.options,
            "transformations": list(self.transformations),
        }


@dataclass(frozen=True, slots=True)
class Row:
    """A full-width row header; the panels after it belong to it (rows are never collapsed)."""

    title: str


def layout(items: Sequence[Panel | Row]) -> list[Json]:
    """Place panels left to right, each at the highest free spot, and number them from 1.

    The skyline placement mirrors Grafana's own gravity, so what the file says is what the
    browser shows: a tall map on the left with small stats stacked beside it stays that way.
    """
    heights = [0] * GRID_WIDTH
    placed: list[Json] = []
    for panel_id, item in enumerate(items, start=1):
        if isinstance(item, Row):
            y = max(heights)
            placed.append(
                {
                    "id": panel_id,
                    "type": "row",
                    "title": item.title,
                    "collapsed": False,
                    "panels": [],
                    "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y},
                }
            )
            heights = [y + 1] * GRID_WIDTH
            continue
        if not 1 <= item.width <= GRID_WIDTH:
            raise ValueError(f"panel {item.title!r}: width must be 1..{GRID_WIDTH}")
        x, y = min(
            ((x, max(heights[x : x + item.width])) for x in range(GRID_WIDTH - item.width + 1)),
            key=lambda xy: (xy[1], xy[0]),
        )
        heights[x : x + item.width] = [y + item.height] * item.width
        placed.append(item.to_json(panel_id, x, y))
    return placed


def query_variable(
    name: str,
    label: str,
    query: Query,
    *,
    multi: bool = True,
    include_all: bool = True,
    all_value: str | None = None,
    sort: bool = True,
) -> Json:
    """A dashboard variable whose values come from a query (SQL or `label_values(...)`).

    `sort` orders the values alphabetically; False keeps the query's own order.
    """
    variable: Json = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": query.datasource.ref(),
        "query": query.text,
        "definition": query.text,
        "refresh": 2,  # on time range change: new stations and instances appear
        "multi": multi,
        "includeAll": include_all,
        "sort": 1 if sort else 0,
        "hide": 0,
        "options": [],
        "current": {},
    }
    if all_value is not None:
        variable["allValue"] = all_value
    return variable


def custom_variable(
    name: str, label: str, values: Sequence[str], *, default: str | None = None
) -> Json:
    """A fixed list of values: single-valued with a `default`, else multi-valued with All."""
    if default is not None and default not in values:
        raise ValueError(f"variable {name}: default {default!r} is not one of {values}")
    multi = default is None
    current = {"text": "All", "value": "$__all"} if multi else {"text": default, "value": default}
    return {
        "name": name,
        "label": label,
        "type": "custom",
        "query": ",".join(values),
        "multi": multi,
        "includeAll": multi,
        "hide": 0,
        "current": current,
        "options": [{"text": v, "value": v, "selected": v == default} for v in values],
    }


def sql_annotation(name: str, text: str, *, color: str = "red") -> Json:
    """Annotations from a SQL query returning `time`, `timeend`, `text` and `tags` columns."""
    return {
        "name": name,
        "datasource": TIMESCALEDB.ref(),
        "enable": True,
        "hide": False,
        "iconColor": color,
        "target": sql(text, ref="Anno", table=True).to_json(),
    }


def dashboard(
    *,
    uid: str,
    title: str,
    description: str,
    items: Sequence[Panel | Row],
    variables: Sequence[Json] = (),
    annotations: Sequence[Json] = (),
    time_from: str = "now-24h",
    refresh: Literal["30s", "1m", "5m"] = "1m",
) -> Json:
    """A complete dashboard with a fixed uid, linked to the other Kuzet dashboards by tag."""
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": [TAG],
        "timezone": TIMEZONE,
        "editable": False,
        "graphTooltip": 1,  # shared crosshair: compare series of one moment across panels
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": {"from": time_from, "to": "now"},
        "refresh": refresh,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "monday",
        "links": [
            {
                "type": "dashboards",
                "title": "Kuzet",
                "tags": [TAG],
                "asDropdown": True,
                "keepTime": True,
                "includeVars": False,
                "targetBlank": False,
                "icon": "external link",
                "tooltip": "",
                "url": "",
            }
        ],
        "annotations": {"list": list(annotations)},
        "templating": {"list": list(variables)},
        "panels": layout(items),
    }
