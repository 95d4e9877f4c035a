"""The bridge's evmon_project_info: each project's owner and tags from evmon.project_owners, scraped over HTTP."""

from __future__ import annotations

from pathlib import Path

from evmon.bridge import owners
from evmon.bridge.metrics import bridge_registry
from evmon.bridge.sync import Bridge
from evmon.config.loader import load_config
from evmon.processes import free_port
from evmon.services.exporter import MetricsAddress, MetricsServer
from evmon.storage.files import FilesWorkspace
from tests.conftest import write_config
from tests.prometheus.conftest import CREDIT, TAXI
from tests.prometheus.tools import of_metric, samples, scrape

TEAMS = {"risk": {"webhook_env": "RISK_WEBHOOK_URL"}, "mobility": {"slack_env": "MOBILITY_SLACK_URL"}}


def test_each_projects_owner_and_tags_and_a_change_at_the_next_sync(
    tmp_path: Path, demo_dir: Path, pg_dsn: str
) -> None:
    path = write_config(
        tmp_path / "projects.yaml",
        demo_dir,
        {"teams": TEAMS},
        credit_scorecard={"owner": "risk", "tags": {"tier": "critical", "domain": "lending"}},
        taxi_duration={"owner": None, "tags": {"domain": "mobility"}},
    )
    config = load_config(path)
    bridge = Bridge(FilesWorkspace(tmp_path / "ws"), pg_dsn, settle_s=0.0, owners=owners.from_config_file(config))
    registry, counters, state = bridge_registry(config, bridge)
    with MetricsServer(registry, MetricsAddress("127.0.0.1", free_port())) as server:
        counters.observe(bridge.sync_once())
        found = of_metric(samples(scrape(server.address.url)), "evmon_project_info")
        # every series has every tag name; '' where a project has none (Prometheus stores no label there)
        assert found == {
            (("domain", "lending"), ("project", CREDIT), ("team", "risk"), ("tier", "critical")): 1.0,
            (("domain", "mobility"), ("project", TAXI), ("team", ""), ("tier", "")): 1.0,
        }
        path.write_text(path.read_text().replace("owner: risk", "owner: mobility"))
        counters.observe(bridge.sync_once())
        changed = of_metric(samples(scrape(server.address.url)), "evmon_project_info")
    state.close()
    bridge.close()
    assert (("domain", "lending"), ("project", CREDIT), ("team", "mobility"), ("tier", "critical")) in changed
