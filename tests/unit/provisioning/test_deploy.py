from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.config import load_settings
from tests.unit.provisioning.checks import PROVISIONING, ROOT

DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
K8S = DEPLOY / "k8s"
UNIT = DEPLOY / "kuzet.service"
ENV_EXAMPLE = DEPLOY / ".env.example"
DATASOURCES = PROVISIONING / "grafana" / "datasources" / "kuzet.yaml"
HTTP_PORT = 8321


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return compose


SERVICES: dict[str, Any] = _compose()["services"]


def _k8s_docs() -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted(K8S.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc is not None
    ]


K8S_DOCS = _k8s_docs()


def _kind(kind: str, name: str) -> dict[str, Any]:
    return next(d for d in K8S_DOCS if d["kind"] == kind and d["metadata"]["name"] == name)


def _kuzet_container() -> dict[str, Any]:
    pod = _kind("StatefulSet", "kuzet")["spec"]["template"]["spec"]
    return next(c for c in pod["containers"] if c["name"] == "kuzet")


def _dockerfile_final_stage() -> list[str]:
    lines = DOCKERFILE.read_text().splitlines()
    last_from = max(i for i, line in enumerate(lines) if line.startswith("FROM "))
    return lines[last_from:]


@pytest.mark.parametrize(
    ("service", "pattern"),
    [
        # TimescaleDB 2.x on PostgreSQL 16 or 17
        ("timescaledb", r"timescale/timescaledb:2\.\d+\.\d+-pg1[67]"),
        # Mosquitto 2.x
        ("mosquitto", r"eclipse-mosquitto:2\.\d+\.\d+"),
        # Grafana 11 or 12
        ("grafana", r"grafana/grafana:1[12]\.\d+\.\d+"),
        # Prometheus 3.x
        ("prometheus", r"prom/prometheus:v3\.\d+\.\d+"),
        # the daemon, built from deploy/Dockerfile and tagged with its version
        ("kuzet", r"kuzet:\d+\.\d+\.\d+"),
    ],
)
def test_compose_images_are_pinned(service: str, pattern: str) -> None:
    assert re.fullmatch(pattern, SERVICES[service]["image"])


def test_no_image_anywhere_is_unpinned() -> None:
    # `latest` or no tag means an upgrade nobody decided on
    base_images = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    kustomize = yaml.safe_load((K8S / "kustomization.yaml").read_text())["images"]
    images = [s["image"] for s in SERVICES.values()] + base_images
    images += [f"{i['newName']}:{i['newTag']}" for i in kustomize]
    assert len(images) == len(SERVICES) + 1 + len(kustomize)
    for image in images:
        name, _, tag = image.rpartition(":")
        assert name and re.fullmatch(r"v?\d+(\.\d+)+[\w.-]*", tag), image


