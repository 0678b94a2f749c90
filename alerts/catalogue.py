"""The alert template files: their schema, placeholders and validation (one language each)."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Annotated, Final, Literal, Self, TypeVar, cast, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from collector.air.aqi import AqiCategory

Lang = Literal["en", "ru", "kk"]
LANGS: Final[tuple[Lang, ...]] = get_args(Lang)
EVENTS: Final = ("firing", "escalated", "repeat", "resolved")
_AIR_RULES = ("pm25_24h", "pm25_1h", "no2_1h", "no2_24h", "aqi")
_GEO_RULES = ("earthquake", "station_pga", "lake_level", "lake_rise", "lake_outburst")
RULES: Final = (*_AIR_RULES, *_GEO_RULES, "station_stale")
# The default city-wide rules (alerts.config: `alerts.city`), named `<station rule>_city`.
CITY_RULES: Final = ("pm25_1h_city", "pm25_24h_city")
SEVERITIES: Final = ("info", "warning", "critical")
AQI_CATEGORIES: Final = tuple(c.value for c in AqiCategory)
DIRECTIONS: Final = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
FIELDS: Final = ("summary", "description", "instruction")
NUMERIC: Final = ("value", "threshold", "magnitude", "intensity", "lead_s", "distance_km")
_NAMES = ("station", "station_id", "area", "place", "rule", "severity", "unit", "category")
PLACEHOLDERS: Final = frozenset((*_NAMES, *NUMERIC, "direction", "downstream", "duration"))
_VARIANT = re.compile(r"^(summary|description|instruction)_no_([a-z_]+)$")
_FORMATTER = string.Formatter()
_T = TypeVar("_T")


class MessagesError(Exception):
    """Base class of the errors of this module."""


class TemplateError(MessagesError):
    """The template files are malformed or inconsistent (raised at load time)."""


class RenderError(MessagesError):
    """A message cannot be rendered from the given arguments."""


class MissingPlaceholderError(RenderError):
    """A template needs a parameter the caller did not pass, and no variant does without it."""

    def __init__(self, lang: str, rule: str, event: str, field_name: str, missing: Sequence[str]):
        self.lang, self.rule, self.event, self.field_name = lang, rule, event, field_name
        self.missing = tuple(missing)
        super().__init__(
            f"{lang}/{rule}/{event}.{field_name}: missing placeholder(s) {', '.join(self.missing)}"
        )


class PlaceholderValueError(RenderError, ValueError):
    """A parameter has a value that cannot be shown (wrong type, negative duration)."""


def _freeze(value: Mapping[str, _T]) -> Mapping[str, _T]:
    return MappingProxyType(dict(value))


Text = Annotated[str, Field(min_length=1)]
TextMap = Annotated[Mapping[str, Text], AfterValidator(_freeze)]


def template_fields(text: str) -> tuple[str, ...]:
    """The placeholder names of a template, in order of appearance."""
    return tuple(name for _, name, _, _ in _FORMATTER.parse(text) if name is not None)


def _template_problems(where: str, text: str) -> list[str]:
    try:
        parsed = list(_FORMATTER.parse(text))
    except ValueError as exc:
        return [f"{where}: unbalanced braces ({exc})"]
    problems = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            problems.append(f"{where}: unknown placeholder {{{name}}}")
        if spec or conversion:
            problems.append(f"{where}: {{{name}}} must not carry a format spec or conversion")
    return problems


def _event_problems(where: str, texts: Mapping[str, str]) -> list[str]:
    problems = [f"{where}: missing {key}" for key in ("summary", "description") if key not in texts]
    for key, text in texts.items():
        problems += _template_problems(f"{where}.{key}", text)
        if key in FIELDS:
            continue
        match = _VARIANT.match(key)
        if match is None or match.group(2) not in PLACEHOLDERS:
            problems.append(f"{where}: unexpected key {key}")
        elif match.group(2) in template_fields(text):
            problems.append(f"{where}.{key}: uses the placeholder it stands in for")
    return problems


class RuleTemplates(BaseModel):
    """The templates of one rule: its instruction and the texts of the four events."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instruction: Text
    firing: TextMap
    escalated: TextMap
    repeat: TextMap
    resolved: TextMap

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems = _template_problems("instruction", self.instruction)
        for event in EVENTS:
            problems += _event_problems(event, self.texts(event))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def texts(self, event: str) -> Mapping[str, str]:
        """The templates of one event (summary, description, optional instruction, variants)."""
        return cast("Mapping[str, str]", getattr(self, event))

    def key_paths(self) -> set[str]:
        """Every key of this table, dotted (for the cross-language comparison)."""
        return {"instruction"} | {f"{e}.{key}" for e in EVENTS for key in self.texts(e)}


class Catalogue(BaseModel):
    """One language's template file, validated."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    meta: TextMap
    rule_names: TextMap
    severity_names: TextMap
    aqi_categories: TextMap
    pollutants: TextMap
    units: TextMap
    durations: TextMap
    directions: TextMap
    lists: TextMap
    labels: TextMap
    areas: TextMap
    rules: Annotated[Mapping[str, RuleTemplates], AfterValidator(_freeze)]
    generic: RuleTemplates

    @model_validator(mode="after")
    def _check(self) -> Self:
        expected = {
            "meta": (self.meta, ("lang",)),
            "severity_names": (self.severity_names, SEVERITIES),
            "aqi_categories": (self.aqi_categories, AQI_CATEGORIES),
            "durations": (self.durations, ("d", "h", "min", "under_minute")),
            "directions": (self.directions, (*DIRECTIONS, "unknown")),
            "lists": (self.lists, ("and",)),
            "labels": (self.labels, ("exercise",)),
            "rules": (self.rules, (*RULES, *CITY_RULES)),
            "rule_names": (self.rule_names, tuple(self.rules)),
        }
        problems = []
        for name, (table, keys) in expected.items():
            if missing := sorted(set(keys) - set(table)):
                problems.append(f"[{name}] lacks {', '.join(missing)}")
        if unknown := sorted(set(self.rule_names) - set(self.rules)):
            problems.append(f"[rule_names] names rules without templates: {', '.join(unknown)}")
        if self.meta.get("lang") not in LANGS:
            problems.append(f"[meta] lang must be one of {', '.join(LANGS)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def key_paths(self) -> set[str]:
        """Every key of the file, dotted, e.g. `rules.aqi.firing.summary`."""
        tables = [name for name in type(self).model_fields if name not in ("rules", "generic")]
        paths = {f"{name}.{key}" for name in tables for key in getattr(self, name)}
        for rule, templates in self.rules.items():
            paths |= {f"rules.{rule}.{path}" for path in templates.key_paths()}
        return paths | {f"generic.{path}" for path in self.generic.key_paths()}
