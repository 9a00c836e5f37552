"""Shared fixtures: an isolated data directory and Dagster instance per test that needs one."""

import os
from pathlib import Path

import pytest

# Tests never reach the network and never send dbt telemetry.
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "true")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """A fresh data directory with demo secrets, set as COMPLAINTS_DATA_DIR and DAGSTER_HOME."""
    from complaints_platform import runtime

    root = tmp_path / "data"
    root.mkdir()
    for name in ("COMPLAINTS_WEBHOOK_SECRET", "COMPLAINTS_PII_KEY", "COMPLAINTS_SMS_API_TOKEN", "COMPLAINTS_SMS_API_URL"):
        monkeypatch.delenv(name, raising=False)
    runtime.write_demo_secrets(root)
    monkeypatch.setenv("COMPLAINTS_DATA_DIR", str(root))
    monkeypatch.setenv("DAGSTER_HOME", str(runtime.dagster_home(root)))
    runtime.prepare_environment(root)
    return root


@pytest.fixture
def column_path(monkeypatch):
    """``column_path(module, name)``: spies on a parser's column path (a function that returns the
    rows as a frame, or None to leave them to the row-by-row rules) and returns the list of whether
    each call took it; ``column_path(module, name, off=True)`` turns it off, so that only the row
    rules run."""

    def spy(module, name: str, off: bool = False) -> list[bool]:
        real, taken = getattr(module, name), []

        def spied(*args):
            frame = None if off else real(*args)
            taken.append(frame is not None)
            return frame

        monkeypatch.setattr(module, name, spied)
        return taken

    return spy
