"""Coverage-guided fuzz (atheris) of the ingest path: bytes → Ingest.handle with real decoders.

Not part of the test run (atheris is optional: ``pip install -e '.[fuzz]'``). Run it as::

    python -m tests.fuzz.atheris_ingest -max_total_time=600 [libFuzzer options] [CORPUS_DIR]

Without a corpus directory, a temporary one is seeded with ``tests/data/payloads/``. The first
input byte picks the topic (feed, station and the unknown-station policy), the rest is the
MQTT payload. A crash is an exception out of ``Ingest.handle`` or a broken invariant (the same
ones as ``test_ingest_fuzz.py``); libFuzzer then writes the input to ``crash-<sha1>``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["collector"]):
    from collector.config import IngestSettings
    from collector.ingest import KEEP_OVERSIZED, Ingest
    from collector.metrics import FEEDS, OTHER_FEED, Metrics
    from collector.models import Feed, RejectReason
    from collector.stations import load_stations

from tests.fuzz.test_ingest_fuzz import RecordingSink, RecordingStage
from tests.integration.harness import TEST_STATIONS
from tests.unit.feeds._support import PAYLOADS, RECEIVED

PREFIX = "almaty"
MAX_BYTES = 64 * 1024
REASONS = {r.value for r in RejectReason}
# Topic choices: known and unknown stations on every feed, near-miss ids, foreign topics.
TOPICS = [
    *(f"{PREFIX}/{feed}/{sid}" for feed in FEEDS for sid in ("AIR-01", "SEIS-01", "LAKE-01")),
    *(f"{PREFIX}/{feed}/NEW-{i}" for feed in FEEDS for i in range(2)),
    f"{PREFIX}/air/AIR-01\n",
    f"{PREFIX}/air/",
    f"{PREFIX}/alerts/air/pm25_1h",
    "other/air/AIR-01",
    f"{PREFIX}/air/AIR-01/extra",
]
# A sample payload's seed selects its own feed's known station.
SEED_TOPIC = {
    feed: TOPICS.index(f"{PREFIX}/{feed}/{sid}")
    for feed, sid in (("air", "AIR-01"), ("seismic", "SEIS-01"), ("lake", "LAKE-01"))
}


def _ingest(unknown: str) -> tuple[Ingest, RecordingSink, RecordingStage]:
    sink, stage = RecordingSink(), RecordingStage()
    ingest = Ingest(
        settings=IngestSettings.model_validate(
            {"unknown_stations": unknown, "max_message_bytes": MAX_BYTES, "station_rate": 0.0}
        ),
        topic_prefix=PREFIX,
        stations=load_stations(TEST_STATIONS),
        metrics=Metrics(),
        sinks=dict.fromkeys((*Feed, None), sink),
        stages=[stage],
        wall_clock=lambda: RECEIVED,
    )
    return ingest, sink, stage


LOOP = asyncio.new_event_loop()
# One Ingest per policy, reused: building one per input would dominate the run time.
INGESTS = {policy: _ingest(policy) for policy in ("accept", "reject")}


def test_one_input(data: bytes) -> None:
    """One message through the production entry point; raise on any broken invariant."""
    if not data:
        return
    selector, payload = data[0], data[1:]
    topic = TOPICS[selector % len(TOPICS)]
    ingest, sink, stage = INGESTS["reject" if selector & 0x80 else "accept"]
    sink.units.clear()
    stage.readings.clear()
    acks = []
    LOOP.run_until_complete(ingest.handle(topic, payload, lambda: acks.append(1)))
    # one unit, acknowledged once
    if len(sink.units) != 1 or len(acks) != 1:
        raise AssertionError(f"{len(sink.units)} units, {len(acks)} acks")
    unit = sink.units[0]
    for row in unit.rejected:
        if row.reason not in REASONS or row.feed not in (*FEEDS, OTHER_FEED):
            raise AssertionError(f"bad rejection {row.reason!r} {row.feed!r}")
        if len(row.payload) > max(KEEP_OVERSIZED, MAX_BYTES):
            raise AssertionError("kept payload too long")
    parts = topic.split("/")
    for reading in unit.readings:
        # readings only ever come from a well-formed topic, for its own station and feed
        if unit.feed is None or parts != [PREFIX, unit.feed.value, reading.station_id]:
            raise AssertionError(f"reading {reading!r} from {topic!r}")
    if not unit.readings and not unit.rejected:
        raise AssertionError("neither stored nor rejected (no throttle in this harness)")
    if stage.readings != list(unit.readings):
        raise AssertionError("analytics saw other readings than the writers")


def _seed_corpus() -> str:
    corpus = Path(tempfile.mkdtemp(prefix="kuzet-atheris-"))
    for sample in sorted(PAYLOADS.glob("*.json")):
        feed = sample.name.split("_", 1)[0]
        selector = SEED_TOPIC.get(feed, 0)
        (corpus / sample.stem).write_bytes(bytes([selector]) + sample.read_bytes())
    return str(corpus)


def main() -> None:
    """libFuzzer's command line; a seeded temporary corpus when none is given."""
    args = list(sys.argv)
    if not any(not a.startswith("-") for a in args[1:]):
        args.append(_seed_corpus())
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
