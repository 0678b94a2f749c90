from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.provisioning.checks import (
    PROVISIONING,
    declared_metric_names,
    promql_metric_names,
)

PROMETHEUS_DIR = PROVISIONING / "prometheus"
CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES = PROMETHEUS_DIR / "kuzet.rules.yml"
RULE_TESTS = PROMETHEUS_DIR / "tests" / "kuzet.rules.test.yml"
RUNBOOK = PROMETHEUS_DIR / "RUNBOOK.md"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not on PATH (Debian: apt-get install prometheus)"
)


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


RULE_LIST = _rules()
RULE_NAMES = [rule["alert"] for rule in RULE_LIST]


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("rule", RULE_LIST, ids=RULE_NAMES)
def test_rule_uses_only_declared_metrics(rule: dict[str, Any]) -> None:
    # a metric renamed in collector/metrics.py must not leave a rule that can never fire
    names = promql_metric_names(rule["expr"])
    assert names
    assert names <= declared_metric_names() | {"up"}


@pytest.mark.parametrize("rule", RULE_LIST, ids=RULE_NAMES)
def test_rule_has_severity_for_and_a_runbook_section(rule: dict[str, Any]) -> None:
    # every page says how bad it is and where the instructions are
    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    assert "for" in rule
    assert {"summary", "description", "runbook_url"} <= rule["annotations"].keys()
    anchor = rule["annotations"]["runbook_url"].removeprefix("RUNBOOK.md#")
    headings = re.findall(r"^## (\w+)$", RUNBOOK.read_text(), flags=re.MULTILINE)
    assert anchor == rule["alert"].lower()
    assert rule["alert"] in headings


def test_rules_cover_the_daemon_health_cases() -> None:
    # the DASH issue's list: down, not ready, ingest stalled, rejects, notifications, DB latency
    for name in (
        "KuzetDown",
        "KuzetMqttDisconnected",
        "KuzetDatabaseDown",
        "KuzetIngestStalled",
        "KuzetRejectsSurging",
        "KuzetNotificationsUndeliverable",
        "KuzetDbWriteLatencyHigh",
    ):
        assert name in RULE_NAMES
    assert len(set(RULE_NAMES)) == len(RULE_NAMES)


def test_scrape_config_has_the_kuzet_job_and_loads_the_rules() -> None:
    # the rules and the health dashboard select job="kuzet"
    config = yaml.safe_load(CONFIG.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["kuzet"]["metrics_path"] == "/metrics"
    assert jobs["kuzet"]["static_configs"][0]["targets"] == ["kuzet:8321"]
    assert config["rule_files"] == [RULES.name]


@needs_promtool
@pytest.mark.parametrize(
    ("args", "cwd"),
    [
        # the scrape configuration, and the rule file it names
        (("check", "config", CONFIG.name), PROMETHEUS_DIR),
        # the rule file on its own
        (("check", "rules", RULES.name), PROMETHEUS_DIR),
        # the rules fire (and stay quiet) on the series the unit tests describe
        (("test", "rules", RULE_TESTS.name), RULE_TESTS.parent),
    ],
    ids=["check-config", "check-rules", "test-rules"],
)
def test_promtool(args: tuple[str, ...], cwd: Path) -> None:
    result = _promtool(*args, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
