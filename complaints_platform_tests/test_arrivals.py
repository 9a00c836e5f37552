"""The sensors' cursor rule: nothing skipped under a backlog, nothing requested twice."""

from complaints_platform.lib.arrivals import Arrival, plan_runs, run_key


def _arrivals(n: int, base: int = 1_000) -> list[Arrival]:
    return [Arrival(f"f{i}.json", base + i, f"2026-11-21-{i // 4:02d}:{(i % 4) * 15:02d}") for i in range(n)]


def test_a_backlog_larger_than_one_tick_is_drained_over_ticks_without_skipping():
    arrivals = _arrivals(120)  # 120 files, one per quarter-hour partition
    seen: dict[str, str] = {}
    cursor = 0
    for _ in range(10):
        pending = [a for a in arrivals if a.mtime_ns > cursor - 5]  # what the scan with lookback finds
        plan = plan_runs(pending, cursor, limit=50)
        assert plan.cursor >= cursor  # monotonic
        for partition, key in plan.runs.items():
            seen.setdefault(partition, key)
        cursor = plan.cursor
    assert len(seen) == 120  # every partition requested
    assert cursor == arrivals[-1].mtime_ns


def test_the_cursor_stops_short_of_the_first_waiting_file():
    plan = plan_runs(_arrivals(60), 0, limit=50)
    assert len(plan.runs) == 50
    assert plan.cursor == 1_000 + 50 - 1  # file 50 (mtime 1050) is still ahead of the cursor


def test_an_unchanged_partition_keeps_its_run_key_and_a_new_file_changes_it():
    first = plan_runs([Arrival("a", 1, "p"), Arrival("b", 2, "p")], 0, 50)
    again = plan_runs([Arrival("b", 2, "p"), Arrival("a", 1, "p")], 2, 50)
    later = plan_runs([Arrival("a", 1, "p"), Arrival("b", 2, "p"), Arrival("c", 3, "p")], 2, 50)
    assert first.runs == again.runs == {"p": run_key("p", ["a", "b"])}
    assert later.runs["p"] != first.runs["p"]
    assert plan_runs([], 7, 50).cursor == 7
