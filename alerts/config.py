"""Alert rules and engine settings from the `[alerts]` section, with the spec's defaults."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from alerts.model import RuleSpec, Severity, Threshold
from collector.config import ConfigError, Duration


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Levels(_Frozen):
    """Threshold values by severity; a missing severity is not used."""

    info: float | None = None
    warning: float | None = None
    critical: float | None = None

    def thresholds(self) -> tuple[Threshold, ...]:
        """The set levels, ascending by severity."""
        pairs = (
            (Severity.INFO, self.info),
            (Severity.WARNING, self.warning),
            (Severity.CRITICAL, self.critical),
        )
        return tuple(Threshold(sev, v) for sev, v in pairs if v is not None)


class RuleSettings(Levels):
    """One rule: levels, comparison, `for` duration, per-station level overrides."""

    enabled: bool = True
    # levels come from the stations file (lake_level: warning_level_m, critical_level_m)
    station_levels: bool = False
    op: Literal[">", ">="] = ">"
    unit: str = ""
    for_: Duration = Field(default=timedelta(0), alias="for")
    hysteresis: float | None = Field(default=None, gt=0, le=1)
    stations: dict[str, Levels] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _some_level(self) -> RuleSettings:
        if self.enabled and not self.station_levels and not self.thresholds():
            raise ValueError("an enabled rule needs at least one of info/warning/critical")
        return self


# Spec §6 defaults. Air means in µg/m³ (Kazakhstan limits), AQI on the US EPA scale.
DEFAULT_RULES: Mapping[str, tuple[str, dict[str, Any]]] = {
    "pm25_24h": ("air", {"warning": 35.0, "unit": "µg/m³"}),
    "pm25_1h": ("air", {"critical": 160.0, "unit": "µg/m³"}),
    "no2_1h": ("air", {"critical": 200.0, "unit": "µg/m³"}),
    "no2_24h": ("air", {"warning": 40.0, "unit": "µg/m³"}),
    "aqi": ("air", {"warning": 151.0, "critical": 201.0, "op": ">=", "unit": "AQI"}),
    # Lake levels: the warning/critical marks of each lake in the stations file.
    "lake_level": ("lake", {"station_levels": True, "op": ">=", "unit": "m"}),
    "lake_rise": ("lake", {"warning": 0.5, "op": ">=", "unit": "m/h"}),
    # Outburst on a hazardous lake: level drop within 10 min, in metres ...
    "lake_outburst": ("lake", {"critical": 0.3, "op": ">=", "unit": "m"}),
    # ... or at a gauge below it: discharge over the median of the previous hour.
    "lake_outburst_surge": ("lake", {"critical": 2.0, "op": ">=", "unit": "×"}),
    # Expected intensity in the city (MSK-64); every whole level above is an update.
    "earthquake": ("seismic", {"critical": 4.0, "op": ">=", "unit": "MSK-64"}),
    "station_pga": ("seismic", {"warning": 25.0, "op": ">=", "unit": "gal"}),
}


class CityRule(_Frozen):
    """An area-wide rule: fires when at least `min_stations` stations exceed a station rule."""

    rule: str
    min_stations: int = Field(default=5, ge=1)
    severity: Severity = Severity.WARNING


_RuleKey = tuple[str, str | None, Levels | None]


class _RuleMemo(dict[_RuleKey, "tuple[RuleSettings | None, float, RuleSpec | None]"]):
    """Built RuleSpecs; never makes two settings unequal (pydantic compares private attrs)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _RuleMemo)

    __hash__ = None  # a dict: unhashable, as before


class AlertSettings(_Frozen):
    """The `[alerts]` section."""

    repeat_interval: Duration = timedelta(hours=4)
    dead_after: Duration = timedelta(hours=1)
    retry_initial: Duration = timedelta(seconds=1)
    retry_max: Duration = timedelta(seconds=60)
    hysteresis: float = Field(default=0.9, gt=0, le=1)
    # true for drills: CAP status Exercise, and every message says it is an exercise
    exercise: bool = False
    rules: dict[str, RuleSettings] = Field(default_factory=dict)
    city: list[CityRule] = Field(
        default_factory=lambda: [CityRule(rule="pm25_24h"), CityRule(rule="pm25_1h")]
    )
    # The air stage asks for several rules per reading; building a RuleSpec each time was
    # 7 % of the daemon's CPU (docs/performance.md). Settings are frozen, so a built spec
    # stays valid; an entry also records the rule settings and hysteresis it was built from,
    # so a model_copy(update=...) sharing this memo never gets a stale spec.
    _rules_built: _RuleMemo = PrivateAttr(default_factory=_RuleMemo)

    def rule(
        self, name: str, station_id: str | None = None, station_levels: Levels | None = None
    ) -> RuleSpec | None:
        """The rule `name` for a station, or None when disabled, unknown or without levels.

        Levels: a per-station override in the configuration wins, then `station_levels`
        (from the stations file) for rules marked `station_levels`, then the rule's own.
        """
        settings = self.rules.get(name)
        # Stations without levels of their own share one spec: the memo stays O(rules).
        own = settings is not None and station_id is not None and station_id in settings.stations
        key = (name, station_id if own else None, station_levels)
        built = self._rules_built.get(key)
        if built is not None and built[0] is settings and built[1] == self.hysteresis:
            return built[2]
        spec = self._build_rule(name, settings, station_id, station_levels)
        self._rules_built[key] = (settings, self.hysteresis, spec)
        return spec

    def _build_rule(
        self,
        name: str,
        settings: RuleSettings | None,
        station_id: str | None,
        station_levels: Levels | None,
    ) -> RuleSpec | None:
        if settings is None or not settings.enabled:
            return None
        levels: Levels = settings
        if station_id is not None and station_id in settings.stations:
            levels = settings.stations[station_id]
        elif settings.station_levels:
            if station_levels is None or not station_levels.thresholds():
                return None
            levels = station_levels
        return RuleSpec(
            name=name,
            kind=DEFAULT_RULES[name][0] if name in DEFAULT_RULES else "air",
            unit=settings.unit,
            thresholds=levels.thresholds(),
            op=settings.op,
            hysteresis=settings.hysteresis or self.hysteresis,
            for_=settings.for_,
        )


def load_alert_settings(section: Mapping[str, Any]) -> AlertSettings:
    """Validate `[alerts]`, merging each rule over its spec default.

    Raises:
        ConfigError: one line naming every problem.
    """
    data = dict(section)
    rules: dict[str, Any] = {}
    given = data.get("rules", {})
    if not isinstance(given, dict):
        raise ConfigError("alerts.rules: must be a table")
    for name, (_kind, defaults) in DEFAULT_RULES.items():
        override = given.get(name, {})
        merged = {**defaults, **override} if isinstance(override, dict) else override
        # a level set in the file replaces the default levels as a whole
        if isinstance(override, dict) and any(
            k in override for k in ("info", "warning", "critical")
        ):
            for level in ("info", "warning", "critical"):
                if level not in override:
                    merged.pop(level, None)
        rules[name] = merged
    rules.update((name, value) for name, value in given.items() if name not in DEFAULT_RULES)
    data["rules"] = rules
    try:
        return AlertSettings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = "alerts." + ".".join(str(p) for p in err["loc"])
            problems.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
        raise ConfigError("; ".join(problems)) from None
