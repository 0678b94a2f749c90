"""Alert texts in Kazakh, Russian and English: the reviewed templates and their renderer.

`load_messages()` reads `alerts/templates/{en,ru,kk}.toml` (layout: header of en.toml) once
into frozen, validated objects; a malformed file, an unknown placeholder or a key missing from
one language raises `TemplateError` at start-up, never at notification time.

`Messages.render(lang, rule, event, params) -> RenderedMessage` formats raw values itself:
numbers (`value`, `threshold`, `magnitude`, `intensity`, `lead_s`, `distance_km`; numeric
strings written in that language are re-read) with the language's decimal mark and per-rule
decimals (`RULE_DIGITS`; thresholds drop trailing zeros); `unit` (the rule's own when absent),
`area`/`downstream` (English names as in stations.toml, a list or one string), `severity` and
`category` (AQI key or EPA name; derived from `value` for `aqi`) through their tables;
`direction` (compass point or azimuth, city to epicentre; "unknown" wording when absent);
`duration`, any timedelta, and `value`/`threshold` of `station_stale` (seconds) as "3 h 20 min".
`station` is a string or a mapping by language; a plain string that is an `[areas]` key
("Almaty", city-wide alerts) is translated unless a different `area` is given, and
`station_id` stands in when it is absent. Derived: `place` ("station, area", or the station
alone) and `rule` (display name, or the alertname). Values already translated pass unchanged.

Optional placeholders: the key `<field>_no_<placeholder>` (e.g. `summary_no_lead_s`) replaces
`<field>` when that placeholder is absent (None or ""; `lead_s` below 1 s too: the shaking is
there). If no variant fits, `MissingPlaceholderError` names what is missing. A rule without
templates falls back to `[generic]`, so a new rule still gets a readable notification.
"""

from __future__ import annotations

import logging
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from functools import cache
from importlib import resources
from numbers import Integral, Real
from types import MappingProxyType
from typing import Final, cast

from pydantic import ValidationError

from alerts.catalogue import (
    DIRECTIONS,
    EVENTS,
    FIELDS,
    LANGS,
    NUMERIC,
    Catalogue,
    Lang,
    MissingPlaceholderError,
    PlaceholderValueError,
    RenderError,
    TemplateError,
    template_fields,
)
from collector.air.aqi import category_for

logger = logging.getLogger(__name__)


# Decimals shown per number placeholder, and per rule where the measurement needs others.
DEFAULT_DIGITS: Final[Mapping[str, int]] = MappingProxyType(
    {"value": 1, "threshold": 1, "magnitude": 1, "intensity": 0, "lead_s": 0, "distance_km": 0}
)
_WHOLE, _CENTI = (MappingProxyType({"value": d, "threshold": d}) for d in (0, 2))
RULE_DIGITS: Final[Mapping[str, Mapping[str, int]]] = MappingProxyType(
    {"aqi": _WHOLE, "lake_level": _CENTI, "lake_rise": _CENTI}
)
# The unit of each rule's value (spec §6), used when the caller passes none.
DEFAULT_UNITS: Final[Mapping[str, str]] = MappingProxyType(
    dict.fromkeys(("pm25_24h", "pm25_1h", "no2_1h", "no2_24h"), "µg/m³")
    | {"station_pga": "gal", "lake_level": "m", "lake_rise": "m/h"}
)
# Rules whose value and threshold are spans of time in seconds, shown as durations.
SECONDS_AS_DURATION: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {"station_stale": frozenset({"value", "threshold"})}
)
# Spellings of units that mean the same thing (Greek mu vs micro sign, ASCII forms).
_UNIT_ALIASES: Final = MappingProxyType(
    {"μg/m³": "µg/m³", "ug/m3": "µg/m³", "µg/m3": "µg/m³", "Gal": "gal", "m3/s": "m³/s"}
)
Params = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class NumberStyle:
    """Decimal mark, thousands separator, integer digits from which to separate (ru: 12 500)."""

    decimal: str
    group: str
    group_from: int


_COMMA = NumberStyle(",", "\u00a0", 5)  # no-break space: "12 500"
NUMBER_STYLES: Final[Mapping[Lang, NumberStyle]] = MappingProxyType(
    {"en": NumberStyle(".", ",", 4), "ru": _COMMA, "kk": _COMMA}
)


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """One alert notification in one language.

    Attributes:
        summary: One sentence, at most about 200 characters (push, SMS, webhook `summary`).
        description: Two or three sentences: what it means and what to do.
        instruction: Protective advice (CAP `instruction`).
    """

    summary: str
    description: str
    instruction: str


