"""Streaming per-station detector: baseline removal, classic STA/LTA picks, Pd and per-second PGA.

One `StationDetector` per seismic station is fed that station's `SeismicPacket`s in arrival order.
The processing chain, identical whatever the packet split:

1. Baseline: a first-order recursive high-pass at `highpass_hz` on each component: 0.075 Hz, the
   one-way high-pass of Wu & Kanamori's real-time Pd processing that Wu & Zhao (2006) calibrate.
   It starts from the first sample, so a gravity offset of ~981 gal on z leaves no transient.
2. Classic STA/LTA (spec §6 default; the same definition as ObsPy's `classic_sta_lta`): on each
   component the mean of a² over the last STA samples divided by the mean over the last LTA
   samples, both windows ending at the current sample. Windows are `round(seconds · sr)` samples.
   The ratio is 0 until LTA samples have been seen (warm-up). The LTA is floored at
   `min_lta_gal2` so a flat (dead or clipped) channel cannot divide by zero and trigger on the
   next bit of noise. Computed from a cumulative sum over the carried last LTA−1 squared samples
   plus the new ones: no per-sample Python loop, no drift over hours.
3. Trigger: on when the ratio of any component exceeds `trigger_on`; the pick is that first
   sample. Off when the largest ratio drops below `trigger_off`; then no new pick for
   `dead_time_s` (coda re-triggers).
4. Amplitudes of a pick, over `amplitude_window_s` (3 s, Wu & Zhao's Pd window) after it: the
   peak STA/LTA, the peak horizontal |a| (PGA) and the peak vertical displacement Pd (high-passed
   acceleration integrated twice with leaky integrators of the same corner: together a
   three-pole 0.075 Hz high-pass on displacement). The pick is reported on the packet where it
   occurs and re-reported, same station and time, on every later packet until the window is
   complete (`final`): upsert on (station_id, time).
5. PGA per UTC second: the peak horizontal |a| (max over x and y, not z: PGA in ground-motion
   relations and in Worden et al. (2012) is a horizontal measure, and a vertical knock on a
   sensor housing is not ground shaking). A second is reported once, as soon as its last sample
   has been processed.

Packet timing. Samples live on the station's sample grid: sample g after a (re)start is at
t_start + g/sr, t_start being the first packet's timestamp (an ADC clock is regular; packet
timestamps jitter). A packet starting within ±`jitter_samples` (half a sample) of the next grid
point is contiguous and placed on the grid, so timestamp jitter below half a sample changes
nothing. Earlier: the samples already seen are dropped (MQTT QoS 1 redelivery); a packet wholly
seen is a duplicate. Later: a gap of up to `max_bridge_s` is bridged with the baseline (zero
acceleration after baseline removal), so detection continues without a new 10 s warm-up; a
longer gap, a change of `sr` or a clock rewind of more than `max_rewind_s` restarts the station
at the packet (warm-up again). A device clock drifting against its nominal rate thus costs one
dropped or bridged sample each time the drift reaches half a sample: sample times never stray
further from the timestamps.
A trigger already on when a warm-up ends is not a pick: its onset time is unknown.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from collector.models import SeismicPacket
from collector.seismic._signal import highpass, leaky_integral, pole
from collector.seismic.picks import Pick, SecondPga, from_us, to_us

Array = npt.NDArray[np.float64]

COMPONENTS: tuple[str, ...] = ("x", "y", "z")
_US_PER_S = 1_000_000


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """Detector settings; the defaults are the spec §6 classic STA/LTA."""

    sta_s: float = 0.5
    lta_s: float = 10.0
    trigger_on: float = 3.5
    trigger_off: float = 1.0
    # After a trigger ends, coda bursts re-trigger: no new pick for this long.
    dead_time_s: float = 2.0
    highpass_hz: float = 0.075
    # Below the noise of any strong-motion sensor (0.01 gal rms): only a flat channel hits it.
    min_lta_gal2: float = 1e-4
    amplitude_window_s: float = 3.0
    # Indices into (x, y, z) of the components whose |a| makes the PGA.
    pga_components: tuple[int, ...] = (0, 1)
    pd_component: int = 2
    jitter_samples: float = 0.5
    max_bridge_s: float = 2.0
    max_rewind_s: float = 300.0

    def __post_init__(self) -> None:
        if not 0 < self.sta_s < self.lta_s:
            raise ValueError("need 0 < sta_s < lta_s")
        if not 0 < self.trigger_off < self.trigger_on:
            raise ValueError("need 0 < trigger_off < trigger_on")
        if min(self.dead_time_s, self.max_bridge_s, self.amplitude_window_s) < 0:
            raise ValueError("durations must not be negative")
        if self.jitter_samples <= 0:
            # Above 1, packets overlapping by one sample are no longer recognised as such.
            raise ValueError("jitter_samples must be positive")
        if not self.pga_components or not {*self.pga_components, self.pd_component} <= {0, 1, 2}:
            raise ValueError("component indices must be 0 (x), 1 (y) or 2 (z)")


class PacketStatus(enum.StrEnum):
    """How a packet joined the station's stream."""

    FIRST = "first"
    CONTIGUOUS = "contiguous"
    # Leading samples already seen were dropped.
    OVERLAP = "overlap"
    # Every sample already seen: nothing processed.
    DUPLICATE = "duplicate"
    # A short gap before the packet was filled with zero acceleration.
    BRIDGED = "bridged"
    # Long gap, sr change or clock rewind: the station restarted (warm-up) at this packet.
    RESET = "reset"


