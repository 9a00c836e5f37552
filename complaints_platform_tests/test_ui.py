"""The documented UI command starts the real webserver and daemon on the data dir's instance."""

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from complaints_platform.simulate.servers import free_port

pytestmark = pytest.mark.integration

QUERY = """
{
  assetNodes { assetKey { path } groupName hasAssetChecks }
  instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } }
  repositoriesOrError { ... on RepositoryConnection { nodes { sensors { name sensorState { status } } } } }
}
"""


def test_ui_command_serves_the_asset_graph_and_runs_the_daemon(data_dir):
    port = free_port()
    log = open(data_dir / "ui.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "complaints_platform.cli", "ui", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, (data_dir / "ui.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "webserver did not answer in 180 s"
            time.sleep(1)
        # The daemon reports a heartbeat shortly after start.
        while True:
            answer = httpx.post(f"{url}/graphql", json={"query": QUERY}, timeout=30).json()
            assert answer.get("data"), answer
            data = answer["data"]
            statuses = {d["daemonType"]: d["healthy"] for d in data["instance"]["daemonHealth"]["allDaemonStatuses"] if d["required"]}
            if statuses.get("SENSOR") and statuses.get("SCHEDULER"):
                break
            assert time.monotonic() < deadline + 60, f"daemon not healthy: {statuses}"
            time.sleep(2)
        keys = {"/".join(n["assetKey"]["path"]) for n in data["assetNodes"]}
        assert {"social_media_raw", "sms_raw", "call_center_raw", "web_forms_raw", "complaints_cleaned",
                "category_model", "complaints_categorised", "fct_complaints", "mart_complaints_daily",
                "analytics_duckdb"} <= keys
        sensors = {
            s["name"]: s["sensorState"]["status"]
            for repo in data["repositoriesOrError"]["nodes"]
            for s in repo["sensors"]
        }
        assert sensors == {
            "social_media_landing_sensor": "RUNNING",
            "call_center_drop_sensor": "RUNNING",
            "duplicate_review_sensor": "RUNNING",
            "automation_sensor": "RUNNING",
        }
    finally:
        _stop_group(proc)
        log.close()


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM the whole process group (webserver, daemon, code servers); SIGKILL what lingers."""
    os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        proc.poll()  # reap the leader so a zombie does not count as alive
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
