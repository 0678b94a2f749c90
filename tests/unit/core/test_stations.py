from __future__ import annotations

from pathlib import Path

import pytest

from collector.config import ConfigError
from collector.models import Feed
from collector.stations import load_stations

DATA = Path(__file__).resolve().parents[2] / "data"


def test_bundled_network_matches_the_contract() -> None:
    # spec §4: 52 air, 28 seismic, 31 lake stations, 14 outburst-hazardous lakes
    stations = load_stations(None)
    assert len(stations.of_kind(Feed.AIR)) == 52
    assert len(stations.of_kind(Feed.SEISMIC)) == 28
    assert len(stations.of_kind(Feed.LAKE)) == 31
    assert sum(1 for s in stations.of_kind(Feed.LAKE) if s.outburst_hazard) == 14
    districts = {s.district for s in stations.of_kind(Feed.AIR)}
    assert districts == {
        "Alatau",
        "Almaly",
        "Auezov",
        "Bostandyk",
        "Zhetysu",
        "Medeu",
        "Nauryzbay",
        "Turksib",
    }
    for s in stations:
        assert s.name and s.name_ru and s.name_kk, s.id
        assert s.lat is not None and s.lon is not None


def test_area_label() -> None:
    # spec §6: area = district (air), valley (lake), Almaty (seismic)
    stations = load_stations(DATA / "stations_test.toml")
    assert stations.get("AIR-01").area == "Almaly"  # type: ignore[union-attr]
    assert stations.get("LAKE-01").area == "Malaya Almatinka"  # type: ignore[union-attr]
    assert stations.get("SEIS-01").area == "Almaty"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        # ids follow the topic rule
        ('[[station]]\nid = "bad id"\nkind = "air"\n', "station bad id: id"),
        # kind is one of three
        ('[[station]]\nid = "X"\nkind = "water"\n', "station X: kind"),
        # two stations cannot share an id
        (
            '[[station]]\nid = "X"\nkind = "air"\n[[station]]\nid = "X"\nkind = "air"\n',
            "duplicate id",
        ),
        # warning below critical
        (
            '[[station]]\nid = "L"\nkind = "lake"\nwarning_level_m = 5\ncritical_level_m = 4\n',
            "warning_level_m",
        ),
        # downstream_of names a lake station
        ('[[station]]\nid = "G"\nkind = "lake"\ndownstream_of = "NOPE"\n', "downstream_of"),
        # no stations at all
        ("", "no [[station]]"),
    ],
)
def test_invalid_stations_file(tmp_path: Path, body: str, fragment: str) -> None:
    f = tmp_path / "s.toml"
    f.write_text(body)
    with pytest.raises(ConfigError) as info:
        load_stations(f)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)