@dataclass(frozen=True, slots=True, eq=False)
class DetectorResult:
    """What one packet produced."""

    status: PacketStatus
    picks: tuple[Pick, ...]
    pga: tuple[SecondPga, ...]
    new_samples: int
    dropped_samples: int
    bridged_samples: int
    # STA/LTA per component (rows x, y, z) of every sample processed: bridged ones, then new.
    ratio: Array
    triggered: bool


@dataclass(slots=True)
class _OpenPick:
    index: int  # sample index since the last restart
    end: int  # first index after the amplitude window
    time_us: int
    component: str
    sta_lta: float = 0.0
    pga: float = 0.0
    pd: float = 0.0


@dataclass(slots=True)
class _Output:
    picks: list[Pick] = field(default_factory=list)
    seconds: list[SecondPga] = field(default_factory=list)


@dataclass(slots=True)
class _State:
    """Everything carried from one packet to the next; replaced wholesale on a restart."""

    sr: float
    step_us: float
    nsta: int
    nlta: int
    a_hp: float
    dead_n: int
    window_n: int
    bridge_n: int
    anchor_us: int  # time of sample 0 after the (re)start
    raw_prev: Array
    hp_prev: Array
    vel: Array
    disp: Array
    energy: Array  # the last ≤ nlta−1 squared high-passed samples, shape (3, k)
    total: int = 0  # samples processed since the restart, bridged ones included
    triggered: bool = False
    dead_until: int = 0
    open_picks: list[_OpenPick] = field(default_factory=list)
    second: int | None = None
    second_peak: float = 0.0
    second_count: int = 0