def format_number(
    value: float | Decimal, lang: Lang, digits: int = 1, *, trim: bool = False
) -> str:
    """Write a number the way the language does: "41.2" (en), "41,2" (ru, kk).

    Args:
        value: The number (int, float, Decimal, numpy scalar).
        lang: The language.
        digits: Decimals to show, rounded half up.
        trim: Drop trailing zeros ("35" rather than "35.0"), for thresholds.

    Returns:
        The text; "—" for NaN and infinities, which no alert should show as a number.
    """
    number = _to_decimal(value)
    if number is None:
        raise PlaceholderValueError(f"not a number: {value!r}")
    return _format_decimal(number, lang, digits, trim=trim)


def _to_decimal(value: object, lang: Lang = "en") -> Decimal | None:
    """A number from a number or from a numeric string written in `lang` ("41,2" in ru)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, Integral | Real) and not isinstance(value, bool):
        # repr: the shortest text that round-trips a float; ints stay exact
        return Decimal(int(value) if isinstance(value, Integral) else repr(float(value)))
    if not isinstance(value, str):
        return None
    style = NUMBER_STYLES[lang]
    text = re.sub(r"\s", "", value).replace(style.group, "").replace(style.decimal, ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _format_decimal(number: Decimal, lang: Lang, digits: int, *, trim: bool) -> str:
    if not number.is_finite():
        return "—"
    style = NUMBER_STYLES[lang]
    with localcontext() as ctx:
        ctx.prec = max(28, number.adjusted() + digits + 2)
        rounded = number.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    if rounded.is_zero():
        rounded = rounded.copy_abs()  # never "-0.0"
    text = f"{rounded:f}"
    sign = "-" if text.startswith("-") else ""
    whole, _, fraction = text.lstrip("-").partition(".")
    if trim:
        fraction = fraction.rstrip("0")
    if len(whole) >= style.group_from:
        head = len(whole) % 3 or 3
        whole = style.group.join(
            [whole[:head]] + [whole[i : i + 3] for i in range(head, len(whole), 3)]
        )
    return sign + whole + (style.decimal + fraction if fraction else "")


@dataclass(frozen=True, slots=True)
class Messages:
    """The three validated catalogues and the renderer.

    Attributes:
        catalogues: One catalogue per language, with identical keys.
        digits: Decimals per rule and number placeholder (`DEFAULT_DIGITS` elsewhere).
    """

    catalogues: Mapping[Lang, Catalogue]
    digits: Mapping[str, Mapping[str, int]] = field(default_factory=lambda: RULE_DIGITS)

    def __post_init__(self) -> None:
        if set(self.catalogues) != set(LANGS):
            raise TemplateError(f"need catalogues for {', '.join(LANGS)}")
        problems = [
            f"{lang}.toml says lang = {c.meta['lang']!r}"
            for lang, c in self.catalogues.items()
            if c.meta["lang"] != lang
        ]
        reference = self.catalogues["en"].key_paths()
        for lang in LANGS[1:]:
            paths = self.catalogues[lang].key_paths()
            if missing := sorted(reference - paths):
                problems.append(f"{lang} lacks {', '.join(missing)}")
            if extra := sorted(paths - reference):
                problems.append(f"{lang} has keys en lacks: {', '.join(extra)}")
        if problems:
            raise TemplateError("template files differ: " + "; ".join(problems))

    @classmethod
    def from_sources(cls, sources: Mapping[Lang, str]) -> Messages:
        """Build from the text of the three TOML files (keyed by language).

        Raises:
            TemplateError: a file is not TOML, does not follow the layout, or the files differ.
        """
        catalogues = {}
        for lang in LANGS:
            try:
                catalogues[lang] = Catalogue.model_validate(tomllib.loads(sources[lang]))
            except (tomllib.TOMLDecodeError, ValidationError) as exc:
                raise TemplateError(f"{lang}.toml: {exc}") from exc
        return cls(catalogues)

    @classmethod
    def load(cls) -> Messages:
        """The bundled templates (`load_messages()`)."""
        return load_messages()

    def exercise_prefix(self, lang: Lang) -> str:
        """The label put before the summary of a drill (CAP status `Exercise`)."""
        return self.catalogue(lang).labels["exercise"] + " "

    def catalogue(self, lang: str) -> Catalogue:
        """The catalogue of a language."""
        if lang not in self.catalogues:
            raise RenderError(f"unknown language {lang!r}; expected one of {', '.join(LANGS)}")
        return self.catalogues[cast("Lang", lang)]

    def rule(self, rule: str, lang: Lang) -> str:
        """Display name of a rule (the alertname itself when unknown)."""
        return self.catalogue(lang).rule_names.get(rule, rule)

    def severity(self, severity: str, lang: Lang) -> str:
        """Display name of info / warning / critical (other values unchanged)."""
        return self.catalogue(lang).severity_names.get(severity.lower(), severity)

    def area(self, area: str, lang: Lang) -> str:
        """District, valley or city in the language (unknown names unchanged)."""
        return self.catalogue(lang).areas.get(area.strip(), area)

    def unit(self, unit: str, lang: Lang) -> str:
        """A unit symbol in the language (unknown units unchanged)."""
        unit = _UNIT_ALIASES.get(unit.strip(), unit.strip())
        return self.catalogue(lang).units.get(unit, unit)

    def category(self, category: str, lang: Lang) -> str:
        """An AQI category (key such as `unhealthy`, or EPA name) in the language."""
        key = re.sub(r"[^a-z0-9]+", "_", category.strip().lower()).strip("_")
        return self.catalogue(lang).aqi_categories.get(key, category)

    def pollutant(self, pollutant: str, lang: Lang) -> str:
        """A pollutant symbol in the language ("PM2,5" in ru and kk)."""
        return self.catalogue(lang).pollutants.get(pollutant.lower(), pollutant)

    def format_duration(self, duration: timedelta, lang: Lang) -> str:
        """Write a span of time: "3 h 20 min", "2 d 4 h", "45 min" (whole minutes, floored).

        Raises:
            PlaceholderValueError: the duration is negative.
        """
        seconds = duration.total_seconds()
        if seconds < 0:
            raise PlaceholderValueError(f"negative duration: {duration}")
        words, minutes = self.catalogue(lang).durations, int(seconds // 60)
        parts = [(minutes // 1440, "d"), (minutes // 60 % 24, "h"), (minutes % 60, "min")]
        while parts and not parts[0][0]:
            parts.pop(0)
        # The two largest units are precise enough: "2 d 4 h", "3 h 20 min", "45 min".
        shown = [f"{count} {words[unit]}" for count, unit in parts[:2] if count]
        return " ".join(shown) or words["under_minute"]

    def join(self, items: Sequence[str], lang: Lang) -> str:
        """Join names as "A, B and C" in the language."""
        if len(items) <= 1:
            return "".join(items)
        return f"{', '.join(items[:-1])} {self.catalogue(lang).lists['and']} {items[-1]}"

    def render(self, lang: Lang, rule: str, event: str, params: Params) -> RenderedMessage:
        """Render one notification of `event` (firing, escalated, repeat, resolved) of `rule`.

        Raises:
            MissingPlaceholderError: a needed parameter is absent and no variant fits.
            PlaceholderValueError: a parameter cannot be shown.
            RenderError: unknown language or event.
        """
        catalogue = self.catalogue(lang)
        if event not in EVENTS:
            raise RenderError(f"unknown event {event!r}; expected one of {', '.join(EVENTS)}")
        templates = catalogue.rules.get(rule)
        if templates is None:
            logger.warning("no templates for rule %r: using the generic ones", rule)
            templates = catalogue.generic
        values = self._values(lang, rule, params)
        texts = templates.texts(event)
        if "instruction" not in texts:
            texts = {**texts, "instruction": templates.instruction}
        rendered = [self._fill(texts, name, values, (lang, rule, event)) for name in FIELDS]
        return RenderedMessage(*rendered)

    def render_all(self, rule: str, event: str, params: Params) -> Mapping[Lang, RenderedMessage]:
        """Render one notification in the three languages."""
        return MappingProxyType({lang: self.render(lang, rule, event, params) for lang in LANGS})

    def _fill(
        self,
        texts: Mapping[str, str],
        name: str,
        values: Mapping[str, str],
        where: tuple[str, str, str],
    ) -> str:
        missing = [p for p in template_fields(texts[name]) if p not in values]
        candidates = [name] + [f"{name}_no_{p}" for p in sorted(set(missing))]
        for key in candidates:
            template = texts.get(key)
            if template is not None and all(p in values for p in template_fields(template)):
                return _tidy(template.format_map(values))
        raise MissingPlaceholderError(*where, name, sorted(set(missing)))

    def _values(self, lang: Lang, rule: str, params: Params) -> dict[str, str]:
        p = {key: value for key, value in params.items() if value is not None and value != ""}
        out = {"rule": self.rule(rule, lang), **self._where(lang, p)}
        if "severity" in p:
            out["severity"] = self.severity(str(p["severity"]), lang)
        unit = p.get("unit", DEFAULT_UNITS.get(rule, ""))
        out["unit"] = self.unit(str(unit), lang) if unit else ""
        # counts (city-wide rules count stations) have no decimals, whatever the rule
        counted = str(unit) == "stations"
        out |= {
            name: self._number(rule, name, p[name], lang, whole=counted)
            for name in NUMERIC
            if name in p
        }
        if (lead := _to_decimal(p.get("lead_s"), lang)) is not None and lead < 1:
            del out["lead_s"]  # strong shaking is already there: no countdown
        if "category" in p:
            out["category"] = self.category(str(p["category"]), lang)
        elif (
            rule == "aqi"
            and (index := _to_decimal(p.get("value"), lang)) is not None
            and index >= 0
        ):
            out["category"] = self.category(category_for(int(index)).value, lang)
        out["direction"] = self.catalogue(lang).directions[_direction_key(p.get("direction"))]
        if valleys := _names(p.get("downstream", ())):
            out["downstream"] = self.join([self.area(v, lang) for v in valleys], lang)
        if "duration" in p:
            out["duration"] = self._duration(p["duration"], lang)
        return out

    def _where(self, lang: Lang, p: Mapping[str, object]) -> dict[str, str]:
        """station, station_id, area and the derived place."""
        out: dict[str, str] = {}
        if "station_id" in p:
            out["station_id"] = str(p["station_id"])
        if "area" in p:
            out["area"] = self.area(str(p["area"]), lang)
        if "station" in p:
            out["station"] = self._station(p["station"], p.get("area"), lang)
        elif fallback := out.get("station_id", out.get("area")):
            out["station"] = fallback
        if "place" in p:
            out["place"] = str(p["place"])
        elif "station" in out:
            area = out.get("area", out["station"])
            out["place"] = out["station"] if area == out["station"] else f"{out['station']}, {area}"
        return out

    def _station(self, station: object, area: object, lang: Lang) -> str:
        if isinstance(station, Mapping):
            name = station.get(lang) or station.get("en")
            if not isinstance(name, str):
                raise PlaceholderValueError(f"station names lack {lang!r}: {station!r}")
            return name
        name = str(station)
        areas = self.catalogue(lang).areas
        if name in areas and (area is None or str(area) == name):
            return areas[name]
        return name

    def _number(
        self, rule: str, name: str, value: object, lang: Lang, *, whole: bool = False
    ) -> str:
        if isinstance(value, timedelta) or name in SECONDS_AS_DURATION.get(rule, ()):
            return self._duration(value, lang)
        number = _to_decimal(value, lang)
        if number is None:
            if isinstance(value, str):
                return value  # already formatted by the caller ("VI", "n/a")
            raise PlaceholderValueError(f"{name}: not a number: {value!r}")
        digits = self.digits.get(rule, {}).get(name, DEFAULT_DIGITS[name])
        if whole and name in ("value", "threshold"):
            digits = 0
        return _format_decimal(number, lang, digits, trim=name == "threshold")

    def _duration(self, value: object, lang: Lang) -> str:
        if isinstance(value, timedelta):
            return self.format_duration(value, lang)
        seconds = _to_decimal(value, lang)
        if isinstance(value, str) and seconds is None:
            return value
        if seconds is None:
            raise PlaceholderValueError(f"not a duration: {value!r}")
        return self.format_duration(timedelta(seconds=float(seconds)), lang)


def _direction_key(value: object) -> str:
    if isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(float(value)):
        return DIRECTIONS[round((float(value) % 360.0) / 45.0) % 8]
    if isinstance(value, str) and value.strip().upper() in DIRECTIONS:
        return value.strip().upper()
    return "unknown"


def _names(value: object) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, Sequence):
        return [str(part).strip() for part in value if str(part).strip()]
    raise PlaceholderValueError(f"downstream: expected a name or a list, got {value!r}")


def _tidy(text: str) -> str:
    # An empty unit leaves "41.2 ." or "35 )"; close such gaps and collapse double spaces.
    # Names may start in lower case ("озеро №6", "ул. Толе би"): a message never does.
    text = re.sub(r" +([,.;:!?)])", r"\1", re.sub(r" {2,}", " ", text)).strip()
    return text[:1].upper() + text[1:]


@cache
def load_messages() -> Messages:
    """The bundled templates, read and validated once.

    Raises:
        TemplateError: a file is malformed or the three files differ.
    """
    folder = resources.files("alerts") / "templates"
    return Messages.from_sources(
        {lang: (folder / f"{lang}.toml").read_text(encoding="utf-8") for lang in LANGS}
    )


def format_duration(duration: timedelta, lang: Lang) -> str:
    """`Messages.format_duration` with the bundled templates' words."""
    return load_messages().format_duration(duration, lang)
