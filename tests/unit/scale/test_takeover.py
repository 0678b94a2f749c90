"""Takeover of a dead shard's index: the pure decision, lease keys, and moved stations' flags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.config import load_alert_settings
from alerts.model import Observation
from collector.adopt import own_lease
from collector.airstage import AirStage
from collector.config import ConfigError, load_settings
from collector.leader import leader_lock_key
from collector.models import AirReading
from collector.stations import Station, Stations
from collector.takeover import Decision, LeaseState, decide, lease_key

FREE = LeaseState(held=False, waiting=False)
HELD = LeaseState(held=True, waiting=False)
# the owner came back and waits in pg_advisory_lock while the adopter holds the lease
RETURNING = LeaseState(held=True, waiting=True)
# a waiter on a free lock gets it at once: seen only for an instant
WAITING_FREE = LeaseState(held=False, waiting=True)
GRACE = 30.0


@pytest.mark.parametrize(
    ("state", "adopted", "free_since", "now", "expected"),
    [
        # a live shard holds its lease: nothing to do, no free time counted
        (HELD, False, None, 100.0, (Decision.NOTHING, None)),
        # a lease held again after being free resets the count
        (HELD, False, 80.0, 100.0, (Decision.NOTHING, None)),
        # first seen free: the grace starts now
        (FREE, False, None, 100.0, (Decision.NOTHING, 100.0)),
        # free for less than the grace: wait (a restart within the grace needs no takeover)
        (FREE, False, 80.0, 100.0, (Decision.NOTHING, 80.0)),
        # free for the whole grace: adopt
        (FREE, False, 70.0, 100.0, (Decision.ADOPT, 70.0)),
        # someone is waiting for a free lease: the owner is taking it this moment
        (WAITING_FREE, False, 10.0, 100.0, (Decision.NOTHING, None)),
        # adopted here, the owner waits for its lease: hand it back
        (RETURNING, True, None, 100.0, (Decision.HAND_BACK, None)),
        # adopted here (our session holds it), nobody waits: keep running the index
        (HELD, True, None, 100.0, (Decision.NOTHING, None)),
    ],
)
def test_decide(
    state: LeaseState,
    adopted: bool,
    free_since: float | None,
    now: float,
    expected: tuple[Decision, float | None],
) -> None:
    assert decide(state, adopted=adopted, free_since=free_since, now=now, grace=GRACE) == expected


def test_lease_keys_are_distinct_stable_and_fit_pg_locks_objid() -> None:
    # pinned: every process and version must compute the same key for an index
    keys = [lease_key("almaty", i) for i in range(64)]
    assert len(set(keys)) == len(keys)
    assert leader_lock_key("almaty") not in keys
    # below 2^32: pg_locks shows it with classid 0 and objid the key (collector.takeover)
    assert all(0 <= k < 2**32 for k in keys)
    assert lease_key("almaty", 0) == lease_key("almaty", 0)
    assert lease_key("almaty", 0) != lease_key("astana", 0)


T0 = datetime(2026, 1, 10, tzinfo=UTC)
CITY = {"city": [{"rule": "pm25_1h", "min_stations": 1, "severity": "critical"}]}


class Recorder:
    async def observe(self, obs: Observation) -> None:
        pass


STATION = Station(id="AIR-01", kind="air", district="Almaly", interval_s=60)  # type: ignore[arg-type]


def hot_stage() -> AirStage:
    return AirStage(Stations([STATION]), load_alert_settings(CITY), Recorder())


def city_count(stage: AirStage) -> float:
    obs = stage.remote_flags(9, {}, T0)  # an empty report from an unrelated shard
    return next(o.value for o in obs if o.rule.name == "pm25_1h_city")


@pytest.mark.parametrize(
    ("reports", "expected"),
    [
        # one shard reports the station over the threshold: counted once
        ([(1, True)], 1.0),
        # the dead shard's old "over" report, then its adopter's "below": the newer one counts
        ([(1, True), (2, False)], 0.0),
        # adopter's "over", then the returned owner's "over": still one station, not two
        ([(1, True), (2, True), (1, True)], 1.0),
    ],
)
def test_a_moved_station_is_counted_once_from_its_latest_reporter(
    reports: list[tuple[int, bool]], expected: float
) -> None:
    stage = hot_stage()
    for shard, over in reports:
        stage.remote_flags(shard, {"pm25_1h": {"AIR-01": over}}, T0)
    assert city_count(stage) == expected


def adopted_stage() -> AirStage:
    """A stage that adopted AIR-01 (reported "over" by its dead shard 1) and saw it below."""
    stage = hot_stage()
    stage.remote_flags(1, {"pm25_1h": {"AIR-01": True}}, T0)
    stage.forget({"AIR-01"})
    readings = [AirReading("AIR-01", T0 + timedelta(minutes=m), pm25=10.0) for m in range(60)]
    stage.preload(readings)
    stage.observations(STATION, None)
    return stage


def test_own_evaluation_supersedes_a_remote_report() -> None:
    # adopted here: the station's own flag (below) wins over the dead shard's "over"
    assert city_count(adopted_stage()) == 0.0


@pytest.mark.parametrize(
    ("owner_report", "expected", "flags_sent"),
    [
        # the returned owner has not reported the station yet: this replica's last flag
        # still counts and is still sent (the city count never misses the station)
        ({}, 0.0, {"AIR-01": False}),
        # the owner reports it: its flag counts, this replica stops sending it
        ({"AIR-01": True}, 1.0, {}),
    ],
)
def test_hand_back_keeps_reporting_until_the_owner_reports(
    owner_report: dict[str, bool], expected: float, flags_sent: dict[str, bool]
) -> None:
    stage = adopted_stage()
    stage.hand_back({"AIR-01"})
    stage.remote_flags(1, {"pm25_1h": owner_report}, T0)
    assert city_count(stage) == expected
    assert stage.flags()[0].get("pm25_1h", {}) == flags_sent


@pytest.mark.parametrize(
    ("toml", "seconds", "leased"),
    [
        # default: on, 30 s, for a sharded deployment
        ("[shard]\ncount = 3\nindex = 0\n", 30.0, True),
        # a shorter grace
        ('[shard]\ncount = 3\nindex = 0\ntakeover_after = "5s"\n', 5.0, True),
        # 0 turns it off: no lease, no watcher (a dead shard waits for its restart)
        ('[shard]\ncount = 3\nindex = 0\ntakeover_after = "0s"\n', 0.0, False),
        # one shard: nothing to take over, whatever the grace
        ("[shard]\ncount = 1\n", 30.0, False),
    ],
)
def test_takeover_setting(tmp_path: Path, toml: str, seconds: float, leased: bool) -> None:
    path = tmp_path / "kuzet.toml"
    path.write_text(toml)
    settings = load_settings(path, {})
    assert settings.shard.takeover_after.total_seconds() == seconds
    assert (own_lease(settings) is not None) is leased


@pytest.mark.parametrize(
    ("value", "message"),
    [
        # negative durations are refused at start-up
        ('"-5s"', "takeover_after"),
        # so is a value that is no duration
        ('"soon"', "takeover_after"),
    ],
)
def test_bad_takeover_setting(tmp_path: Path, value: str, message: str) -> None:
    path = tmp_path / "kuzet.toml"
    path.write_text(f"[shard]\ncount = 3\nindex = 0\ntakeover_after = {value}\n")
    with pytest.raises(ConfigError, match=message):
        load_settings(path, {})
