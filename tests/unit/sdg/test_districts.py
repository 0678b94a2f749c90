"""The districts file: the bundled Almaty districts and one-line validation errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from collector.config import ConfigError
from collector.districts import District, load_districts
from collector.models import Feed
from collector.stations import load_stations

META = '[meta]\nsource = "test"\nas_of = 2024-01-01\n'
ALATAU = (
    '[[district]]\nname = "Alatau"\nname_ru = "Алатауский район"\nname_kk = "Алатау ауданы"\n'
    "population = 385000\narea_km2 = 124.8\n"
)


def test_bundled_districts_cover_the_air_network() -> None:
    # every air station's district has a population, and the file says where it comes from
    districts = load_districts()
    assert len(districts) == 8
    air = {s.district for s in load_stations(None).of_kind(Feed.AIR)}
    assert {d.name for d in districts} == air
    assert sum(d.population for d in districts) == 2_229_000
    assert districts.as_of == date(2024, 1, 1)
    assert "stat.gov.kz" in districts.source
    assert districts.get("Alatau") == District(
        "Alatau", "Алатауский район", "Алатау ауданы", 385_000, 124.8
    )
    assert districts.get("Atlantis") is None


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        # the source of the population figures is required
        (ALATAU, ["meta: Field required"]),
        # a blank name is a missing name
        (
            META + ALATAU.replace('"Алатау ауданы"', '"  "'),
            ["district Alatau: name_kk: String should"],
        ),
        # as_of is a TOML date, not a string or a date-time
        (META.replace("2024-01-01", "2024-01-01T00:00:00"), ["meta.as_of: a date"]),
        (
            '[meta]\nsource = "x"\nas_of = "2024"\n' + ALATAU,
            ["meta.as_of: Input should be a valid date"],
        ),
        # a typo in meta is an error, not ignored
        (META + 'sorce = "x"\n' + ALATAU, ["meta.sorce: Extra inputs are not permitted"]),
        # at least one district
        (META, ["district: Field required"]),
        ("district = []\n" + META, ["district: List should have at least 1 item"]),
        # a typo in a district key is an error
        (
            META + ALATAU + "populaton = 1\n",
            ["district Alatau: populaton: Unexpected keyword argument"],
        ),
        # populations are positive integers (not floats, not booleans)
        (
            META + ALATAU.replace("385000", "-5"),
            ["district Alatau: population: Input should be greater"],
        ),
        (
            META + ALATAU.replace("385000", "3.5e5"),
            ["district Alatau: population: Input should be a valid"],
        ),
        (
            META + ALATAU.replace("385000", "true"),
            ["district Alatau: population: Input should be a valid"],
        ),
        # area is a positive finite number
        (
            META + ALATAU.replace("124.8", "nan"),
            ["district Alatau: area_km2: Input should be a finite number"],
        ),
        # names in three languages are required; an unnamed district is labelled by position
        (META + ALATAU.replace('name_kk = "Алатау ауданы"\n', ""), ["district Alatau: name_kk"]),
        (META + ALATAU.replace('name = "Alatau"\n', ""), ["district #1: name: Field required"]),
        # names are unique
        (META + ALATAU + ALATAU, ["district Alatau: duplicate name"]),
        # every problem at once, still on one line
        (
            ALATAU.replace("385000", "0") + "x = 1\n",
            ["meta: Field required", "population", "x: Unexpected keyword"],
        ),
        # not TOML at all
        ("[[district]\n", ["is not valid TOML"]),
    ],
)
def test_invalid_files_fail_with_one_line(tmp_path: Path, body: str, fragments: list[str]) -> None:
    path = tmp_path / "districts.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_districts(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    # an unreadable file names the path and the reason
    with pytest.raises(ConfigError, match=r"cannot read districts file .*nope\.toml"):
        load_districts(tmp_path / "nope.toml")


def test_minimal_valid_file(tmp_path: Path) -> None:
    # meta plus one district is a complete file; integers are accepted as areas
    path = tmp_path / "districts.toml"
    path.write_text(META + ALATAU.replace("124.8", "125"), encoding="utf-8")
    districts = load_districts(path)
    assert (districts.source, districts.as_of) == ("test", date(2024, 1, 1))
    assert list(districts) == [
        District("Alatau", "Алатауский район", "Алатау ауданы", 385_000, 125.0)
    ]
