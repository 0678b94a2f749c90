from __future__ import annotations

import json
import re
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
import yaml

from provisioning import generate
from provisioning.grafana_model import DATASOURCES, PROMETHEUS, TIMESCALEDB
from tests.unit.provisioning.checks import (
    PROVISIONING,
    check_sql,
    dashboard_queries,
    datasource_refs,
    declared_metric_names,
    promql_metric_names,
    schema_for,
    shared_schema,
)

DASHBOARD_DIR = PROVISIONING / "grafana" / "dashboards"
DATASOURCE_FILE = PROVISIONING / "grafana" / "datasources" / "kuzet.yaml"
PROVIDER_FILE = DASHBOARD_DIR / "kuzet.yaml"
# Series Prometheus itself adds to every scrape: not declared by the daemon, always present.
PROMETHEUS_SERIES = {"up"}


def _committed() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARD_DIR.glob("*.json"))
    }


COMMITTED = _committed()
DASHBOARD_NAMES = sorted(COMMITTED)
QUERIES = [
    (name, where, uid, text)
    for name, dashboard in COMMITTED.items()
    for where, uid, text in dashboard_queries(dashboard)
]
SQL_QUERIES = [q for q in QUERIES if q[2] == TIMESCALEDB.uid]
PROM_QUERIES = [q for q in QUERIES if q[2] == PROMETHEUS.uid]


def _ids(queries: list[tuple[str, str, str, str]]) -> list[str]:
    return [f"{name}:{where}" for name, where, _, _ in queries]


def test_committed_dashboards_are_what_the_generator_makes() -> None:
    # the JSON in git is regenerated from code; a hand edit or a forgotten run shows up here
    fresh = generate.rendered()
    assert sorted(fresh) == DASHBOARD_NAMES, "run: python -m provisioning.generate"
    stale = [name for name, text in fresh.items() if (DASHBOARD_DIR / name).read_text() != text]
    assert stale == [], "stale dashboards, run: python -m provisioning.generate"


def test_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    # --check must fail on drift, or the up-to-date test above guards nothing in CI scripts
    generate.write_all(tmp_path)
    assert generate.stale_files(tmp_path) == []
    victim = tmp_path / DASHBOARD_NAMES[0]
    victim.write_text(victim.read_text().replace('"Kuzet', '"Edited', 1))
    (tmp_path / DASHBOARD_NAMES[1]).unlink()
    assert set(generate.stale_files(tmp_path)) == set(DASHBOARD_NAMES[:2])


def test_generation_is_deterministic() -> None:
    # two runs give byte-identical files, so the up-to-date check cannot flap
    assert generate.rendered() == generate.rendered()


def test_dashboard_uids_are_fixed_unique_and_name_their_files() -> None:
    # fixed uids keep links and bookmarks stable across re-provisioning
    uids = [d["uid"] for d in COMMITTED.values()]
    assert len(set(uids)) == len(uids) == 5
    for name, dashboard in COMMITTED.items():
        assert name == f"{dashboard['uid']}.json"
        assert re.fullmatch(r"kuzet-[a-z]+", dashboard["uid"])
        assert dashboard.get("id") is None, "a provisioned dashboard must not carry a db id"


def test_datasource_provisioning_has_the_uids_the_code_uses() -> None:
    # the generator's uids and the provisioned ones are one list, fixed in both places
    provisioned = yaml.safe_load(DATASOURCE_FILE.read_text())["datasources"]
    assert {(d["uid"], d["type"]) for d in provisioned} == {(d.uid, d.type) for d in DATASOURCES}


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_every_datasource_reference_is_a_provisioned_uid(name: str) -> None:
    # a reference by display name (dockprom's trap) or to an unknown uid breaks the panel
    known = {(d.uid, d.type) for d in DATASOURCES}
    refs = list(datasource_refs(COMMITTED[name]))
    assert refs, "no datasource references found"
    for where, ref in refs:
        assert isinstance(ref, dict), f"{where}: {ref!r} is not a {{type, uid}} reference"
        assert (ref.get("uid"), ref.get("type")) in known, f"{where}: {ref}"


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_panels_have_unique_ids_and_do_not_overlap(name: str) -> None:
    # overlapping grid positions make Grafana reflow the layout unpredictably
    panels = COMMITTED[name]["panels"]
    ids = [p["id"] for p in panels]
    assert len(set(ids)) == len(ids)
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_template_variables_used_in_queries_are_defined(name: str) -> None:
    # an undefined $var is sent to the database literally and fails there
    dashboard = COMMITTED[name]
    defined = {v["name"] for v in dashboard["templating"]["list"]}
    for where, _, text in dashboard_queries(dashboard):
        used = {v for v in re.findall(r"\$(\w+)", text) if not v.startswith("__")}
        assert used <= defined, f"{where}: {used - defined} not defined"