def test_kuzet_container_runs_as_a_non_root_user() -> None:
    # the image's last USER, compose's user and Kubernetes' securityContext all say non-root
    users = [line.split()[1] for line in _dockerfile_final_stage() if line.startswith("USER ")]
    assert users, "the final stage sets no USER: it would run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) > 0
    assert SERVICES["kuzet"]["user"].split(":")[0] == uid
    pod = _kind("StatefulSet", "kuzet")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == int(uid)
    context = _kuzet_container()["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]


def test_compose_builds_kuzet_from_the_dockerfile_with_readiness_healthcheck() -> None:
    # compose waits for /readyz; the image itself checks liveness with /healthz
    kuzet = SERVICES["kuzet"]
    build = kuzet["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    assert f"127.0.0.1:{HTTP_PORT}/readyz" in " ".join(kuzet["healthcheck"]["test"])
    healthcheck = [line for line in _dockerfile_final_stage() if "HEALTHCHECK" in line]
    assert healthcheck
    assert f"127.0.0.1:{HTTP_PORT}/healthz" in DOCKERFILE.read_text()
    assert kuzet["environment"]["KUZET_HTTP_LISTEN"] == f"0.0.0.0:{HTTP_PORT}"
    for dependency in ("timescaledb", "mosquitto"):
        assert kuzet["depends_on"][dependency]["condition"] == "service_healthy"


def test_every_compose_service_has_a_healthcheck_and_restart_policy() -> None:
    for name, service in SERVICES.items():
        assert service.get("healthcheck", {}).get("test"), name
        assert service.get("restart") == "unless-stopped", name


def test_dockerfile_copies_only_what_exists() -> None:
    # a COPY of a missing path fails the build, which nothing else here would notice
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source


def test_compose_mounts_exist() -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source}"


def test_compose_variables_are_documented_in_the_env_example() -> None:
    # every ${VAR} compose reads is explained in .env.example
    used = set(re.findall(r"\$\{(\w+)", COMPOSE.read_text()))
    documented = set(re.findall(r"^(\w+)=", ENV_EXAMPLE.read_text(), re.MULTILINE))
    assert used == documented


def test_grafana_gets_every_variable_the_datasources_need() -> None:
    # Grafana expands $VAR in provisioning; a missing one becomes an empty string silently
    def strings(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [s for value in node.values() for s in strings(value)]
        if isinstance(node, list):
            return [s for value in node for s in strings(value)]
        return [str(node)]

    provisioned = yaml.safe_load(DATASOURCES.read_text())
    needed = {v for text in strings(provisioned) for v in re.findall(r"\$(\w+)", text)}
    assert needed
    assert needed <= SERVICES["grafana"]["environment"].keys()
    assert "../provisioning/grafana:/etc/grafana/provisioning:ro" in SERVICES["grafana"]["volumes"]


def _compose_env(service: str) -> dict[str, str]:
    # ${VAR:-default} → its default, ${VAR:?message} → a stand-in secret
    def value(match: re.Match[str]) -> str:
        return match["default"] if match["default"] is not None else "secret"

    env = SERVICES[service]["environment"]
    pattern = r"\$\{\w+(?::-(?P<default>[^}]*)|:\?[^}]*)?\}"
    return {k: re.sub(pattern, value, str(v)) for k, v in env.items()}


@pytest.mark.parametrize(
    ("toml_text", "env"),
    [
        # compose: the example file with the service's environment
        (DEPLOY.joinpath("kuzet.example.toml").read_text(), _compose_env("kuzet")),
        # Kubernetes: the ConfigMap's file, secrets as the StatefulSet passes them
        (
            _kind("ConfigMap", "kuzet-config")["data"]["kuzet.toml"],
            {
                "KUZET_DATABASE_URL": "postgresql://kuzet:secret@db/kuzet",
                "KUZET_MQTT_URL": "mqtt://mqtt:1883",
                "KUZET_HTTP_LISTEN": f"0.0.0.0:{HTTP_PORT}",
            },
        ),
    ],
    ids=["compose", "k8s"],
)
def test_deployed_configuration_is_valid(
    tmp_path: Path, toml_text: str, env: dict[str, str]
) -> None:
    # the daemon would exit with status 2 on start with a config it rejects
    path = tmp_path / "kuzet.toml"
    path.write_text(toml_text)
    tomllib.loads(toml_text)
    settings = load_settings(path, {k: v for k, v in env.items() if k != "KUZET_CONFIG"})
    assert settings.http.listen == f"0.0.0.0:{HTTP_PORT}"


def test_k8s_probes_resources_and_secrets() -> None:
    container = _kuzet_container()
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["ports"][0]["containerPort"] == HTTP_PORT
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= container["resources"][kind].keys()
    secrets = {
        e["name"]: e["valueFrom"]["secretKeyRef"]["name"]
        for e in container["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert secrets.keys() >= {"KUZET_DATABASE_URL", "KUZET_MQTT_URL", "KUZET_API_TOKEN"}
    assert set(secrets.values()) == {"kuzet-secrets"}
    plain = {e["name"]: e.get("value") for e in container["env"]}
    assert "KUZET_DATABASE_URL" not in {k for k, v in plain.items() if v}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["config"]["readOnly"] is True


def test_kustomization_lists_existing_files_and_not_the_secret_example() -> None:
    # the example Secret holds placeholders: applying it would overwrite the real one
    resources = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    assert all((K8S / r).is_file() for r in resources)
    assert "secret.example.yaml" not in resources


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not on PATH")
def test_kustomize_builds() -> None:
    result = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(result.stdout)]
    assert sorted(kinds) == [
        "ConfigMap",
        "Namespace",
        "PodDisruptionBudget",
        "Service",
        "Service",
        "StatefulSet",
    ]


def _unit() -> dict[str, list[str]]:
    options: dict[str, list[str]] = {}
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            options.setdefault(key, []).append(value)
    return options


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        # started once the binary runs (no sd_notify support in the daemon)
        ("Type", "exec"),
        # crashes restart; the exit status 2 of a bad config does not
        ("Restart", "on-failure"),
        ("RestartPreventExitStatus", "2"),
        # secrets from a root-owned file, not from the unit
        ("EnvironmentFile", "/etc/kuzet/kuzet.env"),
        ("User", "kuzet"),
        # hardening
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("CapabilityBoundingSet", ""),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("MemoryDenyWriteExecute", "yes"),
    ],
)
def test_systemd_unit(key: str, expected: str) -> None:
    assert _unit()[key] == [expected]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not on PATH")
def test_systemd_unit_verifies(tmp_path: Path) -> None:
    # unknown or misplaced directives are reported by systemd itself; the binary and the
    # environment file do not exist here, so they are swapped for ones that do
    text = UNIT.read_text().replace("/opt/kuzet/bin/kuzet", "/bin/true")
    text = text.replace("EnvironmentFile=/", "EnvironmentFile=-/")
    unit = tmp_path / "kuzet.service"
    unit.write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Unknown" not in result.stderr, result.stderr
