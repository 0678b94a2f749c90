"""Feed decoders, one module per feed, registered in a plain dict keyed by `Feed`."""

from __future__ import annotations

from typing import Final

from collector.feeds.air import decode_air
from collector.feeds.common import DecodeContext, DecodeError, Decoder
from collector.feeds.lake import decode_lake
from collector.feeds.seismic import decode_seismic
from collector.models import Feed

DECODERS: Final[dict[Feed, Decoder]] = {
    Feed.AIR: decode_air,
    Feed.SEISMIC: decode_seismic,
    Feed.LAKE: decode_lake,
}

__all__ = [
    "DECODERS",
    "DecodeContext",
    "DecodeError",
    "Decoder",
    "decode_air",
    "decode_lake",
    "decode_seismic",
]