@pytest.mark.parametrize(("name", "where", "uid", "text"), SQL_QUERIES, ids=_ids(SQL_QUERIES))
def test_sql_uses_only_tables_and_columns_of_both_storage_modes(
    name: str, where: str, uid: str, text: str
) -> None:
    # a dashboard query must run on plain PostgreSQL and on TimescaleDB alike (spec §5)
    assert check_sql(text, shared_schema()) == []


def test_air_hourly_has_the_same_columns_in_both_modes() -> None:
    # the air dashboard reads air_hourly: a plain table in one mode, a continuous aggregate
    # in the other; a column missing from either breaks it in that mode only
    plain, timescale = schema_for("plain"), schema_for("timescale")
    assert plain["air_hourly"] == timescale["air_hourly"]
    assert {"bucket", "station_id", "pm25_avg", "pm10_avg", "no2_avg", "n"} <= plain["air_hourly"]


@pytest.mark.parametrize(("name", "where", "uid", "text"), PROM_QUERIES, ids=_ids(PROM_QUERIES))
def test_promql_uses_only_metrics_the_daemon_declares(
    name: str, where: str, uid: str, text: str
) -> None:
    # a renamed metric must break this test, not silently empty a panel
    names = promql_metric_names(text)
    assert names, f"no metric found in {text!r}"
    assert names <= declared_metric_names() | PROMETHEUS_SERIES


def test_every_dashboard_queries_something() -> None:
    # the dashboards of the DASH issue: SQL for the city data, Prometheus for the daemon
    kinds = {name: {uid for n, _, uid, _ in QUERIES if n == name} for name in DASHBOARD_NAMES}
    assert kinds["kuzet-health.json"] == {PROMETHEUS.uid, TIMESCALEDB.uid}  # + alert annotations
    assert kinds["kuzet-alerts.json"] == {PROMETHEUS.uid, TIMESCALEDB.uid}
    for name in ("kuzet-air.json", "kuzet-seismic.json", "kuzet-lakes.json"):
        assert kinds[name] == {TIMESCALEDB.uid}


def test_alerts_are_annotations_on_the_other_dashboards() -> None:
    # operators see alert periods on the charts they are looking at
    for name, dashboard in COMMITTED.items():
        sources = [a["target"]["rawSql"] for a in dashboard["annotations"]["list"]]
        assert any("FROM kuzet.alerts AS a" in sql for sql in sources), name


def test_dashboard_provider_points_at_the_mounted_folder() -> None:
    # compose mounts provisioning/grafana at /etc/grafana/provisioning
    provider = yaml.safe_load(PROVIDER_FILE.read_text())["providers"][0]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/etc/grafana/provisioning/dashboards"
    assert provider["allowUiUpdates"] is False


def test_datasource_credentials_come_from_the_environment() -> None:
    # no password in git: Grafana expands $VARIABLES in provisioning files
    for source in yaml.safe_load(DATASOURCE_FILE.read_text())["datasources"]:
        for key in ("url", "user"):
            if key in source:
                assert str(source[key]).startswith("$"), f"{source['uid']}.{key}"
        for value in source.get("secureJsonData", {}).values():
            assert str(value).startswith("$")
    postgres = next(
        s
        for s in yaml.safe_load(DATASOURCE_FILE.read_text())["datasources"]
        if s["uid"] == TIMESCALEDB.uid
    )
    assert postgres["jsonData"]["timescaledb"] is True


@pytest.mark.parametrize(("first", "second"), list(combinations(DASHBOARD_NAMES, 2)), ids=str)
def test_dashboard_titles_are_distinct(first: str, second: str) -> None:
    # Grafana refuses two provisioned dashboards with one title in one folder
    assert COMMITTED[first]["title"] != COMMITTED[second]["title"]
