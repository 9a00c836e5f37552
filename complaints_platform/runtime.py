"""The Dagster instance and environment the CLI commands share (demo, UI, tests)."""

from __future__ import annotations

import base64
import os
import secrets
import sys
from pathlib import Path

import dagster as dg

from complaints_platform.lib.settings import ENV_FILE_NAME, read_env_file
from complaints_platform.simulate.generator import BRAND_HANDLE

REPO_ROOT = Path(__file__).resolve().parents[1]
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"

DAGSTER_YAML = """\
# Written by the complaints CLI. SQLite storage under this folder (one machine; use PostgreSQL
# storage beyond that). Every asset that writes warehouse.duckdb is in the pool duckdb_warehouse;
# pools default to one op at a time, which is DuckDB's one-writer rule. Queued runs of one
# partition go one at a time, oldest first: a sensor's second run of a window (more events landed)
# starts after the first has written its file, so the newer file is the one that stays.
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
  runs:
    max_concurrent_runs: 4
    tag_concurrency_limits:
      - key: "dagster/partition"
        value:
          applyLimitPerUniqueValue: true
        limit: 1
"""


def dagster_home(data_dir: Path) -> Path:
    return data_dir / "dagster_home"


def prepare_environment(data_dir: Path) -> dict[str, str]:
    """Point this process (and children) at the data dir and its Dagster instance; return the env."""
    data_dir = data_dir.resolve()
    home = dagster_home(data_dir)
    home.mkdir(parents=True, exist_ok=True)
    yaml_path = home / "dagster.yaml"
    if not yaml_path.exists() or yaml_path.read_text() != DAGSTER_YAML:
        yaml_path.write_text(DAGSTER_YAML)
    # Child processes (dagster dev, dbt) find this environment's executables first.
    bin_dir = str(Path(sys.executable).parent)
    if not os.environ.get("PATH", "").startswith(bin_dir + os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    os.environ["COMPLAINTS_DATA_DIR"] = str(data_dir)
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "true")
    return dict(os.environ)


def write_demo_secrets(data_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Generate the demo's secrets into <data dir>/platform.env (owner-only) unless present."""
    path = data_dir / ENV_FILE_NAME
    values = read_env_file(path)
    values.setdefault("COMPLAINTS_WEBHOOK_SECRET", "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode())
    values.setdefault("COMPLAINTS_PII_KEY", secrets.token_hex(32))
    values.setdefault("COMPLAINTS_SMS_API_TOKEN", secrets.token_urlsafe(24))
    values.setdefault("COMPLAINTS_BRAND_HANDLES", BRAND_HANDLE)  # the demo brand's replies are never merged
    values.update(extra or {})
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Demo secrets, generated. A deployment sets these as environment variables instead.\n"
        + "".join(f"{k}={v}\n" for k, v in sorted(values.items()))
    )
    os.chmod(path, 0o600)
    return values


def run_assets(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    selection: list[str],
    partition_range: tuple[str, str] | None = None,
    tags: dict[str, str] | None = None,
    log_level: str = "WARNING",
) -> dg.ExecuteInProcessResult:
    """One in-process run of ``selection`` (a partition range runs as one run, as backfills do)."""
    range_tags = {RANGE_START: partition_range[0], RANGE_END: partition_range[1]} if partition_range else {}
    return defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey(k) for k in selection],
        tags={**range_tags, **(tags or {})},
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        raise_on_error=False,
    )


def warehouse_keys(defs: dg.Definitions) -> list[str]:
    """The dbt models' asset keys (the warehouse: one dbt build)."""
    graph = defs.resolve_asset_graph()
    return sorted(k.to_user_string() for k in graph.get_all_asset_keys() if "dbt" in graph.get(k).kinds)
