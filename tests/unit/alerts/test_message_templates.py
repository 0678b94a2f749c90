"""The template files alerts/templates/{en,ru,kk}.toml: same keys, sound text, load checks."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from importlib import resources
from typing import Any

import pytest

from alerts.catalogue import LANGS, Catalogue, Lang, TemplateError, template_fields
from alerts.messages import Messages, load_messages
from collector.stations import load_stations

MESSAGES = load_messages()

# Sentence ends: a stop followed by a capital (or a placeholder, rendered as X) or the end.
_SENTENCE_END = re.compile(r"[.!?](?=\s+[«\"A-ZА-ЯЁӘҒҚҢӨҰҮҺІX]|\s*$)")


def _sentences(template: str) -> int:
    return len(_SENTENCE_END.findall(re.sub(r"\{[a-z_]+\}", "X", template)))


def _raw(lang: str) -> dict[str, Any]:
    path = resources.files("alerts") / "templates" / f"{lang}.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _flatten(table: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in table.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


RAW = {lang: dict(_flatten(_raw(lang))) for lang in LANGS}
TEMPLATE_KEYS = sorted(k for k in RAW["en"] if k.startswith(("rules.", "generic.")))


@pytest.mark.parametrize("key", [k for k in TEMPLATE_KEYS if ".description" in k])
@pytest.mark.parametrize("lang", LANGS)
def test_descriptions_have_two_or_three_sentences(key: str, lang: Lang) -> None:
    # description: what it means for people and what to do, in 2-3 sentences
    assert 2 <= _sentences(RAW[lang][key]) <= 3, RAW[lang][key]


@pytest.mark.parametrize("key", [k for k in TEMPLATE_KEYS if k.endswith("instruction")])
@pytest.mark.parametrize("lang", LANGS)
def test_instructions_have_one_to_three_sentences(key: str, lang: Lang) -> None:
    # CAP instruction: short protective advice
    assert 1 <= _sentences(RAW[lang][key]) <= 3, RAW[lang][key]


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_translations_have_exactly_the_keys_of_english(lang: Lang) -> None:
    # a translator who forgets (or invents) a key fails here, before start-up would
    assert set(RAW[lang]) == set(RAW["en"])


@pytest.mark.parametrize("key", TEMPLATE_KEYS)
def test_translations_use_the_same_placeholders(key: str) -> None:
    # a translation may reorder placeholders but must not drop or add any
    expected = set(template_fields(RAW["en"][key]))
    for lang in ("ru", "kk"):
        assert set(template_fields(RAW[lang][key])) == expected, (lang, key)


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_no_ending_is_glued_to_a_placeholder(lang: Lang) -> None:
    # "{value}-ге" or "{station}а" would be wrong for some values: endings go on a noun
    glued = [k for k, t in RAW[lang].items() if re.search(r"\}-?[^\W\d_]", str(t))]
    assert glued == []


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_no_word_mixes_latin_and_cyrillic_letters(lang: Lang) -> None:
    # a Latin "a" or "o" typed inside a Cyrillic word breaks search and screen readers
    mixed = {
        word
        for text in RAW[lang].values()
        for word in re.findall(r"[^\W\d_]+", str(text))
        if re.search(r"[A-Za-z]", word) and re.search(r"[А-Яа-яЁёӘәҒғҚқҢңӨөҰұҮүҺһІі]", word)
    }
    assert mixed == set()


@pytest.mark.parametrize("key", [k for k in TEMPLATE_KEYS if ".description" in k])
def test_kazakh_descriptions_are_kazakh(key: str) -> None:
    # a Russian text pasted into kk.toml has none of the Kazakh letters
    assert re.search(r"[әғқңөұүһі]", RAW["kk"][key]), RAW["kk"][key]


@pytest.mark.parametrize(
    ("lang", "path", "fragment"),
    [
        # a district the translator forgot
        ("kk", ("areas", "Esentai"), "kk lacks areas.Esentai"),
        # the no-lead earthquake variant
        ("ru", ("rules", "earthquake", "firing", "summary_no_lead_s"), "ru lacks rules.earthquake"),
        # an event-level instruction override
        ("kk", ("rules", "aqi", "resolved", "instruction"), "kk lacks rules.aqi.resolved.instr"),
        # a unit
        ("ru", ("units", "m/h"), "ru lacks units.m/h"),
    ],
)
def test_start_up_refuses_files_with_different_keys(
    lang: Lang, path: tuple[str, ...], fragment: str
) -> None:
    tables = {code: _raw(code) for code in LANGS}
    table = tables[lang]
    for name in path[:-1]:
        table = table[name]
    del table[path[-1]]
    catalogues = {code: Catalogue.model_validate(tables[code]) for code in LANGS}
    with pytest.raises(TemplateError, match=re.escape(fragment)):
        Messages(catalogues)


def test_extra_keys_in_a_translation_are_refused_too() -> None:
    # a key only one translation has is as suspicious as a missing one (e.g. a typo)
    tables = {code: _raw(code) for code in LANGS}
    tables["ru"]["areas"]["Almalу"] = "Алмалинский район"
    catalogues = {code: Catalogue.model_validate(tables[code]) for code in LANGS}
    with pytest.raises(TemplateError, match=re.escape("ru has keys en lacks: areas.Almalу")):
        Messages(catalogues)


def _en_text() -> str:
    return (resources.files("alerts") / "templates" / "en.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        # a typo in a placeholder name is caught at load, not when an alert fires
        ("mean is {value}", "mean is {valeu}", "unknown placeholder {valeu}"),
        # number formatting belongs to the renderer (decimal comma), not to templates
        ("mean is {value}", "mean is {value:.1f}", "must not carry a format spec"),
        # positional fields cannot be filled from named parameters
        ("mean is {value}", "mean is {0}", "unknown placeholder {0}"),
        # an unclosed brace
        ("mean is {value}", "mean is {value", "unbalanced braces"),
        # the file must say which language it is
        ('lang = "en"', 'lang = "ru"', "en.toml says lang = 'ru'"),
        # a variant for a placeholder that does not exist
        ("summary_no_lead_s =", "summary_no_speed =", "unexpected key summary_no_speed"),
    ],
)
def test_start_up_refuses_broken_templates(old: str, new: str, fragment: str) -> None:
    sources: dict[Lang, str] = {lang: _en_text() for lang in LANGS}
    sources["en"] = sources["en"].replace(old, new, 1)
    for lang in ("ru", "kk"):  # reuse en as ru/kk so only the broken file differs
        sources[lang] = sources[lang].replace('lang = "en"', f'lang = "{lang}"', 1)
    with pytest.raises(TemplateError, match=re.escape(fragment)):
        Messages.from_sources(sources)


REQUIRED_AREAS = [
    # the 8 districts of Almaty
    *("Alatau", "Almaly", "Auezov", "Bostandyk", "Zhetysu", "Medeu", "Nauryzbay", "Turksib"),
    # the valleys of the mudflow network
    *("Bolshaya Almatinka", "Malaya Almatinka", "Aksai", "Kargaly", "Kaskelen", "Talgar"),
    *("Issyk", "Kotyrbulak", "Esentai"),
    # the seismic area label
    "Almaty",
]


def _bundled_area_names() -> set[str]:
    stations = load_stations(None)
    return {s.district for s in stations} | {s.downstream for s in stations if s.downstream}


@pytest.mark.parametrize("area", sorted(set(REQUIRED_AREAS) | _bundled_area_names()))
def test_every_area_is_translated(area: str) -> None:
    # every district and valley the bundled network can put in an alert has a name in
    # each language, and the ru/kk names are written in Cyrillic
    assert all(area in MESSAGES.catalogue(lang).areas for lang in LANGS)
    names = {lang: MESSAGES.area(area, lang) for lang in LANGS}
    for lang in ("ru", "kk"):
        assert re.search(r"[А-Яа-яЁёӘәҒғҚқҢңӨөҰұҮүҺһІі]", names[lang]), (lang, area)
