"""When a station's PGA second is judged for `station_pga`: the quiet period of spec §6."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from collector.seismicstage import LIVE_LAG, PGA_QUIET, pga_due
from tests.unit.seismic._support import at


@pytest.mark.parametrize(
    ("second", "received", "due"),
    [
        # live data (the packet ends a second later): 10 s of data time after the second
        (at(0), at(1.2), at(0) + PGA_QUIET),
        # exactly at the live bound: still judged by data time
        (at(0), at(0) + LIVE_LAG, at(0) + PGA_QUIET),
        # late data (a backlog, a replay an hour old): 10 s after receipt, less the live lag,
        # so the other stations' late packets of the same seconds can still explain it
        (at(0), at(3600), at(3600) - LIVE_LAG + PGA_QUIET),
        # a clock ahead of the receiver (data "from the future") is judged by data time
        (at(5), at(0), at(5) + PGA_QUIET),
    ],
)
def test_pga_due(second: datetime, received: datetime, due: datetime) -> None:
    assert pga_due(second, received) == due


def test_late_data_never_judged_before_live_data_of_the_same_seconds() -> None:
    # The rule the heap relies on: due time grows with receipt for the same second.
    seconds = [at(s) for s in range(5)]
    dues = [pga_due(s, at(600) + timedelta(seconds=k)) for k, s in enumerate(seconds)]
    assert dues == sorted(dues)
