"""The results table (Markdown, as printed and as pasted into docs/performance.md)."""

from __future__ import annotations

from typing import Any


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _cpu(row: dict[str, Any], group: str) -> str:
    value = row.get("cpu_s_per_1000", {}).get(group)
    return "–" if value is None else f"{value:.3f}"


def _throughput_lines(results: dict[str, Any]) -> list[str]:
    rows = results.get("throughput", [])
    ceilings = {r["stream"]: r.get("readings_s") for r in rows if r["row"].startswith("ceiling")}
    lines = [
        (
            "| # | consumer | payload | loss-free msg/s | readings/s | vs ceiling "
            "| CPU s / 1k readings (consumer) | (PostgreSQL) | steps |"
        ),
        "|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    number = {"ceiling (bare paho)": "1", "kuzet": "2", "naive bridge": "3"}
    for r in rows:
        ceiling = ceilings.get(r["stream"])
        ratio = f"{r['readings_s'] / ceiling:.2f}×" if r.get("readings_s") and ceiling else "–"
        bound = " (load generator bound)" if r.get("publisher_bound") else ""
        steps = ", ".join(
            f"{s['offered_msg_s']:g}{'✓' if s['ok'] else '✗'}" for s in r.get("steps", [])
        )
        lines.append(
            f"| {number.get(r['row'], '?')} | {r['row']} | {r['stream']} "
            f"| {_num(r.get('msg_s'))}{bound} | {_num(r.get('readings_s'))} | {ratio} "
            f"| {_cpu(r, 'consumer')} | {_cpu(r, 'postgres')} | {steps} |"
        )
    return lines


def _latency_lines(row: dict[str, Any]) -> list[str]:
    lines = [
        "| # | alert | n | p50 ms | p99 ms | max ms | conditions |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    bg = f"{row['background_msg_s']:g} msg/s air background"
    for name, what in (
        ("pm25_1h", "publish of the exceeding reading → webhook received"),
        ("earthquake", "publish of the packet completing the association → webhook received"),
    ):
        s = row.get(name, {})
        extra = f"; {s['missing']} missing" if s.get("missing") else ""
        lines.append(
            f"| 4 | `{name}` | {s.get('n', 0)} | {_num(s.get('p50_ms'), 1)} "
            f"| {_num(s.get('p99_ms'), 1)} | {_num(s.get('max_ms'), 1)} | {what}; {bg}{extra} |"
        )
    return lines


def _seismic_lines(row: dict[str, Any]) -> list[str]:
    cpu = row.get("cpu_ms_per_station_s", {})
    light, top = _num(cpu.get("light_stations")), _num(cpu.get("top_stations"))
    return [
        "| # | seismic (100 Hz, 1 s packets, live) | daemon | PostgreSQL |",
        "|---|---|---:|---:|",
        (
            f"| 5 | CPU ms per station-second, average at {light} stations "
            f"| {_num(cpu.get('light_daemon_ms'), 3)} | {_num(cpu.get('light_postgres_ms'), 3)} |"
        ),
        (
            f"| 5 | CPU ms per station-second, average at {top} stations "
            f"| {_num(cpu.get('top_daemon_ms'), 3)} | {_num(cpu.get('top_postgres_ms'), 3)} |"
        ),
        (
            "| 5 | CPU ms per station-second, marginal near capacity "
            f"| {_num(cpu.get('marginal_daemon_ms'), 3)} | |"
        ),
        (
            "| 5 | stations at one full core (extrapolated from the marginal cost) "
            f"| {_num(cpu.get('one_core_estimate_stations'))} | |"
        ),
        f"| 5 | largest number of 100 Hz stations sustained | {_num(row.get('max_stations'))} | |",
    ]


def _memory_lines(row: dict[str, Any]) -> list[str]:
    b, m = row["bundled"], row["stations_10k"]
    return [
        "| # | memory (RSS of the daemon) | idle after start | peak | after load | start-up s |",
        "|---|---|---:|---:|---:|---:|",
        (
            f"| 6 | bundled network (111 stations): {b['load']} | {b['rss_idle_mib']} MiB "
            f"| {b['rss_peak_mib']} MiB | {b['rss_after_mib']} MiB | {b['startup_s']} |"
        ),
        (
            f"| 6 | 10,000 generated stations ({m['load']}) | {m['rss_idle_mib']} MiB "
            f"| {m['rss_peak_mib']} MiB | {m['rss_after_mib']} MiB | {m['startup_s']} |"
        ),
        f"| 6 | per additional station | | | {row['kib_per_extra_station']} KiB | |",
    ]


def _shards_lines(rows: list[dict[str, Any]]) -> list[str]:
    one = next((r.get("msg_s") for r in rows if r.get("processes") == 1), None)
    lines = [
        (
            "| # | deployment (1 reading/msg) | loss-free msg/s | vs 1 process "
            "| CPU s / 1k readings (all shards) | (PostgreSQL) | steps |"
        ),
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        ratio = f"{r['msg_s'] / one:.2f}×" if r.get("msg_s") and one else "–"
        steps = ", ".join(
            f"{s['offered_msg_s']:g}{'✓' if s['ok'] else '✗'}" for s in r.get("steps", [])
        )
        lines.append(
            f"| 7 | {r['row']} | {_num(r.get('msg_s'))} | {ratio} | {_cpu(r, 'consumer')} "
            f"| {_cpu(r, 'postgres')} | {steps} |"
        )
    return lines


def markdown(results: dict[str, Any]) -> str:
    """All measured rows as Markdown tables, with the run's conditions."""
    out = [f"Run: {results['mode']} mode, {results['started']}, {results['elapsed_s']} s.", ""]
    if results.get("throughput"):
        out += [*_throughput_lines(results), ""]
    if results.get("latency"):
        out += [*_latency_lines(results["latency"]), ""]
    if results.get("seismic"):
        out += [*_seismic_lines(results["seismic"]), ""]
    if results.get("memory"):
        out += [*_memory_lines(results["memory"]), ""]
    if results.get("shards"):
        out += [*_shards_lines(results["shards"]), ""]
    for p in results.get("profile", []):
        if "self_pct" not in p:
            out += [f"Profile skipped: {p.get('skipped')}", ""]
            continue
        out += [
            f"Profile: {p['rate_msg_s']:g} msg/s of {p['batch']} reading(s)/msg for "
            f"{p['seconds']:g} s, {p['samples']} samples; self time by component: "
            + ", ".join(f"{name} {pct}%" for name, pct in p["component_self_pct"]),
            "",
        ]
    c = results["conditions"]
    out.append("Conditions: " + "; ".join(f"{k}: {v}" for k, v in c.items()))
    return "\n".join(out)
