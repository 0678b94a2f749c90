"""Panel constructors with Kuzet's defaults: time series, stat, table, bar chart and Geomap."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from provisioning.grafana_model import Json, Panel, Query, Step, thresholds

# Almaty city centre: the Geomap panels open here.
ALMATY_LAT = 43.238
ALMATY_LON = 76.889

DrawStyle = Literal["line", "bars", "points"]

_LEGEND: Json = {"displayMode": "table", "placement": "right", "showLegend": True, "calcs": []}
_TOOLTIP: Json = {"mode": "multi", "sort": "desc"}


def _series_style(draw: DrawStyle, *, stack: bool, fill: int) -> Json:
    style: Json = {
        "drawStyle": draw,
        "lineWidth": 1,
        "fillOpacity": fill,
        "pointSize": 5 if draw == "points" else 4,
        "showPoints": "always" if draw == "points" else "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "thresholdsStyle": {"mode": "off"},
    }
    if stack:
        style["axisSoftMin"] = 0
    return style


def timeseries(
    title: str,
    *queries: Query,
    width: int = 12,
    height: int = 8,
    unit: str = "",
    description: str = "",
    draw: DrawStyle = "line",
    stack: bool = False,
    lines: Sequence[Step] = (),
    overrides: Sequence[Json] = (),
    legend_calcs: Sequence[str] = ("mean", "max", "lastNotNull"),
) -> Panel:
    """A time series panel; `lines` draws dashed horizontal threshold lines (base step first)."""
    custom = _series_style(draw, stack=stack, fill=80 if draw == "bars" else 10)
    defaults: Json = {"custom": custom, "color": {"mode": "palette-classic"}}
    if lines:
        custom["thresholdsStyle"] = {"mode": "dashed"}
        defaults["thresholds"] = thresholds(lines)
    return Panel(
        "timeseries",
        title,
        queries,
        width,
        height,
        description=description,
        unit=unit,
        defaults=defaults,
        overrides=tuple(overrides),
        options={"legend": _LEGEND | {"calcs": list(legend_calcs)}, "tooltip": _TOOLTIP},
    )


def stat(
    title: str,
    *queries: Query,
    steps: Sequence[Step] = (Step(None, "green"),),
    width: int = 6,
    height: int = 4,
    unit: str = "",
    description: str = "",
    mappings: Sequence[Json] = (),
    decimals: int | None = None,
    graph: bool = False,
    overrides: Sequence[Json] = (),
) -> Panel:
    """A single-value panel coloured by `steps`."""
    defaults: Json = {
        "color": {"mode": "thresholds"},
        "thresholds": thresholds(steps),
        "mappings": list(mappings),
        "noValue": "no data",
    }
    if decimals is not None:
        defaults["decimals"] = decimals
    return Panel(
        "stat",
        title,
        queries,
        width,
        height,
        description=description,
        unit=unit,
        defaults=defaults,
        overrides=tuple(overrides),
        options={
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "area" if graph else "none",
            "justifyMode": "auto",
            "textMode": "auto",
            "orientation": "auto",
            "showPercentChange": False,
            "wideLayout": True,
        },
    )


def table(
    title: str,
    *queries: Query,
    width: int = 24,
    height: int = 10,
    description: str = "",
    overrides: Sequence[Json] = (),
    sort_by: str | None = None,
    descending: bool = True,
) -> Panel:
    """A table with a header row and a footer-less, filterable body."""
    options: Json = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
    if sort_by:
        options["sortBy"] = [{"displayName": sort_by, "desc": descending}]
    return Panel(
        "table",
        title,
        queries,
        width,
        height,
        description=description,
        defaults={"custom": {"filterable": True, "align": "auto"}},
        overrides=tuple(overrides),
        options=options,
    )


def barchart(
    title: str,
    *queries: Query,
    width: int = 12,
    height: int = 8,
    description: str = "",
    x_field: str,
    stack: bool = True,
    overrides: Sequence[Json] = (),
) -> Panel:
    """Bars per category (`x_field`), stacked by default; for counts by channel and status."""
    return Panel(
        "barchart",
        title,
        queries,
        width,
        height,
        description=description,
        defaults={"color": {"mode": "palette-classic"}, "custom": {"fillOpacity": 80}},
        overrides=tuple(overrides),
        options={
            "xField": x_field,
            "stacking": "normal" if stack else "none",
            "orientation": "auto",
            "showValue": "auto",
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": _TOOLTIP,
        },
    )


@dataclass(frozen=True, slots=True)
class MarkerLayer:
    """A Geomap markers layer: rows with lat/lon columns, coloured by `color_field`'s thresholds.

    Attributes:
        name: The layer's legend name.
        ref: Which query (refId) feeds it.
        color_field: Field whose value picks the marker colour (None: `fixed_color`).
        text_field: Field drawn next to the marker (None: no label).
        size_field: Field scaling the marker between `min_size` and `max_size` (None: fixed).
        symbol: Grafana marker icon name (circle, square, triangle, star, ...).
    """

    name: str
    ref: str = "A"
    color_field: str | None = None
    fixed_color: str = "blue"
    text_field: str | None = None
    size_field: str | None = None
    min_size: int = 6
    max_size: int = 16
    symbol: str = "circle"

    def to_json(self) -> Json:
        """The layer entry of the Geomap options."""
        color: Json = {"fixed": self.fixed_color}
        if self.color_field:
            color["field"] = self.color_field
        size: Json = {"fixed": self.min_size, "min": self.min_size, "max": self.max_size}
        if self.size_field:
            size["field"] = self.size_field
        style: dict[str, Any] = {
            "color": color,
            "size": size,
            "opacity": 0.85,
            "symbol": {"mode": "fixed", "fixed": f"img/icons/marker/{self.symbol}.svg"},
            "symbolAlign": {"horizontal": "center", "vertical": "center"},
            "textConfig": {"fontSize": 10, "offsetX": 10, "offsetY": 0, "textAlign": "left"},
        }
        if self.text_field:
            style["text"] = {"mode": "field", "field": self.text_field, "fixed": ""}
        return {
            "type": "markers",
            "name": self.name,
            "config": {"showLegend": True, "style": style},
            "location": {"mode": "coords", "latitude": "lat", "longitude": "lon"},
            "filterData": {"id": "byRefId", "options": self.ref},
            "tooltip": True,
        }


def geomap(
    title: str,
    *queries: Query,
    layers: Sequence[MarkerLayer],
    steps: Sequence[Step] = (Step(None, "blue"),),
    mappings: Sequence[Json] = (),
    width: int = 12,
    height: int = 14,
    zoom: float = 11,
    description: str = "",
) -> Panel:
    """A map of Almaty with marker layers; rows need `lat` and `lon` columns."""
    return Panel(
        "geomap",
        title,
        queries,
        width,
        height,
        description=description,
        defaults={
            "color": {"mode": "thresholds"},
            "thresholds": thresholds(steps),
            "mappings": list(mappings),
        },
        options={
            "view": {"id": "coords", "lat": ALMATY_LAT, "lon": ALMATY_LON, "zoom": zoom},
            "controls": {"showZoom": True, "mouseWheelZoom": True, "showAttribution": True},
            "basemap": {"type": "default", "name": "Basemap", "config": {}},
            "layers": [layer.to_json() for layer in layers],
            "tooltip": {"mode": "details"},
        },
    )


def value_text(mapping: dict[str, tuple[str, str]]) -> Json:
    """A value mapping: raw value → (display text, colour)."""
    return {
        "type": "value",
        "options": {
            raw: {"text": text, "color": color, "index": i}
            for i, (raw, (text, color)) in enumerate(mapping.items())
        },
    }


def override(field_name: str, *, regex: bool = False, **properties: object) -> Json:
    """Field overrides for one field by display name (or a regex); `__` in keys is a dot."""
    return _override(field_name, properties, regex=regex)


def _override(field_name: str, properties: dict[str, object], *, regex: bool = False) -> Json:
    return {
        "matcher": {"id": "byRegexp" if regex else "byName", "options": field_name},
        "properties": [{"id": k.replace("__", "."), "value": v} for k, v in properties.items()],
    }


def cell_colors(field_name: str, steps: Sequence[Step], *, unit: str = "") -> Json:
    """Colour one table column's cells by thresholds (background)."""
    props: dict[str, object] = {
        "thresholds": thresholds(steps),
        "color": {"mode": "thresholds"},
        "custom__cellOptions": {"type": "color-background", "mode": "basic"},
    }
    if unit:
        props["unit"] = unit
    return _override(field_name, props)


def dashed_series(ref: str, *, colors: dict[str, str]) -> list[Json]:
    """Style the series of query `ref` as thin dashed reference lines with fixed colours."""
    by_ref: Json = {
        "matcher": {"id": "byFrameRefID", "options": ref},
        "properties": [
            {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 6]}},
            {"id": "custom.fillOpacity", "value": 0},
            {"id": "custom.lineWidth", "value": 1},
        ],
    }
    return [by_ref] + [
        override(name, color={"mode": "fixed", "fixedColor": color})
        for name, color in colors.items()
    ]
