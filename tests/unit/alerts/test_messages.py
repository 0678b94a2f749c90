"""Alert message templates (en, ru, kk) and their renderer: coverage, formatting, fallbacks."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any

import pytest

from alerts.catalogue import (
    CITY_RULES,
    EVENTS,
    LANGS,
    RULES,
    Lang,
    MissingPlaceholderError,
    PlaceholderValueError,
    RenderError,
)
from alerts.messages import Messages, load_messages
from collector.models import Feed
from collector.stations import load_stations
from tests.unit.alerts._typical import DURATION, MESSAGES, TYPICAL, names


def test_every_rule_in_the_spec_has_templates() -> None:
    # spec §6 rule table and the default city-wide rules: none may fall back to [generic]
    assert set(MESSAGES.catalogue("en").rules) == {*RULES, *CITY_RULES}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("rule", [*RULES, *CITY_RULES])
def test_every_rule_event_and_language_renders(rule: str, event: str, lang: Lang) -> None:
    # each rule × event × language renders from typical values: nothing left unfilled,
    # summary fits a push/SMS display, description 2-3 sentences, instruction present
    message = MESSAGES.render(lang, rule, event, {**TYPICAL[rule], "duration": DURATION})
    for text in (message.summary, message.description, message.instruction):
        assert text
        assert "{" not in text
        assert "}" not in text
        assert "  " not in text
    assert len(message.summary) <= 200, message.summary
    assert message.summary[-1] in ".!", message.summary


def test_generic_fallback_for_an_unknown_rule() -> None:
    # a rule added to the engine before its templates still produces readable text
    params = {
        "station": "Kok-Tobe",
        "area": "Medeu",
        "value": 0.35,
        "threshold": 0.3,
        "unit": "ppm",
    }
    rendered = MESSAGES.render_all("so2_1h", "firing", {**params, "severity": "warning"})
    assert (
        rendered["en"].summary
        == "Kok-Tobe, Medeu district: so2_1h, value 0.4 ppm (threshold 0.3 ppm)."
    )
    assert rendered["ru"].summary.startswith("Kok-Tobe, Медеуский район: «so2_1h» — 0,4 ppm")
    assert "«so2_1h»" in rendered["kk"].summary


@pytest.mark.parametrize(
    ("event", "params", "expected_en"),
    [
        # no value at all: the severity-only variant
        ("firing", {"severity": "critical"}, "X: new_rule, alert level critical."),
        # a value without a threshold
        ("firing", {"severity": "info", "value": 3}, "X: new_rule, value 3.0."),
        # a reminder without the firing duration
        ("repeat", {"severity": "info"}, "X: new_rule, the alert is still active."),
        # a resolution with it
        ("resolved", {"duration": 600}, "X: new_rule, the alert is over after 10 min."),
    ],
)
def test_generic_fallback_variants(event: str, params: dict[str, Any], expected_en: str) -> None:
    assert (
        MESSAGES.render("en", "new_rule", event, {"station": "X", **params}).summary == expected_en
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # no lead time: the countdown is left out, the advice stays
        ({"lead_s": None}, ("expected in the city", "в городе ожидаются", "Қалада күтілетін")),
        # lead time under a second: shaking has arrived, no "in about 0 s"
        ({"lead_s": 0.4}, ("expected in the city", "в городе ожидаются", "Қалада күтілетін")),
        # with a lead time the countdown is there
        ({"lead_s": 18.4}, ("in about 18 s", "примерно через 18 с", "шамамен 18 секунд")),
        # azimuth in degrees instead of a compass point
        ({"direction": 350}, ("86 km north of Almaty", "к северу от Алматы", "солтүстікке қарай")),
        # unknown direction: a neutral wording
        ({"direction": None}, ("86 km from Almaty", "в 86 км от Алматы", "қаласынан шамамен 86")),
    ],
)
def test_earthquake_variants(params: dict[str, Any], expected: tuple[str, str, str]) -> None:
    rendered = MESSAGES.render_all("earthquake", "firing", {**TYPICAL["earthquake"], **params})
    for lang, fragment in zip(LANGS, expected, strict=True):
        assert fragment in rendered[lang].summary, rendered[lang].summary


def test_worst_case_earthquake_summary_fits() -> None:
    # the longest direction word, a four-digit distance and a three-digit lead
    worst = {"magnitude": 7.9, "distance_km": 1118, "direction": "NW", "lead_s": 120}
    for lang, message in MESSAGES.render_all(
        "earthquake", "firing", {**TYPICAL["earthquake"], **worst}
    ).items():
        assert len(message.summary) <= 200, (lang, message.summary)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # city-wide alert: "Almaty" is translated and not repeated as its own area
        ({"station": "Almaty", "area": "Almaty"}, ("Almaty:", "Алматы:", "Алматы:")),
        # a plain English station name keeps its spelling
        (
            {"station": "Sayakhat", "area": "Zhetysu"},
            ("Sayakhat, Zhetysu", "Sayakhat, Жетысуский", "Sayakhat, Жетісу"),
        ),
        # without a station name the id stands in
        (
            {"station": None, "station_id": "AIR-99", "area": "Alatau"},
            ("AIR-99, Alatau", "AIR-99, Алатауский", "AIR-99, Алатау"),
        ),
    ],
)
def test_station_and_place(params: dict[str, Any], expected: tuple[str, str, str]) -> None:
    rendered = MESSAGES.render_all("pm25_24h", "firing", {**TYPICAL["pm25_24h"], **params})
    for lang, fragment in zip(LANGS, expected, strict=True):
        assert rendered[lang].summary.startswith(fragment), rendered[lang].summary


def test_a_message_starts_with_a_capital_letter() -> None:
    # Russian station names are lower case ("озеро №13-бис"); the message starts upper case
    message = MESSAGES.render("ru", "lake_level", "firing", TYPICAL["lake_level"])
    assert message.summary.startswith("Озеро №13-бис (Большая Алматинка), долина реки")


def test_station_named_like_an_area_is_kept_when_the_area_differs() -> None:
    # seismic station "Talgar" (area Almaty) must not become "Talgar valley"
    params = {**TYPICAL["station_pga"], "station": "Talgar", "station_id": "SEIS-14"}
    assert MESSAGES.render("en", "station_pga", "firing", params).summary.startswith(
        "Seismic station Talgar (SEIS-14)"
    )


@pytest.mark.parametrize(
    ("downstream", "expected"),
    [
        # one valley
        (
            "Aksai",
            (
                "At risk: Aksai valley.",
                "Под угрозой: долина реки Аксай.",
                "аймақ: Ақсай өзенінің аңғары.",
            ),
        ),
        # two valleys joined with the language's "and"
        (
            ["Aksai", "Kargaly"],
            (
                "Aksai valley and Kargaly valley.",
                "долина реки Аксай и долина реки Каргалы.",
                "Ақсай өзенінің аңғары және Қарғалы өзенінің аңғары.",
            ),
        ),
    ],
)
def test_downstream_valleys(downstream: object, expected: tuple[str, str, str]) -> None:
    params = {**TYPICAL["lake_outburst"], "downstream": downstream}
    rendered = MESSAGES.render_all("lake_outburst", "firing", params)
    for lang, fragment in zip(LANGS, expected, strict=True):
        assert rendered[lang].summary.endswith(fragment), rendered[lang].summary


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        # the machine key from the alert labels
        (
            "very_unhealthy",
            ("Very Unhealthy", "очень вредно для здоровья", "денсаулыққа өте зиянды"),
        ),
        # the EPA display name
        (
            "Unhealthy for Sensitive Groups",
            ("Sensitive Groups", "чувствительных групп", "сезімтал топтар"),
        ),
        # absent: derived from the AQI value (187 is Unhealthy)
        (None, ('"Unhealthy"', "«вредно для здоровья»", "«денсаулыққа зиянды»")),
    ],
)
def test_aqi_category(category: str | None, expected: tuple[str, str, str]) -> None:
    rendered = MESSAGES.render_all("aqi", "firing", {**TYPICAL["aqi"], "category": category})
    for lang, fragment in zip(LANGS, expected, strict=True):
        assert fragment in rendered[lang].summary, rendered[lang].summary


def test_micro_sign_spellings_are_one_unit() -> None:
    # "ug/m3" and Greek mu are the same unit as the micro sign in [units]
    for unit in ("ug/m3", "μg/m³", "µg/m³"):
        assert MESSAGES.unit(unit, "ru") == "мкг/м³"


@pytest.mark.parametrize(
    ("params", "missing"),
    [
        # the value of a measurement rule
        ({"value": None}, ("value",)),
        # the firing duration of a reminder
        ({"duration": None}, ("duration",)),
    ],
)
def test_missing_placeholder_is_a_typed_error(
    params: dict[str, Any], missing: tuple[str, ...]
) -> None:
    with pytest.raises(MissingPlaceholderError) as caught:
        MESSAGES.render(
            "kk", "pm25_24h", "repeat", {**TYPICAL["pm25_24h"], "duration": DURATION, **params}
        )
    assert caught.value.missing == missing
    assert not isinstance(caught.value, KeyError)
    assert "kk/pm25_24h/repeat.summary" in str(caught.value)


@pytest.mark.parametrize(
    ("lang", "event", "params", "error"),
    [
        # languages other than the three are refused
        ("de", "firing", {}, RenderError),
        # events other than the four are refused
        ("en", "fired", {}, RenderError),
        # a list is not a number
        ("en", "firing", {"value": [1, 2]}, PlaceholderValueError),
        # a station mapping without the language nor English
        ("kk", "firing", {"station": {"fr": "Aéroport"}}, PlaceholderValueError),
    ],
)
def test_bad_arguments(
    lang: str, event: str, params: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        MESSAGES.render(lang, "pm25_24h", event, {**TYPICAL["pm25_24h"], **params})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("lang", "params", "fragment"),
    [
        # numbers already formatted by the caller in Russian are re-read, then shown with
        # the rule's decimals, as a raw number would be
        ("ru", {"lead_s": "18,4", "magnitude": "5,84"}, "магнитудой 5,8 в 86 км"),
        ("ru", {"lead_s": "18,4"}, "примерно через 18 с."),
        # and in English
        ("en", {"lead_s": "18.4", "distance_km": "1,118.2"}, "M5.8, 1,118 km south-east"),
        # values already translated by the caller pass unchanged
        ("kk", {"station": "Алматы", "area": "Алматы"}, "Алматы қаласынан"),
    ],
)
def test_preformatted_values(lang: Lang, params: dict[str, Any], fragment: str) -> None:
    params = {**TYPICAL["earthquake"], **params}
    assert fragment in MESSAGES.render(lang, "earthquake", "firing", params).summary


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        # a stale station whose silence was not measured: the variant without the length
        ("firing", "No data from station Aynabulak (AIR-14)."),
        # reminders still work without it
        (
            "repeat",
            (
                "Still no data from station Aynabulak (AIR-14); the alert has been active for"
                " 3 h 20 min."
            ),
        ),
    ],
)
def test_empty_string_counts_as_absent(event: str, expected: str) -> None:
    # callers that write "" for a missing number get the variant, not "for  ."
    params = {**TYPICAL["station_stale"], "value": "", "duration": DURATION}
    assert MESSAGES.render("en", "station_stale", event, params).summary == expected


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        # drills (CAP status Exercise) are marked in every language
        ("en", "EXERCISE: "),
        ("ru", "УЧЕНИЯ: "),
        ("kk", "ОҚУ-ЖАТТЫҒУ: "),
    ],
)
def test_exercise_prefix(lang: Lang, expected: str) -> None:
    assert MESSAGES.exercise_prefix(lang) == expected


def test_templates_are_loaded_once_and_frozen() -> None:
    # one validated copy per process; nothing can change a template at run time
    assert load_messages() is MESSAGES
    assert Messages.load() is MESSAGES
    with pytest.raises(FrozenInstanceError):
        MESSAGES.digits = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        MESSAGES.catalogue("kk").areas["Almaly"] = "?"  # type: ignore[index]


AIR_RULES = ("pm25_24h", "pm25_1h", "no2_1h", "no2_24h", "aqi")


@pytest.mark.parametrize("kind", [Feed.AIR, Feed.LAKE, Feed.SEISMIC])
def test_summaries_fit_for_every_bundled_station(kind: Feed) -> None:
    # 200 characters with every real station name, not just the typical one
    rules = {Feed.AIR: AIR_RULES, Feed.LAKE: ("lake_level", "lake_rise", "lake_outburst")}
    too_long = []
    for station in load_stations(None).of_kind(kind):
        localized = names(station.name, station.name_ru, station.name_kk)
        for rule in (*rules.get(kind, ("station_pga",)), "station_stale"):
            params = {**TYPICAL[rule], "station": localized, "station_id": station.id}
            params |= {"area": station.area, "downstream": station.downstream or None}
            for event in EVENTS:
                for lang, message in MESSAGES.render_all(
                    rule, event, {**params, "duration": DURATION}
                ).items():
                    if len(message.summary) > 200:
                        too_long.append((station.id, rule, event, lang, len(message.summary)))
    assert too_long == []
