"""Reference consumers (a helper process): the bare subscriber (ceiling) and the naive bridge.

Both use paho-mqtt the way Kuzet does underneath: MQTT 5, persistent session (clean start
off), Receive Maximum 1000, QoS 1 subscription, PUBACK after the callback returns.

* `bare`: decodes each payload with orjson (Kuzet's parser) and counts. Nothing else: what
  one Python process can take off the broker on this machine.
* `naive`: what a typical hand-written bridge does: `json.loads`, then per message one
  INSERT per reading and a COMMIT (psycopg, autocommit off), in the paho callback.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from datetime import datetime
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.benchmarks.worker import serve

RECEIVE_MAXIMUM = 1000

NAIVE_TABLE = """
CREATE TABLE IF NOT EXISTS naive_air (
    time timestamptz NOT NULL, station_id text NOT NULL,
    pm25 double precision, pm10 double precision, no2 double precision,
    temp double precision, rh double precision,
    PRIMARY KEY (station_id, time))
"""
NAIVE_INSERT = """
INSERT INTO naive_air (time, station_id, pm25, pm10, no2, temp, rh)
VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING
"""


class Peer:
    """One subscriber; `mode` is `bare` or `naive`."""

    def __init__(self) -> None:
        self.messages = 0
        self.readings = 0
        self.last = 0.0
        self._mode = "bare"
        self._db: psycopg.Connection[Any] | None = None
        self._client: mqtt.Client | None = None

    def connect(
        self, host: str, port: int, topic: str, mode: str, database_url: str = ""
    ) -> dict[str, Any]:
        """Connect, subscribe, and wait for the SUBACK."""
        self._mode = mode
        if mode == "naive":
            self._db = psycopg.connect(database_url)
            self._db.execute(NAIVE_TABLE)
            self._db.commit()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"kbench-{mode}-{secrets.token_hex(4)}",
            protocol=mqtt.MQTTv5,
        )
        client.on_message = self._on_message
        subscribed = threading.Event()
        client.on_subscribe = lambda *_args: subscribed.set()
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        client.connect(host, port, keepalive=60, clean_start=False, properties=props)
        client.loop_start()
        client.subscribe(topic, qos=1)
        if not subscribed.wait(10):
            raise TimeoutError("no SUBACK")
        self._client = client
        return {}

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if self._mode == "bare":
            doc = orjson.loads(msg.payload)
            n = len(doc) if isinstance(doc, list) else 1
        else:
            n = self._store(msg.topic, bytes(msg.payload))
        self.messages += 1
        self.readings += n
        self.last = time.monotonic()

    def _store(self, topic: str, payload: bytes) -> int:
        assert self._db is not None
        doc = json.loads(payload)
        items = doc if isinstance(doc, list) else [doc]
        station = topic.rsplit("/", 1)[-1]
        with self._db.cursor() as cur:
            for item in items:
                ts = datetime.fromisoformat(item["ts"])
                cur.execute(
                    NAIVE_INSERT,
                    (
                        ts,
                        station,
                        item.get("pm25"),
                        item.get("pm10"),
                        item.get("no2"),
                        item.get("temp"),
                        item.get("rh"),
                    ),
                )
        self._db.commit()
        return len(items)

    def count(self) -> dict[str, Any]:
        """Messages and readings handled so far, and when the last one finished."""
        return {"messages": self.messages, "readings": self.readings, "last": self.last}

    def disconnect(self) -> dict[str, Any]:
        """Leave the broker and the database."""
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
        if self._db is not None:
            self._db.close()
        return {}


def main() -> None:
    """Serve requests (`python -m tests.benchmarks.peers`)."""
    peer = Peer()
    serve({"connect": peer.connect, "count": peer.count, "disconnect": peer.disconnect})


if __name__ == "__main__":
    main()