class StationDetector:
    """The streaming detector of one station (see the module docstring)."""

    def __init__(self, station_id: str, config: DetectorConfig | None = None) -> None:
        self.station_id = station_id
        self.config = config or DetectorConfig()
        self._state: _State | None = None

    @property
    def triggered(self) -> bool:
        """Whether the trigger is on after the last packet."""
        return self._state is not None and self._state.triggered

    def process(self, packet: SeismicPacket) -> DetectorResult:
        """Feed one packet of this station; return the picks and seconds it completed.

        Raises:
            ValueError: the packet belongs to another station.
        """
        if packet.station_id != self.station_id:
            raise ValueError(f"packet of {packet.station_id} fed to {self.station_id}")
        raw = np.stack([packet.x, packet.y, packet.z]).astype(np.float64)
        n = raw.shape[1]
        t_us = to_us(packet.time)
        out = _Output()
        state = self._state
        drop = bridge = 0
        if state is None or state.sr != packet.sr:
            status = PacketStatus.FIRST if state is None else PacketStatus.RESET
            state = self._restart(state, packet.sr, t_us, raw, out)
        else:
            offset = (t_us - state.anchor_us) / state.step_us - state.total
            jitter = self.config.jitter_samples
            if offset < -self.config.max_rewind_s * state.sr or offset > state.bridge_n + jitter:
                status = PacketStatus.RESET
                state = self._restart(state, packet.sr, t_us, raw, out)
            elif offset < -jitter:
                drop = min(round(-offset), n)
                status = PacketStatus.DUPLICATE if drop == n else PacketStatus.OVERLAP
            elif offset > jitter:
                bridge = round(offset)
                status = PacketStatus.BRIDGED
            else:
                status = PacketStatus.CONTIGUOUS
        if status is PacketStatus.DUPLICATE:
            ratio = np.zeros((3, 0))
        else:
            ratio = self._run(state, raw[:, drop:], bridge, out)
        return DetectorResult(
            status=status,
            picks=tuple(out.picks),
            pga=tuple(out.seconds),
            new_samples=n - drop,
            dropped_samples=drop,
            bridged_samples=bridge,
            ratio=ratio,
            triggered=state.triggered,
        )

    def _restart(
        self, old: _State | None, sr: float, t_us: int, raw: Array, out: _Output
    ) -> _State:
        """Close what the old stream left open, then start afresh at a packet."""
        if old is not None:
            # Picks cut short by the restart are final with what was measured before it.
            out.picks.extend(
                self._report(old, p, upto=old.total, final=True) for p in old.open_picks
            )
        cfg = self.config
        nsta = max(1, round(cfg.sta_s * sr))
        nlta = max(nsta + 1, round(cfg.lta_s * sr))
        self._state = _State(
            sr=sr,
            step_us=_US_PER_S / sr,
            nsta=nsta,
            nlta=nlta,
            a_hp=pole(cfg.highpass_hz, sr),
            dead_n=round(cfg.dead_time_s * sr),
            window_n=max(1, round(cfg.amplitude_window_s * sr)),
            bridge_n=math.floor(cfg.max_bridge_s * sr),
            anchor_us=t_us,
            # Starting the high-pass from the first sample: a constant offset (gravity on z)
            # produces no transient at all.
            raw_prev=raw[:, 0].copy(),
            hp_prev=np.zeros(3),
            vel=np.zeros(1),
            disp=np.zeros(1),
            energy=np.zeros((3, 0)),
        )
        if old is not None:
            # The open second survives a restart: the new packet usually lies in a later second
            # and closes it then; one in the same second (sr change) adds to it, not a duplicate.
            self._state.second = old.second
            self._state.second_peak = old.second_peak
            self._state.second_count = old.second_count
        return self._state

    def _run(self, s: _State, raw: Array, bridge: int, out: _Output) -> Array:
        """Filter, detect and measure `bridge` zero samples then the new `raw` samples."""
        cfg = self.config
        real = raw.shape[1]
        if bridge:
            # The gap holds the baseline (the high-pass's implicit low-pass, x − y): its output
            # there is zero, and the first new sample is measured from that same baseline, so
            # resuming adds neither a step nor an offset.
            baseline = s.raw_prev - s.hp_prev
            s.raw_prev = raw[:, 0].copy()
            s.hp_prev = raw[:, 0] - baseline
        acc = highpass(raw, s.a_hp, s.raw_prev, s.hp_prev)
        s.raw_prev = raw[:, -1].copy()
        s.hp_prev = acc[:, -1].copy()
        if bridge:
            acc = np.concatenate([np.zeros((3, bridge)), acc], axis=1)
        m = bridge + real
        ratio = self._sta_lta(s, acc)
        station_ratio = ratio.max(axis=0)
        dt = 1.0 / s.sr
        vel = leaky_integral(acc[cfg.pd_component], s.a_hp, dt, s.vel)
        disp = leaky_integral(vel, s.a_hp, dt, s.disp)
        s.vel, s.disp = vel[-1:], disp[-1:]
        horizontal = np.abs(acc[list(cfg.pga_components)]).max(axis=0)
        horizontal[:bridge] = 0.0
        pd = np.abs(disp)
        pd[:bridge] = 0.0
        for j in self._triggers(s, station_ratio, bridge, m):
            component = COMPONENTS[int(np.argmax(ratio[:, j] > cfg.trigger_on))]
            time_us = round(s.anchor_us + (s.total + j) * s.step_us)
            index = s.total + j
            s.open_picks.append(_OpenPick(index, index + s.window_n, time_us, component))
        still_open: list[_OpenPick] = []
        for p in s.open_picks:
            lo, hi = max(p.index - s.total, bridge), min(p.end - s.total, m)
            if lo < hi:
                p.sta_lta = max(p.sta_lta, float(station_ratio[lo:hi].max()))
                p.pga = max(p.pga, float(horizontal[lo:hi].max()))
                p.pd = max(p.pd, float(pd[lo:hi].max()))
            final = p.end <= s.total + m
            out.picks.append(self._report(s, p, upto=s.total + m, final=final))
            if not final:
                still_open.append(p)
        s.open_picks = still_open
        self._seconds(s, horizontal[bridge:], s.total + bridge, out.seconds)
        s.total += m
        return ratio

    def _sta_lta(self, s: _State, acc: Array) -> Array:
        """Classic STA/LTA per component over the carried energy buffer plus `acc`."""
        m = acc.shape[1]
        full = np.concatenate([s.energy, acc * acc], axis=1)
        cum = np.zeros((3, full.shape[1] + 1))
        np.cumsum(full, axis=1, out=cum[:, 1:])
        end = s.energy.shape[1] + 1 + np.arange(m)
        # Indices below zero only occur during warm-up, where the ratio is masked anyway.
        sta = (cum[:, end] - cum[:, np.maximum(end - s.nsta, 0)]) / s.nsta
        lta = (cum[:, end] - cum[:, np.maximum(end - s.nlta, 0)]) / s.nlta
        ratio = np.maximum(sta, 0.0) / np.maximum(lta, self.config.min_lta_gal2)
        warm = s.total + np.arange(m) >= s.nlta - 1
        ratio[:, ~warm] = 0.0
        s.energy = full[:, -(s.nlta - 1) :].copy()
        return ratio

    def _triggers(self, s: _State, ratio: Array, bridge: int, m: int) -> list[int]:
        """Run the on/off state machine over the packet; the local indices of new picks.

        Loops over trigger transitions (a handful per packet), never over samples.
        """
        cfg = self.config
        found: list[int] = []
        i = 0
        warm = s.nlta - 1 - s.total
        if 0 <= warm < m and ratio[warm] > cfg.trigger_on:
            # Already above at the first valid ratio: the onset lies in the warm-up, unknown.
            s.triggered = True
            i = warm + 1
        while i < m:
            if s.triggered:
                below = np.flatnonzero(ratio[i:] < cfg.trigger_off)
                if not below.size:
                    break
                i += int(below[0])
                s.triggered = False
                s.dead_until = s.total + i + 1 + s.dead_n
                i += 1
            else:
                # A pick never sits on a bridged (invented) sample.
                start = max(i, bridge, s.dead_until - s.total)
                above = np.flatnonzero(ratio[start:] > cfg.trigger_on)
                if not above.size:
                    break
                i = start + int(above[0])
                found.append(i)
                s.triggered = True
                i += 1
        return found

    def _report(self, s: _State, p: _OpenPick, *, upto: int, final: bool) -> Pick:
        """The pick as measured up to sample index `upto` (exclusive)."""
        covered = min(p.end, upto)
        return Pick(
            station_id=self.station_id,
            time=from_us(p.time_us),
            sta_lta=p.sta_lta,
            pga_gal=p.pga,
            pd_cm=p.pd,
            window_s=(covered - p.index) / s.sr,
            component=p.component,
            final=final,
        )

    def _seconds(self, s: _State, peaks: Array, first: int, out: list[SecondPga]) -> None:
        """Fold the new samples' horizontal peaks into UTC seconds; report completed ones."""
        if not peaks.size:
            return
        index = first + np.arange(peaks.size)
        times = np.rint(s.anchor_us + index * s.step_us).astype(np.int64)
        secs = times // _US_PER_S
        starts = np.flatnonzero(np.diff(secs, prepend=secs[0] - 1))
        maxima = np.maximum.reduceat(peaks, starts)
        counts = np.diff(starts, append=peaks.size)
        for k, start in enumerate(starts):
            sec, peak, count = int(secs[start]), float(maxima[k]), int(counts[k])
            if s.second == sec:
                peak, count = max(peak, s.second_peak), count + s.second_count
            elif s.second is not None and s.second_count:
                out.append(self._second(s.second, s.second_peak, s.second_count))
            s.second, s.second_peak, s.second_count = sec, peak, count
        # The open second is complete once the next expected sample falls in a later second.
        next_us = s.anchor_us + (first + peaks.size) * s.step_us
        if s.second is not None and next_us >= (s.second + 1) * _US_PER_S - 0.5 * s.step_us:
            out.append(self._second(s.second, s.second_peak, s.second_count))
            s.second, s.second_peak, s.second_count = None, 0.0, 0

    def _second(self, sec: int, peak: float, count: int) -> SecondPga:
        return SecondPga(self.station_id, from_us(sec * _US_PER_S), peak, count)
