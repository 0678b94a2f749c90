"""`kuzet demo`: the embedded default, run as a user would, nothing else needed."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys

import pytest

from collector.simulate.seismic import QuakeSource

pytestmark = pytest.mark.integration

EPICENTRE = re.compile(r"earthquake .* epicentre (?P<lat>[\d.]+)N (?P<lon>[\d.]+)E")


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def test_demo_shows_air_seismic_and_lake_alerts() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUZET_")}
    env["KUZET_HTTP_LISTEN"] = "127.0.0.1:0"
    result = subprocess.run(
        [sys.executable, "-m", "collector.cli", "demo", "--duration", "60", "--scenario", "all"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "HTTP API on http://127.0.0.1:" in out
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("alerts fired:")
    for kind in ("air", "lake", "seismic"):
        assert re.search(rf"\b{kind} [1-9]", summary), (kind, summary)
    # the simulator's quake is located within 10 km of its true epicentre
    match = EPICENTRE.search(out)
    assert match, out[-3000:]
    truth = QuakeSource()
    distance = _km(float(match["lat"]), float(match["lon"]), truth.lat, truth.lon)
    assert distance < 10.0, distance
