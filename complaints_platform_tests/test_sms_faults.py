"""The SMS client against a misbehaving provider, over real HTTP: retries, backoff, Retry-After, a
bounded budget with a clear failure, and a window that resumes from its checkpoint."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import dagster as dg
import httpx
import polars as pl
import pytest

from complaints_platform.defs.resources import LakeResource, SmsApiResource, resources_from_settings
from complaints_platform.defs.sources.sms import sms_raw
from complaints_platform.lib import lake
from complaints_platform.lib import sms as sms_lib
from complaints_platform.lib.settings import MissingSetting, Settings
from complaints_platform.lib.sms import (
    CHECKPOINT_NAME,
    SmsApiGaveUp,
    SmsPageNotJson,
    SmsPullFailed,
    SmsRetryPolicy,
    fetch_sms_window,
    iter_sms_pages,
    pull_sms_window,
    retry_after_seconds,
)
from complaints_platform.simulate.servers import cli_server, free_port, serve_in_thread
from complaints_platform.simulate.sms_provider import (
    Fault,
    FaultPlan,
    create_app,
    decode_cursor,
)

TOKEN = "test-token-faults"
W1 = datetime(2026, 11, 21, 14, 0, tzinfo=timezone.utc)
W2 = W1 + timedelta(minutes=15)
PAGE_SIZE = 4
# Fast enough for tests, slow enough to be real backoff: 50 ms doubling, at most 200 ms a wait.
FAST = SmsRetryPolicy(max_total_seconds=3.0, base_backoff_seconds=0.05, max_backoff_seconds=0.2)
SHORT = SmsRetryPolicy(max_total_seconds=0.5, base_backoff_seconds=0.05, max_backoff_seconds=0.2)


def _messages(window_start: datetime, count: int, prefix: str) -> list[dict]:
    """Well-formed messages 40 s apart, each from its own phone with its own words."""
    return [
        {
            "id": f"{prefix}{k:02d}",
            "from": f"+4477009{k:05d}",
            "to": "+447800000100",
            "body": f"complaint number {k} from window {prefix}: " + "lorem ipsum " * k,
            "received_at": f"{window_start + timedelta(seconds=40 * k):%Y-%m-%dT%H:%M:%S}Z",
            "segments": 1,
        }
        for k in range(count)
    ]


W1_MESSAGES = _messages(W1, 10, "A")  # pages of 4: 4, 4, 2
W2_MESSAGES = _messages(W2, 6, "B")  # 4, 2
MESSAGES = W1_MESSAGES + W2_MESSAGES
W1_IDS = [m["id"] for m in W1_MESSAGES]


@contextmanager
def running(app) -> Iterator[str]:
    """The app on a free loopback port, served by a real uvicorn in a background thread."""
    with serve_in_thread(app, log_level="critical") as url:
        yield url


@contextmanager
def provider(*faults: Fault, duplicate_pages=()) -> Iterator[tuple[str, list[dict]]]:
    """The simulator with ``faults``, and its request log."""
    app = create_app(MESSAGES, TOKEN, faults=FaultPlan(faults, frozenset(duplicate_pages)))
    with running(app) as url:
        yield url, app.state.requests


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def _ids(pages) -> list[str]:
    return [item["id"] for page in pages for item in json.loads(page.body)["data"]]


def _asked(requests: list[dict]) -> list[tuple[int, int]]:
    """(page, status) of each request, in order."""
    return [(r["page"], r["status"]) for r in requests]


# --- each fault, against the real client ------------------------------------------------------


def test_no_plan_serves_as_before_and_logs_each_request(client):
    with provider() as (url, requests):
        pages = fetch_sms_window(client, url, TOKEN, W1, W2, PAGE_SIZE)
        assert client.get(f"{url}/_simulator/requests").json() == requests
    assert _ids(pages) == W1_IDS
    assert _asked(requests) == [(1, 200), (2, 200), (3, 200)]
    assert [r["cursor"] for r in requests][0] is None
    assert [decode_cursor(r["cursor"]) for r in requests[1:]] == [4, 8]
    assert {r["fault"] for r in requests} == {None}


def test_a_5xx_burst_is_ridden_out(client):
    with provider(Fault("status", page=2, times=3, status=503)) as (url, requests):
        pages = fetch_sms_window(client, url, TOKEN, W1, W2, PAGE_SIZE, retry=FAST)
    assert _ids(pages) == W1_IDS  # every message once
    assert _asked(requests) == [(1, 200), (2, 503), (2, 503), (2, 503), (2, 200), (3, 200)]
    assert [page.number for page in pages] == [1, 2, 3]


def test_each_retry_is_reported_with_the_error_and_the_wait(client):
    retries: list[str] = []
    with provider(Fault("status", page=1, times=2, status=502)) as (url, _):
        pages = list(iter_sms_pages(client, url, TOKEN, W1, W2, PAGE_SIZE, retry=FAST, on_retry=retries.append))
    assert _ids(pages) == W1_IDS
    assert len(retries) == 2
    assert retries[0].startswith("SMS API window 2026-11-21T14:00:00Z..2026-11-21T14:15:00Z, page 1: HTTP 502 Bad Gateway; attempt 2 in ")


def test_429_waits_as_long_as_retry_after_says(client):
    with provider(Fault("status", page=2, status=429, retry_after="1")) as (url, requests):
        started = time.monotonic()
        pages = fetch_sms_window(client, url, TOKEN, W1, W2, PAGE_SIZE, retry=FAST)
        took = time.monotonic() - started
    assert _ids(pages) == W1_IDS
    assert _asked(requests) == [(1, 200), (2, 429), (2, 200), (3, 200)]
    # The backoff alone would have waited 0.05-0.1 s; the provider asked for a second.
    assert 1.0 <= took < 2.5


def test_a_retry_after_beyond_the_budget_fails_at_once_and_says_why(client):
    with provider(Fault("status", page=1, status=429, retry_after="60", times=None)) as (url, requests):
        started = time.monotonic()
        with pytest.raises(SmsApiGaveUp) as caught:
            fetch_sms_window(client, url, TOKEN, W1, W2, PAGE_SIZE, retry=FAST)
    assert time.monotonic() - started < 1.0  # did not sleep a minute into a 3 s budget
    assert len(requests) == 1
    message = str(caught.value)
    assert "page 1: gave up after 1 attempt over" in message
    assert "HTTP 429 Too Many Requests (Retry-After: 60)" in message
    assert "waiting the 60 s it asked for would pass the budget" in message


def test_retry_after_in_both_forms():
    now = datetime(2026, 11, 21, 14, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("7", now) == 7.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90.0
    assert retry_after_seconds("Sat, 21 Nov 2026 13:00:00 GMT", now) == 0.0  # in the past: now
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None
    assert retry_after_seconds("-3", now) is None


def test_a_slow_page_within_the_timeout_is_just_slow(client):
    with provider(Fault("delay", page=2, seconds=0.3)) as (url, requests):
        pages = fetch_sms_window(client, url, TOKEN, W1, W2, PAGE_SIZE, retry=FAST)
    assert _ids(pages) == W1_IDS
    assert _asked(requests) == [(1, 200), (2, 200), (3, 200)]


def test_a_page_slower_than_the_timeout_is_asked_again():
    with provider(Fault("delay", page=2, seconds=0.8)) as (url, _), httpx.Client(timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            fetch_sms_window(client, url, TOKEN, W1, W2, PAGE_SIZE)  # no policy: one try
    with provider(Fault("delay", page=2, seconds=0.8)) as (url, requests), httpx.Client(timeout=0.2) as client:
        pages = fetch_sms_window(client, url, TOKEN, W1, W2, PAGE_SIZE, retry=FAST)
    assert _ids(pages) == W1_IDS
    assert [r["page"] for r in requests] == [1, 2, 2, 3]
    assert requests[1]["fault"] == "delay"


def test_a_truncated_200_is_asked_again(client):
    with provider(Fault("truncate", page=2)) as (url, requests):
        with pytest.raises(SmsPageNotJson, match="page 2 is not JSON"):
            fetch_sms_window(client, url, TOKEN, W1, W2, PAGE_SIZE)
    with provider(Fault("truncate", page=2, times=2)) as (url, requests):
        pages = fetch_sms_window(client, url, TOKEN, W1, W2, PAGE_SIZE, retry=FAST)
    assert _ids(pages) == W1_IDS
    assert [(r["page"], r["fault"]) for r in requests] == [(1, None), (2, "truncate"), (2, "truncate"), (2, None), (3, None)]


def test_a_connection_dropped_mid_body_is_asked_again(client):
    with provider(Fault("drop", page=3)) as (url, _):
        with pytest.raises(httpx.RemoteProtocolError):
            fetch_sms_window(client, url, TOKEN, W1, W2, PAGE_SIZE)
    with provider(Fault("drop", page=3)) as (url, requests):
        pages = fetch_sms_window(client, url, TOKEN, W1, W2, PAGE_SIZE, retry=FAST)
    assert _ids(pages) == W1_IDS
    assert [r["page"] for r in requests] == [1, 2, 3, 3]


def test_no_server_at_all_gives_up_within_the_budget(client):
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(SmsApiGaveUp) as caught:
        fetch_sms_window(client, url, TOKEN, W1, W2, PAGE_SIZE, retry=SHORT)
    took = time.monotonic() - started
    assert took < SHORT.max_total_seconds + 0.5
    assert caught.value.attempts >= 3 and caught.value.page == 1
    assert "ConnectError" in str(caught.value) and "retry budget 0.5 s" in str(caught.value)


def test_a_bad_token_is_not_retried(client):
    with provider() as (url, requests):
        with pytest.raises(httpx.HTTPStatusError) as caught:
            fetch_sms_window(client, url, "wrong", W1, W2, PAGE_SIZE, retry=FAST)
    assert caught.value.response.status_code == 401
    assert len(requests) == 1


def test_duplicate_items_across_pages(client):
    with provider(duplicate_pages=[2]) as (url, _):
        pages = fetch_sms_window(client, url, TOKEN, W1, W2, PAGE_SIZE)
    ids = _ids(pages)
    assert ids == W1_IDS[:4] + W1_IDS[3:]  # page 2 starts with page 1's last item again
    assert len(ids) == 11 and sorted(set(ids)) == W1_IDS


def test_fault_plans_from_json(tmp_path):
    path = tmp_path / "faults.json"
    path.write_text(json.dumps({
        "faults": [{"kind": "status", "page": 2, "times": 3}, {"kind": "delay", "request": 1, "seconds": 0.5}],
        "duplicate_pages": [3],
    }))
    plan = FaultPlan.load(path)
    assert plan.faults == (Fault("status", page=2, times=3), Fault("delay", request=1, seconds=0.5))
    assert plan.duplicate_pages == {3}
    with pytest.raises(ValueError, match="unknown fault field"):
        FaultPlan.from_dict({"faults": [{"kind": "status", "pages": 2}]})
    with pytest.raises(ValueError, match="fault kind"):
        Fault("explode")


@pytest.mark.integration
def test_cli_simulator_reads_a_fault_file(data_dir, tmp_path):
    messages = tmp_path / "messages.jsonl"
    messages.write_text("".join(json.dumps(m) + "\n" for m in MESSAGES))
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"faults": [{"kind": "status", "page": 1, "times": 2, "status": 500}]}))
    token = Settings.from_env().sms_api_token
    port = free_port()
    args = ["sms-simulator", "--messages", str(messages), "--faults", str(faults)]
    with cli_server(args, port, tmp_path / "sms.log") as url, httpx.Client(timeout=5) as client:
        pages = fetch_sms_window(client, url, token, W1, W2, PAGE_SIZE, retry=FAST)
        log = client.get(f"{url}/_simulator/requests").json()
    assert _ids(pages) == W1_IDS
    assert _asked(log) == [(1, 500), (1, 500), (1, 200), (2, 200), (3, 200)]


# --- landing page by page, and resuming -------------------------------------------------------


def _folder(root, start=W1):
    return lake.landing_window_dir(root, "sms", start)


def test_each_page_is_landed_with_a_checkpoint_and_a_complete_window_is_not_asked_again(tmp_path, client):
    folder = _folder(tmp_path)
    with provider() as (url, requests):
        first = pull_sms_window(client, url, TOKEN, W1, W2, folder, PAGE_SIZE, retry=FAST)
        again = pull_sms_window(client, url, TOKEN, W1, W2, folder, PAGE_SIZE, retry=FAST)
        asked_before_refetch = len(requests)
        refetched = pull_sms_window(client, url, TOKEN, W1, W2, folder, PAGE_SIZE, retry=FAST, refetch=True)
    assert (first.fetched, first.reused) == (3, 0)
    assert (again.fetched, again.reused) == (0, 3)
    assert asked_before_refetch == 3 and len(requests) == 6
    assert (refetched.fetched, refetched.reused) == (3, 0)
    assert sorted(p.name for p in folder.iterdir()) == [CHECKPOINT_NAME, "page-00001.json", "page-00002.json", "page-00003.json"]
    assert [p.body for p in again.pages] == [p.body for p in first.pages]
    assert (folder / "page-00002.json").read_text() == first.pages[1].body
    checkpoint = json.loads((folder / CHECKPOINT_NAME).read_text())
    assert checkpoint["complete"] is True and checkpoint["next_cursor"] is None
    assert [p["number"] for p in checkpoint["pages"]] == [1, 2, 3]
    assert TOKEN not in (folder / CHECKPOINT_NAME).read_text()


def test_a_failed_pull_resumes_at_the_page_it_stopped_on(tmp_path, client):
    folder = _folder(tmp_path)
    with provider(Fault("status", page=3, times=None, status=503)) as (url, _):
        with pytest.raises(SmsPullFailed) as caught:
            pull_sms_window(client, url, TOKEN, W1, W2, folder, PAGE_SIZE, retry=SHORT)
    assert (caught.value.page, caught.value.pages_landed) == (3, 2)
    assert "Pages 1-2 are landed in" in str(caught.value) and "resumes at page 3" in str(caught.value)
    checkpoint = json.loads((folder / CHECKPOINT_NAME).read_text())
    assert checkpoint["complete"] is False and decode_cursor(checkpoint["next_cursor"]) == 8

    with provider() as (url, requests):
        pulled = pull_sms_window(client, url, TOKEN, W1, W2, folder, PAGE_SIZE, retry=SHORT)
    assert (pulled.fetched, pulled.reused) == (1, 2)
    assert [(r["page"], r["offset"]) for r in requests] == [(3, 8)]
    assert _ids(pulled.pages) == W1_IDS


def test_a_page_landed_without_its_checkpoint_is_asked_for_again(tmp_path, client):
    """A crash between landing page n and writing its checkpoint: page n is fetched once more and
    replaces the file, so it is still in the lake once."""
    folder = _folder(tmp_path)
    with provider() as (url, _):
        pull_sms_window(client, url, TOKEN, W1, W2, folder, PAGE_SIZE)
    checkpoint = json.loads((folder / CHECKPOINT_NAME).read_text())
    checkpoint["pages"] = checkpoint["pages"][:2]
    checkpoint.update(next_cursor=checkpoint["pages"][-1]["next_cursor"], complete=False)
    (folder / CHECKPOINT_NAME).write_text(json.dumps(checkpoint))
    with provider() as (url, requests):
        pulled = pull_sms_window(client, url, TOKEN, W1, W2, folder, PAGE_SIZE)
    assert [r["page"] for r in requests] == [3]
    assert _ids(pulled.pages) == W1_IDS


def test_a_checkpoint_whose_pages_are_gone_starts_the_window_over(tmp_path, client):
    folder = _folder(tmp_path)
    with provider() as (url, _):
        pull_sms_window(client, url, TOKEN, W1, W2, folder, PAGE_SIZE)
    (folder / "page-00002.json").unlink()
    with provider() as (url, requests):
        pulled = pull_sms_window(client, url, TOKEN, W1, W2, folder, PAGE_SIZE)
    assert [r["page"] for r in requests] == [1, 2, 3]
    assert _ids(pulled.pages) == W1_IDS


# --- through a real Dagster materialization of sms_raw ----------------------------------------


def _resources(root, url, policy=SHORT, timeout=2.0) -> dict:
    return {
        "lake": LakeResource(data_dir=str(root)),
        "sms_api": SmsApiResource(
            base_url=url,
            token=TOKEN,
            page_size=PAGE_SIZE,
            timeout_seconds=timeout,
            retry_max_seconds=policy.max_total_seconds,
            retry_base_seconds=policy.base_backoff_seconds,
            retry_max_backoff_seconds=policy.max_backoff_seconds,
        ),
    }


def _materialize(root, url, first=W1, last=W1, policy=SHORT, refetch=False) -> dg.ExecuteInProcessResult:
    """One run of sms_raw over the windows ``first``..``last`` (a range is one run, as backfills are)."""
    return dg.materialize(
        [sms_raw],
        resources=_resources(root, url, policy),
        tags={
            "dagster/asset_partition_range_start": f"{first:%Y-%m-%d-%H:%M}",
            "dagster/asset_partition_range_end": f"{last:%Y-%m-%d-%H:%M}",
        },
        run_config={"ops": {"sms_raw": {"config": {"refetch": refetch}}}},
        raise_on_error=False,
    )


def _bronze(root, start=W1) -> pl.DataFrame:
    return pl.read_parquet(lake.bronze_partition_path(root, "sms_raw", start))


def test_materialization_rides_out_a_5xx_burst_and_a_429(tmp_path):
    faults = (Fault("status", page=2, times=2, status=500), Fault("status", page=3, status=429, retry_after="1"))
    with provider(*faults) as (url, requests):
        result = _materialize(tmp_path, url, policy=FAST)
    assert result.success
    assert _asked(requests) == [(1, 200), (2, 500), (2, 500), (2, 200), (3, 429), (3, 200)]
    bronze = _bronze(tmp_path)
    assert sorted(bronze["record_id"].to_list()) == W1_IDS  # every message exactly once
    assert bronze["parse_error"].null_count() == bronze.height
    assert bronze["api_page"].to_list() == [1] * 4 + [2] * 4 + [3] * 2


def test_a_fault_past_the_budget_fails_the_run_clearly_then_the_rerun_resumes(tmp_path):
    # Two windows in one run; page 2 of the second never answers.
    stuck = Fault("status", since="2026-11-21T14:15:00Z", page=2, times=None, status=503)
    with provider(stuck) as (url, requests):
        started = time.monotonic()
        failed = _materialize(tmp_path, url, W1, W2)
        took = time.monotonic() - started
    assert not failed.success
    failure = next(e for e in failed.all_events if e.is_step_failure).step_failure_data
    message = failure.user_failure_data.description
    assert message.startswith("SMS API window 2026-11-21T14:15:00Z..2026-11-21T14:30:00Z, page 2: gave up after ")
    assert "attempts over 0." in message and "(retry budget 0.5 s)" in message
    assert "last error: HTTP 503 Service Unavailable" in message
    assert "Page 1 is landed in" in message and "rerunning the partition resumes at page 2" in message
    assert took < 10
    # Nothing partial: the first window's file is whole, the stuck window has no bronze file.
    assert sorted(_bronze(tmp_path, W1)["record_id"].to_list()) == W1_IDS
    assert not lake.bronze_partition_path(tmp_path, "sms_raw", W2).exists()
    assert json.loads((_folder(tmp_path, W2) / CHECKPOINT_NAME).read_text())["complete"] is False

    with provider() as (url, requests):
        rerun = _materialize(tmp_path, url, W1, W2)
    assert rerun.success
    # The complete window is read back from landing; the stuck one resumes at its page 2.
    assert [(r["since"], r["page"], r["offset"]) for r in requests] == [("2026-11-21T14:15:00Z", 2, 4)]
    both = pl.concat([_bronze(tmp_path, W1), _bronze(tmp_path, W2)])
    assert sorted(both["record_id"].to_list()) == sorted(m["id"] for m in MESSAGES)
    assert both["record_id"].n_unique() == both.height == 16

    # Rerun again: nothing asked, same rows. refetch: everything asked again, same rows.
    before = both.sort("record_id")
    with provider() as (url, requests):
        assert _materialize(tmp_path, url, W1, W2).success
        assert requests == []
        assert _materialize(tmp_path, url, W1, W2, refetch=True).success
        assert [r["page"] for r in requests] == [1, 2, 3, 1, 2]
    after = pl.concat([_bronze(tmp_path, W1), _bronze(tmp_path, W2)]).sort("record_id")
    assert after.equals(before)


def test_a_fetched_page_is_decoded_once_and_one_read_back_from_landing_once(tmp_path, monkeypatch):
    # A page's items are decoded when it is fetched (its next_cursor is read from them) and go with
    # it to the parse; a page read back from landing is decoded when it is parsed.
    decoded = []
    real = sms_lib._page_payload
    monkeypatch.setattr(sms_lib, "_page_payload", lambda number, body: decoded.append(number) or real(number, body))
    with provider() as (url, requests):
        assert _materialize(tmp_path, url).success
        fetched = _bronze(tmp_path)
        assert decoded == [1, 2, 3] and len(requests) == 3
        decoded.clear()
        assert _materialize(tmp_path, url).success  # the window is complete in landing: no request
        assert decoded == [1, 2, 3] and len(requests) == 3
    assert _bronze(tmp_path).equals(fetched)
    assert fetched["record_id"].to_list() == W1_IDS


def test_a_bad_token_fails_the_run_without_retrying(tmp_path):
    with provider() as (url, requests):
        result = dg.materialize(
            [sms_raw],
            resources={**_resources(tmp_path, url), "sms_api": SmsApiResource(base_url=url, token="nope")},
            partition_key=f"{W1:%Y-%m-%d-%H:%M}",
            raise_on_error=False,
        )
    assert not result.success and len(requests) == 1
    message = next(e for e in result.all_events if e.is_step_failure).step_failure_data.user_failure_data.description
    assert message.startswith("SMS API window 2026-11-21T14:00:00Z..2026-11-21T14:15:00Z, page 1: HTTP 401 Unauthorized; not retried")


@pytest.mark.integration
def test_an_item_served_on_two_pages_is_one_complaint_in_silver(data_dir, monkeypatch):
    """Configured from the environment as a deployment is: the provider repeats the last item of
    pages 1 and 2 at the start of pages 2 and 3. Bronze keeps every item received (12 rows), the
    cleaned layer one complaint per message (10) and the two repeats as same_source_record."""
    from complaints_platform.definitions import build_definitions
    from complaints_platform.lib.silver import CLEANED_LAYER
    from complaints_platform.runtime import run_assets

    token = Settings.from_env().sms_api_token
    app = create_app(MESSAGES, token, faults=FaultPlan(duplicate_pages=frozenset({2, 3})))
    with running(app) as url:
        monkeypatch.setenv("COMPLAINTS_SMS_API_URL", url)
        monkeypatch.setenv("COMPLAINTS_SMS_API_PAGE_SIZE", str(PAGE_SIZE))
        monkeypatch.setenv("COMPLAINTS_SMS_API_BACKOFF_SECONDS", "0.05")
        defs = build_definitions(Settings.from_env())
        with dg.instance_for_test() as instance:
            window = f"{W1:%Y-%m-%d-%H:%M}"
            assert run_assets(defs, instance, ["sms_raw"], (window, window)).success
            cleaned_run = run_assets(defs, instance, list(CLEANED_LAYER), ("2026-11-21", "2026-11-21"))
    assert cleaned_run.success
    assert all(e.passed for e in cleaned_run.get_asset_check_evaluations() if e.check_name == "records_accounted_for")

    bronze = _bronze(data_dir)
    assert bronze.height == 12
    assert sorted(set(bronze["record_id"].to_list())) == W1_IDS
    repeated = bronze.filter(pl.col("record_id").is_duplicated()).sort("record_id", "api_page")
    assert repeated.select("record_id", "api_page").rows() == [("A03", 1), ("A03", 2), ("A07", 2), ("A07", 3)]

    silver = data_dir / "silver"
    cleaned = pl.read_parquet(silver / "complaints_cleaned/date=2026-11-21/part.parquet")
    duplicates = pl.read_parquet(silver / "complaint_duplicates/date=2026-11-21/part.parquet")
    assert sorted(cleaned["source_record_id"].to_list()) == W1_IDS
    assert sorted(duplicates.select("source_record_id", "rule").rows()) == [
        ("A03", "same_source_record"),
        ("A07", "same_source_record"),
    ]


def test_sms_retry_settings_reach_the_resource(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPLAINTS_DATA_DIR", str(tmp_path))
    for name, value in {"RETRY_SECONDS": "45", "BACKOFF_SECONDS": "0.5", "TIMEOUT_SECONDS": "10", "PAGE_SIZE": "50"}.items():
        monkeypatch.setenv(f"COMPLAINTS_SMS_API_{name}", value)
    resource = resources_from_settings(Settings.from_env())["sms_api"]
    assert (resource.timeout_seconds, resource.page_size) == (10.0, 50)
    assert resource.retry_policy() == SmsRetryPolicy(max_total_seconds=45.0, base_backoff_seconds=0.5, max_backoff_seconds=30.0)
    monkeypatch.setenv("COMPLAINTS_SMS_API_BACKOFF_SECONDS", "0")
    with pytest.raises(MissingSetting, match="BACKOFF_SECONDS"):
        Settings.from_env()
