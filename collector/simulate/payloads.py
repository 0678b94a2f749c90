"""Wire forms of simulated readings (spec §3): native, Sensor.Community, batches and OpenEEW.

Every form the spec accepts appears somewhere in the network, so a simulator run exercises
every decoder path: native air objects and batches (arrays), Sensor.Community objects with
`ts` or with the Sensor.Community API's own offset-less UTC `timestamp`, native seismic packets
and OpenEEW packets (`device_t`/`cloud_t`, `traces`), lake objects; timestamps as RFC 3339
with `Z`, RFC 3339 with `+05:00`, or Unix seconds.
"""

from __future__ import annotations

import math
from typing import Any, Final

import orjson

from collector.simulate.air import AirBlock, AirForm, AirSite
from collector.simulate.common import TsStyle, format_ts, to_datetime
from collector.simulate.lake import LakeBlock, LakeSite
from collector.simulate.seismic import SeismicPacketData, SeismicSite

# Firmware string of the Sensor.Community (airrohr) sensors, as their messages carry it.
SENSOR_COMMUNITY_SOFTWARE: Final = "NRZ-2020-133"


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def air_item(site: AirSite, block: AirBlock, i: int) -> dict[str, Any]:
    """Reading `i` of `block` as one JSON object in the station's form."""
    t = float(block.times[i])
    values = {
        "pm25": _number(block.pm25[i]),
        "pm10": _number(block.pm10[i]),
        "no2": _number(block.no2[i]),
        "temp": _number(block.temp[i]),
        "rh": _number(block.rh[i]),
    }
    if site.form is not AirForm.SENSOR_COMMUNITY:
        item: dict[str, Any] = {"ts": format_ts(t, site.ts_style)}
        item.update((k, v) for k, v in values.items() if v is not None)
        return item
    item = {
        "software_version": SENSOR_COMMUNITY_SOFTWARE,
        "sensordatavalues": [
            {"value_type": kind, "value": f"{values[name]:.2f}"}
            for kind, name in (("P1", "pm10"), ("P2", "pm25"), ("temperature", "temp"))
            if values[name] is not None
        ]
        + [
            {"value_type": "humidity", "value": f"{values['rh']:.2f}"},
            # Diagnostics the decoder ignores, as real airrohr messages carry them.
            {"value_type": "samples", "value": "874311"},
            {"value_type": "signal", "value": "-71"},
        ],
    }
    if site.ts_style is TsStyle.RFC3339_Z:
        # The Sensor.Community API's own field: UTC without an offset.
        item["timestamp"] = to_datetime(t).strftime("%Y-%m-%d %H:%M:%S")
    else:
        item["ts"] = format_ts(t, site.ts_style)
    return item


def lake_item(site: LakeSite, block: LakeBlock, i: int) -> dict[str, Any]:
    """Reading `i` of `block` as one JSON object (gauges add `discharge_m3s`)."""
    item: dict[str, Any] = {
        "ts": format_ts(float(block.times[i]), site.ts_style),
        "level_m": float(block.level_m[i]),
        "water_temp": float(block.water_temp[i]),
        "precip_mm": float(block.precip_mm[i]),
    }
    discharge = _number(block.discharge_m3s[i])
    if discharge is not None:
        item["discharge_m3s"] = discharge
    return item


def seismic_item(site: SeismicSite, packet: SeismicPacketData) -> dict[str, Any]:
    """A packet in the native form (`ts` = first sample) or, for OpenEEW sensors, OpenEEW's.

    OpenEEW: `cloud_t` is the exact time of the last sample (the decoder prefers it),
    `device_t` the sensor's slightly-off clock for the same sample.
    """
    x, y, z = (packet.samples[k].tolist() for k in range(3))
    if site.openeew:
        return {
            "device_id": site.station_id.lower(),
            "sr": packet.sr,
            "device_t": round(packet.last_time + site.device_skew_s, 3),
            "cloud_t": round(packet.last_time, 6),
            "traces": {"x": x, "y": y, "z": z},
        }
    return {
        "ts": format_ts(packet.first_time, site.ts_style),
        "sr": packet.sr,
        "x": x,
        "y": y,
        "z": z,
    }


def encode(items: list[dict[str, Any]], *, batch: bool) -> bytes:
    """One message: a single object, or a JSON array of objects when `batch`."""
    return orjson.dumps(items if batch else items[0])
