"""Phase association: P picks from several stations become one located event, or nothing.

An event is declared only when at least `min_stations` (4) distinct stations have picks that one
source explains, so one station spiking, however often, never makes an event:

1. Candidates. Two picks can share a source only if |t_a − t_b| ≤ d_ab / Vp + tolerance (the
   arrival-time difference cannot exceed the travel time between the stations) and the stations
   lie within `max_span_km` of each other. Starting from the newest pick, waiting picks of other
   stations are taken closest in time first, each kept when compatible with every pick kept so
   far (one pick per station).
2. Location. The candidates are located by grid search (`locate`); while a residual exceeds the
   tolerance, the worst pick is dropped and the rest relocated.
3. Silent stations. Four picks fit four unknowns exactly, so a location alone cannot expose four
   unrelated triggers. Stations report how far their data goes (`station_seen`); among those
   nearer to the hypocentre than the farthest picking station whose data already covers the
   predicted P arrival (+ `silence_margin_s`), at least `min_trigger_fraction` must have picked.
   Unrelated triggers put the source where closer stations stayed quiet. Without reports the
   check is skipped. If the candidates fail 2 or 3, each leave-one-out subset is tried once.
4. Declaration and growth. Waiting picks that fit the new event join it at once. A later pick
   joins an event if, relocated with it, every residual stays within tolerance (a location from
   four nearby stations may fix the distance to a far one poorly). A later pick of a station
   already in the event (its S wave, a coda re-trigger) belongs to it for `absorb_s` and can
   start nothing new.
5. Lifetime. An event ends when no new station has joined for `event_timeout_s` (20 s) of `now`;
   it is kept `history_s` more for `explaining_event` (the `station_pga` rule) and absorption.

A pick re-reported by the detector (same station and time, longer amplitude window) replaces the
stored one: the magnitude follows Pd as its window fills. Every change returns an `EventUpdate`.

Event ids are deterministic: `eq-<time of the earliest pick at declaration, UTC, ms>-<station>`,
e.g. `eq-20260110T080012.345Z-SEIS-07`; (station, pick time) is unique like `seismic_picks`.
Nothing here reads a clock: `now` (wall-clock time in the daemon, data time in replays) governs
lifetimes and lead times only; association itself runs on pick and data times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from collector.seismic.events import AssociatorConfig, Event, EventChange, EventUpdate
from collector.seismic.locate import Hypocentre, Locator
from collector.seismic.magnitude import city_impact, magnitude_from_pd, network_magnitude
from collector.seismic.picks import Pick, from_us, to_us
from collector.seismic.travel import epicentral_km, hypocentral_km


@dataclass(slots=True)
class _Site:
    lat: float
    lon: float
    elevation_km: float
    until: float = float("-inf")  # Unix time of the last sample processed


@dataclass(slots=True, eq=False)  # identity: the same pick is one entry, wherever it sits
class _Entry:
    pick: Pick
    site: _Site
    added_at: datetime

    @property
    def t(self) -> float:
        """Pick time in Unix seconds (the locator's time base)."""
        return to_us(self.pick.time) / 1e6

    @property
    def station_id(self) -> str:
        """The picking station."""
        return self.pick.station_id


@dataclass(slots=True)
class _Active:
    event_id: str
    detected_at: datetime
    joined_at: datetime  # `now` when the last station joined
    entries: dict[str, _Entry]
    hypo: Hypocentre
    snapshot: Event | None = None


class Associator:
    """Stateful associator for the whole network (one per daemon)."""

    def __init__(self, config: AssociatorConfig | None = None) -> None:
        self.config = config or AssociatorConfig()
        self._locator = Locator(self.config.grid, self.config.model)
        self._sites: dict[str, _Site] = {}
        self._pending: list[_Entry] = []
        self._active: dict[str, _Active] = {}
        self._ended: list[tuple[datetime, Event]] = []

    @property
    def events(self) -> tuple[Event, ...]:
        """The active events, oldest first."""
        return tuple(a.snapshot for a in self._active.values() if a.snapshot is not None)

    def station_seen(
        self, station_id: str, lat: float, lon: float, until: datetime, *, elevation_m: float = 0.0
    ) -> None:
        """Record that a station's data has been processed up to `until` (its last sample)."""
        site = self._site(station_id, lat, lon, elevation_m)
        site.until = max(site.until, to_us(until) / 1e6)

    def add_pick(
        self,
        pick: Pick,
        station_lat: float,
        station_lon: float,
        now: datetime,
        *,
        elevation_m: float = 0.0,
    ) -> tuple[EventUpdate, ...]:
        """Take a new or re-reported pick; return what changed (ended events first).

        Args:
            pick: From a station's detector (a re-report has the same station and time).
            station_lat: Station latitude, degrees.
            station_lon: Station longitude, degrees.
            now: Current time; lifetimes and lead times count from it.
            elevation_m: Station elevation above sea level.
        """
        updates = list(self.expire(now))
        site = self._site(pick.station_id, station_lat, station_lon, elevation_m)
        entry = _Entry(pick, site, now)
        for active in self._active.values():
            held = active.entries.get(pick.station_id)
            if held is not None and held.pick.time == pick.time:
                held.pick = pick
                return (*updates, self._publish(active, EventChange.UPDATED, now))
        for waiting in self._pending:
            if (waiting.station_id, waiting.pick.time) == (pick.station_id, pick.time):
                waiting.pick = pick
                return tuple(updates)
        if self._absorbed(pick):
            return tuple(updates)
        for active in self._active.values():
            if self._join(active, entry):
                active.joined_at = now
                return (*updates, self._publish(active, EventChange.UPDATED, now))
        self._pending.append(entry)
        declared = self._declare(entry, now)
        if declared is not None:
            updates.append(self._publish(declared, EventChange.DECLARED, now))
        return tuple(updates)

    def expire(self, now: datetime) -> tuple[EventUpdate, ...]:
        """End events quiet for `event_timeout_s`, forget stale picks and old history."""
        cfg = self.config
        ended: list[EventUpdate] = []
        for event_id, active in list(self._active.items()):
            if now - active.joined_at >= timedelta(seconds=cfg.event_timeout_s):
                del self._active[event_id]
                event = self._snapshot(active, now)
                self._ended.append((now, event))
                ended.append(EventUpdate(EventChange.ENDED, event))
        window = timedelta(seconds=cfg.pick_window_s)
        self._pending = [e for e in self._pending if now - e.added_at <= window]
        keep = timedelta(seconds=cfg.history_s)
        self._ended = [(at, e) for at, e in self._ended if now - at <= keep]
        return tuple(ended)

    def explaining_event(
        self,
        station_lat: float,
        station_lon: float,
        time: datetime,
        *,
        window_s: float = 10.0,
        elevation_m: float = 0.0,
    ) -> Event | None:
        """An active or recent event whose shaking at the station may include `time`.

        That is: origin − window ≤ time ≤ S arrival at the station + window. The `station_pga`
        rule fires only when this is None (spec §6: "no event within 10 s").
        """
        model = self.config.model
        for event in (*self.events, *(e for _, e in reversed(self._ended))):
            epi = float(epicentral_km(event.lat, event.lon, station_lat, station_lon))
            s_time = float(model.s_time(epi, event.depth_km, elevation_m / 1000.0))
            early = event.origin_time - timedelta(seconds=window_s)
            late = event.origin_time + timedelta(seconds=s_time + window_s)
            if early <= time <= late:
                return event
        return None

    def _site(self, station_id: str, lat: float, lon: float, elevation_m: float) -> _Site:
        site = self._sites.get(station_id)
        if site is None or (site.lat, site.lon) != (lat, lon):
            site = _Site(lat, lon, elevation_m / 1000.0, site.until if site else float("-inf"))
            self._sites[station_id] = site
        return site

    def _join(self, active: _Active, entry: _Entry) -> bool:
        """Add the pick to the event if the event relocated with it still fits every pick.

        Relocating, rather than testing against the current hypocentre, lets a station far from
        the founding ones join even when those constrained the distance poorly.
        """
        tolerance = self.config.tolerance_s
        members = list(active.entries.values())
        if not all(self._compatible(entry, m, span=False) for m in members):
            return False
        hypo = self._locate([*members, entry])
        if max(abs(r) for r in hypo.residuals_s) > tolerance:
            return False
        active.entries[entry.station_id] = entry
        active.hypo = hypo
        return True

    def _absorbed(self, pick: Pick) -> bool:
        """Whether a station of an active or recent event re-triggered within `absorb_s`."""
        absorb = timedelta(seconds=self.config.absorb_s)
        held = [
            a.entries[pick.station_id].pick.time
            for a in self._active.values()
            if pick.station_id in a.entries
        ]
        held += [p.time for _, e in self._ended for p in e.picks if p.station_id == pick.station_id]
        return any(timedelta(0) <= pick.time - t <= absorb for t in held)

    def _declare(self, seed: _Entry, now: datetime) -> _Active | None:
        """Try to form a new event that includes the newest pick (see the module docstring)."""
        cfg = self.config
        others = sorted(
            (e for e in self._pending if e.station_id != seed.station_id),
            key=lambda e: (abs(e.t - seed.t), e.station_id),
        )
        chosen = [seed]
        for entry in others:
            if entry.station_id not in {c.station_id for c in chosen} and all(
                self._compatible(entry, c) for c in chosen
            ):
                chosen.append(entry)
        if len(chosen) < cfg.min_stations:
            return None
        accepted = self._accept(chosen)
        for skip in range(
            len(chosen) if accepted is None and len(chosen) > cfg.min_stations else 0
        ):
            accepted = self._accept(chosen[:skip] + chosen[skip + 1 :])
            if accepted is not None:
                break
        if accepted is None:
            return None
        members, hypo = accepted
        first = min(members, key=lambda e: (e.t, e.station_id))
        stamp = first.pick.time
        event_id = f"eq-{stamp:%Y%m%dT%H%M%S}.{stamp.microsecond // 1000:03d}Z-{first.station_id}"
        active = _Active(event_id, now, now, {e.station_id: e for e in members}, hypo)
        self._pending = [e for e in self._pending if e not in members]
        for entry in list(self._pending):
            if (
                entry.station_id not in active.entries
                and abs(self._residual(hypo, entry)) <= cfg.tolerance_s
            ):
                active.entries[entry.station_id] = entry
                self._pending.remove(entry)
        active.hypo = self._locate(list(active.entries.values()))
        self._active[event_id] = active
        return active

    def _accept(self, candidates: list[_Entry]) -> tuple[list[_Entry], Hypocentre] | None:
        """Prune picks with residuals beyond tolerance; check silent stations. None: no event."""
        cfg = self.config
        members = list(candidates)
        hypo = self._locate(members)
        while max(abs(r) for r in hypo.residuals_s) > cfg.tolerance_s:
            worst = max(range(len(members)), key=lambda i: abs(hypo.residuals_s[i]))
            del members[worst]
            if len(members) < cfg.min_stations:
                return None
            hypo = self._locate(members)
        return (members, hypo) if self._enough_triggered(hypo, members) else None

    def _enough_triggered(self, hypo: Hypocentre, members: list[_Entry]) -> bool:
        """Whether enough of the stations that should have seen the P wave picked it."""
        cfg = self.config
        ids = {e.station_id for e in members}
        reach = max(self._distance(hypo, e.site) for e in members)
        silent = 0
        for station_id, site in self._sites.items():
            distance = self._distance(hypo, site)
            if station_id in ids or distance > reach:
                continue
            expected = hypo.origin_s + distance / cfg.model.vp_km_s
            if site.until < expected + cfg.silence_margin_s:
                continue  # its data does not reach the arrival yet: no verdict
            if not self._picked(
                station_id, expected - cfg.tolerance_s, expected + cfg.silence_margin_s
            ):
                silent += 1
        return len(members) >= cfg.min_trigger_fraction * (len(members) + silent)

    def _picked(self, station_id: str, start: float, end: float) -> bool:
        """Whether any held pick of the station lies in [start, end] (Unix seconds)."""
        held = [e for e in self._pending if e.station_id == station_id]
        held += [a.entries[station_id] for a in self._active.values() if station_id in a.entries]
        return any(start <= e.t <= end for e in held)

    def _compatible(self, a: _Entry, b: _Entry, *, span: bool = True) -> bool:
        """Whether one source can explain both arrival times (and, with `span`, founding)."""
        epi = float(epicentral_km(a.site.lat, a.site.lon, b.site.lat, b.site.lon))
        if span and epi > self.config.max_span_km:
            return False
        apart = float(hypocentral_km(epi, a.site.elevation_km - b.site.elevation_km))
        return abs(a.t - b.t) <= apart / self.config.model.vp_km_s + self.config.tolerance_s

    def _distance(self, hypo: Hypocentre, site: _Site) -> float:
        """Hypocentral distance in km to a station."""
        epi = float(epicentral_km(hypo.lat, hypo.lon, site.lat, site.lon))
        return float(hypocentral_km(epi, hypo.depth_km, site.elevation_km))

    def _residual(self, hypo: Hypocentre, entry: _Entry) -> float:
        return (
            entry.t - hypo.origin_s - self._distance(hypo, entry.site) / self.config.model.vp_km_s
        )

    def _locate(self, entries: list[_Entry]) -> Hypocentre:
        return self._locator.locate(
            [e.site.lat for e in entries],
            [e.site.lon for e in entries],
            [e.t for e in entries],
            [e.site.elevation_km for e in entries],
        )

    def _publish(self, active: _Active, change: EventChange, now: datetime) -> EventUpdate:
        active.snapshot = self._snapshot(active, now)
        return EventUpdate(change, active.snapshot)

    def _snapshot(self, active: _Active, now: datetime) -> Event:
        """The event as it stands at `now`: hypocentre, magnitude, city impact."""
        cfg = self.config
        hypo = active.hypo
        # `hypo` was located from the entries in this (insertion) order.
        located = list(active.entries.values())
        residual = {e.station_id: r for e, r in zip(located, hypo.residuals_s, strict=True)}
        entries = sorted(located, key=lambda e: (e.t, e.station_id))
        estimates = [
            magnitude_from_pd(e.pick.pd_cm, self._distance(hypo, e.site), cfg.pd_relation)
            for e in entries
            if e.pick.pd_cm > 0 and e.pick.window_s >= cfg.min_pd_window_s
        ]
        magnitude = network_magnitude(estimates)
        origin = from_us(round(hypo.origin_s * 1e6))
        return Event(
            event_id=active.event_id,
            detected_at=active.detected_at,
            updated_at=now,
            origin_time=origin,
            lat=hypo.lat,
            lon=hypo.lon,
            depth_km=hypo.depth_km,
            rms_s=hypo.rms_s,
            on_edge=hypo.on_edge,
            magnitude=magnitude,
            magnitude_stations=len(estimates),
            picks=tuple(e.pick for e in entries),
            residuals_s=tuple(residual[e.station_id] for e in entries),
            city=city_impact(
                origin,
                hypo.lat,
                hypo.lon,
                hypo.depth_km,
                magnitude=magnitude,
                now=now,
                city=cfg.city,
                model=cfg.model,
                gmpe=cfg.gmpe,
            ),
        )
