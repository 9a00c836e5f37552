"""The whole pipeline at scale: end to end through Dagster, per stage, against a DuckDB floor, the
fixed costs, an incremental update with 1 vs 90 days of history, and correctness at every scale.

    .venv/bin/python benchmarks/pipeline_benchmark.py --scale 100k --repeat 3
    .venv/bin/python benchmarks/pipeline_benchmark.py --scale 1M --repeat 3 --history-days 30
    .venv/bin/python benchmarks/pipeline_benchmark.py --scale 100k --repeat 1 --profile   # + py-spy

What it does (details and the meaning of every number: benchmarks/README.md, "Pipeline"):

1. Generates one day of ``--scale`` received records (100k, 1M, 10M or any number) as the
   platform's real landing inputs (``benchmarks/pipeline_data.py``), plus one 15-minute window of
   the next day for the incremental test. Not timed.
2. Starts the real SMS simulator over HTTP with those messages (``sms_raw`` pulls it as in
   production), outside the measured process tree.
3. Setup, once, timed but not in the end-to-end figure: fiscal calendar, the CRM customers
   partition, the category model (trained as its asset does; a deployment retrains monthly).
4. ``--repeat`` times, on a fresh lake and a fresh Dagster instance each time: the day end to end,
   as a user or the daemon runs it, the real ``dagster asset materialize`` CLI on the real
   Definitions (one run per partitions definition, as an asset backfill of the day runs them):
   (a) social media, SMS, web forms, the 96 quarter-hours of the day as one run, and at the same
   time (b) the call centre's two 12-hour windows (neither waits on the other); then (c) the
   cleaned layer and the categories for the day; then (d) the dbt build and the analysts' copy.
   Wall time, CPU time and peak RSS of each CLI process tree (all its children: step processes,
   dbt; (a) and (b) sampled as one tree), and each step's time from the run's own events. Then the correctness checks
   (accounting, quarantine and duplicates against the generated truth, marts totals). Interleaved
   with each repeat, the DuckDB floor (``benchmarks/pipeline_floor.py``) on the same inputs.
5. Fixed costs on an empty lake: importing the Definitions, the CLI on an empty partition
   (multiprocess and in-process executors), the dbt build + publish on empty silver, plain
   ``dbt build`` (cold and warm parse).
6. Incremental: one new 15-minute window (scale/96 records) through bronze, the cleaned layer,
   the categories, dbt and the publish, with 1 day and ``--history-days`` days already in the lake
   (history synthesised by writing shifted copies of the measured day's silver files).
7. The student model's bulk categorisation texts/s on the day's cleaned texts.
8. ``--profile``: one more end-to-end pass with every CLI under ``py-spy record --subprocesses``;
   hot spots per stage (file:function, share of that stage's samples).

Results: ``benchmarks/results/pipeline-<scale>-<timestamp>.json`` (git-ignored) and a table. All
data lives under ``--root`` (default ``/tmp/complaints-pipeline-bench/<scale>``), never ./data.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import polars as pl  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
VENV_BIN = Path(sys.executable).parent
PAGE = os.sysconf("SC_PAGE_SIZE")
BRONZE_ASSETS = {"social_media": "social_media_raw", "sms": "sms_raw", "call_center": "call_center_raw", "web_forms": "web_forms_raw"}
CLEANED_LAYER = ["complaints_cleaned", "complaints_quarantine", "complaint_duplicates", "duplicate_review_queue"]
SILVER_ASSETS = [*CLEANED_LAYER, "complaints_categorised"]
PII_KEY = "benchmark-pii-key-0123456789abcdef0123456789abcdef"
SMS_TOKEN = "benchmark-sms-token"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"benchmark-webhook-secret-24b").decode()
TARGETS = {  # issue 5, on this 2-core machine
    "e2e_seconds": {1_000_000: 60, 10_000_000: 600},
    "peak_rss_gib": {1_000_000: 2.0, 10_000_000: 4.0},
    "data_work_over_floor": {10_000_000: 15.0},
    "incremental_ratio": 1.2,
    "category_texts_per_second": 50_000,
}


def parse_scale(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a scale: {text!r} (100k, 1M, 10M or a number)")
    number, unit = float(match[1]), match[2].lower()
    return int(number * {"": 1, "k": 1_000, "m": 1_000_000}[unit])


def scale_name(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def median(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None


# ==================================================================================================
# Measuring a process tree: wall time and peak RSS of the process and all its descendants
# ==================================================================================================


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children[ppid].append(int(entry.name))
    return children


def tree_sizes(root: int) -> dict[int, int]:
    """Bytes resident in each process of ``root``'s tree. A child still running its parent's
    command line has been spawned and not yet exec'd (for about a millisecond): it shares its
    parent's pages (vfork) and counts 0, not its parent's size again, or a helper process started
    by a 1 GiB step would add 1 GiB to the sum for that instant. The command line is read before
    the size, so a size read is never from before an exec that the command line is from after."""
    children, sizes, todo = _children_map(), {}, [(root, None)]
    while todo:
        pid, parent = todo.pop()
        command = _read(f"/proc/{pid}/cmdline")
        statm = _read(f"/proc/{pid}/statm")
        try:
            sizes[pid] = 0 if command is None or command == parent else int(statm.split()[1]) * PAGE
        except (AttributeError, IndexError, ValueError):
            sizes[pid] = 0
        todo.extend((child, command) for child in children.get(pid, ()))
    return sizes


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _hwm(pid: int) -> int:
    """The process's own peak RSS so far (the kernel's high-water mark: exact, whenever it was)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


class TreeSampler(threading.Thread):
    """Samples the summed RSS of a process and its descendants every ``interval`` seconds.

    RSS summed over processes counts shared pages once per process, so this is an upper bound of
    the tree's real footprint (what a container's memory limit would see is close to it: the step
    processes share little). A peak shorter than the interval can fall between two samples, so
    each process's own high-water mark (VmHWM) is read too: the largest process's peak is exact,
    and the tree's peak is never reported below it."""

    def __init__(self, pids: list[int], interval: float = 0.1):
        super().__init__(daemon=True)
        self.pids, self.interval = pids, interval
        self.peak_tree = self.peak_single = 0
        self.peak_processes = 0
        # (Unix time, tree RSS) of every sample: which step a peak fell in (``step_peaks``).
        self.samples: list[tuple[float, int]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            tree = {pid: size for root in self.pids for pid, size in tree_sizes(root).items()}
            pids, sizes = list(tree), list(tree.values())
            self.samples.append((time.time(), sum(sizes)))
            self.peak_single = max(self.peak_single, max(sizes, default=0), max(map(_hwm, pids), default=0))
            self.peak_tree = max(self.peak_tree, sum(sizes), self.peak_single)
            self.peak_processes = max(self.peak_processes, len(pids))
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _io_stall_us() -> int | None:
    """Microseconds all non-idle tasks were stalled on I/O (PSI 'full'), machine-wide; None without PSI."""
    try:
        with open("/proc/pressure/io") as f:
            for line in f:
                if line.startswith("full"):
                    return int(line.rsplit("total=", 1)[1])
    except OSError:
        return None
    return None


def run_measured(cmd: list[str], env: dict, log: Path, cwd: Path = ROOT, timeout: float | None = None,
                 samples: bool = False) -> dict:
    """Run ``cmd`` with its process tree's memory sampled; with ``samples``, every sample is returned
    too (``rss_samples``, for ``step_peaks``)."""
    return run_measured_together([(cmd, log)], env, cwd, timeout, samples)


def run_measured_together(commands: list[tuple[list[str], Path]], env: dict, cwd: Path = ROOT,
                          timeout: float | None = None, samples: bool = False) -> dict:
    """Run the commands at once (each ``(cmd, log)``), their process trees' memory sampled as one:
    the peak is of their sum. ``returncode`` is the first non-zero one, each command's own in
    ``returncodes``; ``wall_seconds`` until the last ends, each command's own in ``walls``."""
    stall_before = _io_stall_us()
    cpu_before = _children_cpu_seconds()
    started = time.perf_counter()
    procs = []
    for cmd, log in commands:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "wb") as out:
            procs.append(subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
    sampler = TreeSampler([proc.pid for proc in procs])
    sampler.start()
    walls: list[float | None] = [None] * len(procs)
    while None in walls:
        for n, proc in enumerate(procs):
            if walls[n] is None and proc.poll() is not None:
                walls[n] = round(time.perf_counter() - started, 3)
        if timeout is not None and time.perf_counter() - started > timeout:
            for proc in procs:
                if proc.poll() is None:
                    os.killpg(proc.pid, 9)  # the group this call started, by its id
        time.sleep(0.02)
    returncodes = [proc.wait() for proc in procs]
    wall = max(walls)
    sampler.stop()
    cpu = _children_cpu_seconds() - cpu_before
    return {
        "walls": walls,
        "returncodes": returncodes,
        "wall_seconds": round(wall, 3),
        # CPU time (user + system) of the whole process tree, every process that exited and was
        # reaped (steps, dbt, PII helpers); over the wall time, how many of the cores it kept busy.
        "cpu_seconds": round(cpu, 3),
        "cores_busy": round(cpu / wall, 2) if wall else None,
        # The machine is shared: the 1-minute load average when the run ended says how contended it was.
        "loadavg_1min_after": round(os.getloadavg()[0], 2),
        # Seconds during the run in which every runnable task waited on I/O (the VM's disk is slow
        # and its DAMON pageout evicts idle page cache, so a re-read of landing files can go to disk).
        "io_full_stall_seconds": round((_io_stall_us() - stall_before) / 1e6, 1) if stall_before is not None else None,
        "peak_rss_tree_mib": round(sampler.peak_tree / 2**20, 1),
        "peak_rss_single_mib": round(sampler.peak_single / 2**20, 1),
        "processes": sampler.peak_processes,
        "returncode": next((code for code in returncodes if code), 0),
        "log": str(commands[0][1]),
    } | ({"rss_samples": sampler.samples} if samples else {})


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def step_peaks(samples: list[tuple[float, int]], steps: dict[str, dict]) -> dict:
    """Where a run's memory peaked: each step's highest sampled tree RSS between its start and end
    events (MiB, into ``steps``), and the step (or "outside steps": startup, between steps, exit)
    holding the run's highest sample. In-process steps run one after another, so a step's peak
    includes whatever earlier steps left resident."""
    for step in steps.values():
        inside = [rss for t, rss in samples if step["start"] <= t <= step["end"]]
        step["peak_rss_tree_mib"] = round(max(inside) / 2**20, 1) if inside else None
    if not samples:
        return {}
    at, top = max(samples, key=lambda sample: sample[1])
    holder = next((key for key, step in steps.items() if step["start"] <= at <= step["end"]), "outside steps")
    return {"sampled_peak_rss_tree_mib": round(top / 2**20, 1), "sampled_peak_step": holder}


def _tail(path: str, lines: int = 30) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# ==================================================================================================
# Dagster: the CLI, and what a run's events say
# ==================================================================================================


def run_events(home: Path, assets: set[str] | None = None) -> dict:
    """The latest run on the instance in ``home`` (of any of ``assets``, where given: runs started
    at once select different assets): status, each step's time, the asset checks."""
    from dagster import DagsterEventType, DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    try:
        runs = [
            run for run in instance.get_runs(limit=20)
            if assets is None or {key.to_user_string() for key in run.asset_selection or ()} & assets
        ]
        if not runs:
            return {}
        run = runs[0]
        steps: dict[str, dict] = {}
        checks, run_start, run_end = [], None, None
        for record in instance.all_logs(run.run_id):
            event = record.dagster_event
            if event is None:
                continue
            kind = event.event_type_value
            if event.event_type == DagsterEventType.RUN_START:
                run_start = record.timestamp
            elif event.event_type in (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE):
                run_end = record.timestamp
            elif kind == "STEP_WORKER_STARTING":
                steps.setdefault(record.step_key, {})["worker_starting"] = record.timestamp
            elif kind == "STEP_START":
                steps.setdefault(record.step_key, {})["start"] = record.timestamp
            elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
                steps.setdefault(record.step_key, {})["end"] = record.timestamp
                steps[record.step_key]["status"] = kind
            elif kind == "ASSET_CHECK_EVALUATION":
                data = event.event_specific_data
                evaluation = getattr(data, "asset_check_evaluation", data)
                checks.append({
                    "asset": evaluation.asset_key.to_user_string(),
                    "check": evaluation.check_name,
                    "passed": bool(evaluation.passed),
                    "severity": str(getattr(evaluation, "severity", "")),
                })
        out_steps = {}
        for key, s in steps.items():
            if "start" in s and "end" in s:
                out_steps[key] = {
                    "seconds": round(s["end"] - s["start"], 3),
                    "worker_startup_seconds": round(s["start"] - s["worker_starting"], 3) if "worker_starting" in s else None,
                    "start": s["start"], "end": s["end"], "status": s.get("status"),
                }
        return {
            "run_id": run.run_id, "status": run.status.value,
            "run_seconds": round(run_end - run_start, 3) if run_start and run_end else None,
            "steps": out_steps, "checks": checks,
        }
    finally:
        instance.dispose()


def _create_instance(home: Path) -> None:
    """Create the instance's storage, as a deployment's webserver or daemon has before any run: two
    runs started at once on a new instance would both create it (and both stamp its schema version)."""
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    try:
        instance.get_runs(limit=1)
    finally:
        instance.dispose()


def _union_seconds(steps: dict) -> float:
    """Time covered by at least one step (steps of one run may overlap: two cores, two workers)."""
    spans = sorted((s["start"], s["end"]) for s in steps.values())
    total, current = 0.0, None
    for start, end in spans:
        if current is None or start > current[1]:
            if current:
                total += current[1] - current[0]
            current = [start, end]
        else:
            current[1] = max(current[1], end)
    if current:
        total += current[1] - current[0]
    return round(total, 3)


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.records = args.scale
        self.name = scale_name(args.scale)
        self.root = Path(args.root or f"/tmp/complaints-pipeline-bench/{self.name}").resolve()
        self.inputs = self.root / "inputs"
        self.day = date.fromisoformat(args.day) if args.day else datetime.now(timezone.utc).date() - timedelta(days=3)
        self.next_day = self.day + timedelta(days=1)
        self.logs = self.root / "logs"
        self.sms_url = ""
        self.results: dict = {}
        self.dbt_models = self._dbt_models()

    # --- environment -----------------------------------------------------------------------
    @staticmethod
    def _dbt_models() -> list[str]:
        manifest = json.loads((ROOT / "dbt_project" / "target" / "manifest.json").read_text())
        return sorted(n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model")

    def env(self, lake: Path) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPLAINTS_", "DAGSTER_"))}
        env.update({
            "COMPLAINTS_DATA_DIR": str(lake),
            "DAGSTER_HOME": str(lake / "dagster_home"),
            "COMPLAINTS_PII_KEY": PII_KEY,
            "COMPLAINTS_SMS_API_TOKEN": SMS_TOKEN,
            "COMPLAINTS_SMS_API_URL": self.sms_url,
            "COMPLAINTS_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "COMPLAINTS_BRAND_HANDLES": "@TelcoCare",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DAGSTER_DISABLE_TELEMETRY": "true",
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def prepare_lake(self, lake: Path) -> None:
        from complaints_platform import runtime

        if lake.exists():
            shutil.rmtree(lake)
        (lake / "dagster_home").mkdir(parents=True)
        (lake / "dagster_home" / "dagster.yaml").write_text(runtime.DAGSTER_YAML)
        _create_instance(lake / "dagster_home")
        (lake / "platform.env").write_text(
            "".join(f"{k}={v}\n" for k, v in sorted(self.env(lake).items()) if k.startswith("COMPLAINTS_"))
        )
        os.chmod(lake / "platform.env", 0o600)

    def materialize(self, lake: Path, label: str, select: list[str], partition: str | None = None,
                    partition_range: tuple[str, str] | None = None, executor: str | None = None,
                    profile: Path | None = None) -> dict:
        return self.materialize_together(lake, [dict(label=label, select=select, partition=partition,
                                                     partition_range=partition_range, profile=profile)], executor)[0]

    def materialize_together(self, lake: Path, runs: list[dict], executor: str | None = None) -> list[dict]:
        """One ``dagster asset materialize`` per item of ``runs`` (label, select, and partition,
        partition_range or profile where given), all started at once, as the daemon starts runs that
        do not wait on each other (an asset backfill's runs of root assets, say). Their process trees
        are sampled as one: each run's ``peak_rss_tree_mib`` and ``cpu_seconds`` are of them all (a day's
        CPU counts them once: ``summarise_day``), and
        ``group_wall_seconds`` is until the last ends; ``wall_seconds`` is the run's own."""
        commands = []
        for run in runs:
            cmd = [str(VENV_BIN / "dagster"), "asset", "materialize", "-m", "complaints_platform.definitions",
                   "--select", ",".join(run["select"])]
            if run.get("partition"):
                cmd += ["--partition", run["partition"]]
            if run.get("partition_range"):
                cmd += ["--partition-range", f"{run['partition_range'][0]}...{run['partition_range'][1]}"]
            if run.get("profile") is not None:
                run["profile"].parent.mkdir(parents=True, exist_ok=True)
                cmd = [str(VENV_BIN / "py-spy"), "record", "--subprocesses", "--format", "raw", "--rate",
                       str(self.args.profile_rate), *(["--idle"] if self.args.profile_idle else []),
                       "-o", str(run["profile"]), "--", *cmd]
            commands.append((cmd, self.logs / f"{run['label']}.log"))
        env = self.env(lake) | {"COMPLAINTS_EXECUTOR": executor or self.args.executor}
        together = run_measured_together(commands, env, samples=True)
        samples, walls, codes = together.pop("rss_samples"), together.pop("walls"), together.pop("returncodes")
        results = []
        for run, (_, log), wall, code in zip(runs, commands, walls, codes):
            measured = dict(together, wall_seconds=wall, returncode=code, log=str(log), label=run["label"])
            if len(runs) > 1:
                measured["group_wall_seconds"] = together["wall_seconds"]
                measured["together_with"] = [other["label"] for other in runs if other is not run]
            measured.update(run_events(lake / "dagster_home", set(run["select"])))
            results.append(measured)
        # Where the sampled peak fell among all the runs' steps (each step's own peak into its run's steps).
        peak = step_peaks(samples, _group_steps(results))
        for run, measured in zip(runs, results):
            measured.update(peak)
            if measured.get("steps"):
                measured["steps_union_seconds"] = _union_seconds(measured["steps"])
            ok = measured["returncode"] == 0 and measured.get("status") == "SUCCESS"
            measured["ok"] = ok
            print(f"    {run['label']:34} {measured['wall_seconds']:8.1f}s  {measured['cores_busy'] or 0:4.2f} cores  "
                  f"peak {measured['peak_rss_tree_mib']:7.0f} MiB  "
                  f"{'ok' if ok else 'FAILED'}  (sampled peak in {measured.get('sampled_peak_step')})"
                  + (f"  [at once with {', '.join(measured['together_with'])}: {together['wall_seconds']:.1f}s,"
                     " cores and peak of both]" if len(runs) > 1 else ""), flush=True)
            if not ok:
                print(_tail(measured["log"]), flush=True)
        return results

    # --- 1. inputs ---------------------------------------------------------------------------
    def generate(self) -> None:
        import pipeline_data

        manifest = self.inputs / "manifest.json"
        wanted = {"records": self.records, "day": self.day.isoformat(), "seed": self.args.seed,
                  "customers_ratio": self.args.customers_ratio, "generator": _file_digest(Path(pipeline_data.__file__))}
        if self.args.reuse_data and manifest.exists() and json.loads(manifest.read_text()).get("wanted") == wanted:
            self.results["generation"] = json.loads(manifest.read_text())["generated"]
            print(f"Reusing the inputs in {self.inputs}", flush=True)
            return
        if self.inputs.exists():
            shutil.rmtree(self.inputs)
        print(f"Generating {self.records:,} records for {self.day} in {self.inputs} ...", flush=True)
        made = pipeline_data.generate(self.inputs, self.day, self.records, self.args.seed, self.args.customers_ratio)
        window_records = max(200, self.records // 96)
        incr = pipeline_data.generate(self.inputs / "incremental", self.next_day, window_records, self.args.seed,
                                      self.args.customers_ratio, window=(0, 15 * 60), crm=False, tag="incr",
                                      n_customers=made.customers)
        generated = {
            "seconds": made.seconds, "records": made.records, "customers": made.customers, "per_channel": made.per_channel,
            "cross_channel_copies": made.copies, "text_chars_mean": made.text_chars_mean,
            "incremental_window": {"records": incr.records, "per_channel": incr.per_channel, "seconds": incr.seconds},
            "landing_bytes": _du(self.inputs / "landing"), "landing_files": _count_files(self.inputs / "landing"),
            "sms_messages_bytes": made.sms_messages_file.stat().st_size,
            "webhook_format_check": _webhook_format_check(self.inputs),
        }
        with open(self.inputs / "simulator" / "sms_messages-all.jsonl", "wb") as out:
            for part in (made.sms_messages_file, incr.sms_messages_file):
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out)
        manifest.write_text(json.dumps({"wanted": wanted, "generated": generated}, indent=2))
        self.results["generation"] = generated
        print(f"  generated in {made.seconds:.1f}s: {made.per_channel}, {made.copies} cross-channel copies, "
              f"mean text length {made.text_chars_mean}", flush=True)

    # --- 3. setup ----------------------------------------------------------------------------
    def customer_days(self) -> tuple[str, str]:
        """The CRM partitions the runs read: the day's and the next day's (the incremental window)."""
        return self.day.isoformat(), self.next_day.isoformat()

    def setup(self) -> None:
        template = self.root / "template"
        self.prepare_lake(template)
        _link_tree(self.inputs / "landing" / "crm", template / "landing" / "crm")
        print("Setup (not in the end-to-end figure):", flush=True)
        runs = [
            self.materialize(template, "setup-reference-and-model", ["fiscal_calendar", "category_corrections", "category_model"]),
            self.materialize(template, "setup-customers", ["customers"], partition_range=self.customer_days()),
        ]
        if not all(r["ok"] for r in runs):
            raise SystemExit("setup failed; see the logs above")
        self.results["setup"] = {r["label"]: _brief(r) for r in runs}
        self.template = template

    def fresh_day_lake(self, lake: Path) -> None:
        self.prepare_lake(lake)
        for part in ("reference", "models", "silver"):
            if (self.template / part).exists():
                shutil.copytree(self.template / part, lake / part)
        for channel in ("social_media", "call_center", "web_forms", "crm"):
            if (self.inputs / "landing" / channel).exists():
                _link_tree(self.inputs / "landing" / channel, lake / "landing" / channel)
        (lake / "oltp").mkdir(parents=True)
        shutil.copy2(self.inputs / "oltp" / "web_forms.sqlite", lake / "oltp" / "web_forms.sqlite")

    # --- 4. end to end -----------------------------------------------------------------------
    def day_runs(self, lake: Path, tag: str, profile_dir: Path | None = None, executor: str | None = None) -> list[dict]:
        d = self.day.isoformat()

        def prof(label):
            return profile_dir / f"{label}.txt" if profile_dir else None

        # The bronze runs at once, as an asset backfill of the day starts them: neither waits on the
        # other (root assets, no shared pool), and the instance runs 4 at a time (runtime.DAGSTER_YAML).
        return [
            *self.materialize_together(lake, [
                dict(label=f"{tag}-a-bronze-15min", select=["social_media_raw", "sms_raw", "web_forms_raw"],
                     partition_range=(f"{d}-00:00", f"{d}-23:45"), profile=prof("a-bronze-15min")),
                dict(label=f"{tag}-b-bronze-call-centre", select=["call_center_raw"],
                     partition_range=(f"{d}-00:00", f"{d}-12:00"), profile=prof("b-bronze-call-centre")),
            ], executor),
            self.materialize(lake, f"{tag}-c-cleaned-categorised", [*CLEANED_LAYER, "complaints_categorised"],
                             partition=d, profile=prof("c-cleaned-categorised"), executor=executor),
            self.materialize(lake, f"{tag}-d-marts", [*self.dbt_models, "analytics_duckdb"],
                             profile=prof("d-marts"), executor=executor),
        ]

    def end_to_end(self) -> None:
        repeats, floors = [], []
        lake = self.root / "lake"
        truth = pl.read_parquet(self.inputs / "truth-day.parquet")
        for i in range(self.args.repeat):
            print(f"End to end, repeat {i + 1}/{self.args.repeat}:", flush=True)
            self.fresh_day_lake(lake)
            runs = self.day_runs(lake, f"e2e{i + 1}")
            summary = summarise_day(runs, self.records)
            if all(r["ok"] for r in runs):
                summary["verification"] = verify(lake, truth, self.day, runs)
                v = summary["verification"]
                print(f"    verification: {'PASSED' if v['passed'] else 'FAILED'} "
                      f"({sum(c['ok'] for c in v['checks'].values())}/{len(v['checks'])} checks)", flush=True)
            repeats.append(summary)
            if not self.args.skip_floor:
                floors.append(self.floor(i))
        self.results["end_to_end"] = {"repeats": repeats, "median": _median_summary(repeats)}
        if floors:
            self.results["floor"] = floor_summary(floors)
        self.last_lake = lake

    def floor(self, i: int) -> dict:
        out = self.root / "floor-out"
        if out.exists():
            shutil.rmtree(out)
        cmd = [sys.executable, str(ROOT / "benchmarks" / "pipeline_floor.py"), "--lake", str(self.inputs),
               "--sms-messages", str(self.inputs / "simulator" / f"sms_messages-day.jsonl"), "--out", str(out)]
        measured = run_measured(cmd, dict(os.environ), self.logs / f"floor{i + 1}.log")
        try:
            measured.update(json.loads(Path(measured["log"]).read_text().strip().splitlines()[-1]))
        except (ValueError, IndexError):
            print(_tail(measured["log"]), flush=True)
        print(f"    {'floor (DuckDB alone)':34} {measured['wall_seconds']:8.1f}s  peak {measured['peak_rss_tree_mib']:7.0f} MiB", flush=True)
        return measured

    # --- 5. fixed costs ----------------------------------------------------------------------
    def fixed_costs(self) -> None:
        from complaints_platform.lib.near_duplicates import REVIEW_SCHEMA
        from complaints_platform.lib.reference import CUSTOMERS_SCHEMA
        from complaints_platform.lib.silver import CATEGORISED_SCHEMA, CLEANED_SCHEMA, DUPLICATES_SCHEMA, QUARANTINE_SCHEMA

        lake = self.root / "empty"
        self.prepare_lake(lake)
        shutil.copytree(self.template / "reference" / "fiscal_calendar", lake / "reference" / "fiscal_calendar")
        d = self.day.isoformat()
        empty = {
            ("silver", "complaints_cleaned"): CLEANED_SCHEMA, ("silver", "complaints_categorised"): CATEGORISED_SCHEMA,
            ("silver", "complaints_quarantine"): QUARANTINE_SCHEMA, ("silver", "complaint_duplicates"): DUPLICATES_SCHEMA,
            ("silver", "duplicate_review_queue"): REVIEW_SCHEMA,
        }
        for (layer, asset), schema in empty.items():
            path = lake / layer / asset / f"date={d}" / "part.parquet"
            path.parent.mkdir(parents=True)
            pl.DataFrame(schema=schema).write_parquet(path)
        customers = lake / "reference" / "customers" / f"date={d}" / "customers.parquet"
        customers.parent.mkdir(parents=True)
        pl.DataFrame(schema=CUSTOMERS_SCHEMA).write_parquet(customers)
        print("Fixed costs (empty lake):", flush=True)
        out = defaultdict(list)
        target = lake / "dbt-target"
        empty_window = f"{(self.day - timedelta(days=5)).isoformat()}-00:00"
        for i in range(self.args.repeat):
            r = run_measured([sys.executable, "-c", "import complaints_platform.definitions"], self.env(lake), self.logs / f"import{i + 1}.log")
            out["import_definitions"].append(r)
            print(f"    {'import the Definitions':34} {r['wall_seconds']:8.1f}s", flush=True)
            out["cli_empty_partition_multiprocess"].append(
                _brief(self.materialize(lake, f"noop{i + 1}-multiprocess", ["social_media_raw"], partition=empty_window, executor="multiprocess")))
            out["cli_empty_partition_in_process"].append(
                _brief(self.materialize(lake, f"noop{i + 1}-in-process", ["social_media_raw"], partition=empty_window, executor="in_process")))
            out["marts_on_empty_lake"].append(_brief(self.materialize(lake, f"empty{i + 1}-marts", [*self.dbt_models, "analytics_duckdb"])))
            dbt = [str(VENV_BIN / "dbt"), "build", "--project-dir", str(ROOT / "dbt_project"), "--profiles-dir",
                   str(ROOT / "dbt_project"), "--target-path", str(target), "--log-path", str(lake / "dbt-logs")]
            r = run_measured(dbt, self.env(lake), self.logs / f"dbt-build-empty{i + 1}.log")
            out["dbt_build_empty_cold_parse" if i == 0 else "dbt_build_empty_warm_parse"].append(r)
            print(f"    {'plain dbt build, empty lake':34} {r['wall_seconds']:8.1f}s  ({'cold' if i == 0 else 'warm'} parse, rc {r['returncode']})", flush=True)
        fixed = {}
        for key, runs in out.items():
            fixed[key] = {
                "median_wall_seconds": median([r["wall_seconds"] for r in runs]),
                "median_peak_rss_tree_mib": median([r["peak_rss_tree_mib"] for r in runs]),
                "runs": runs,
            }
            steps = [r.get("steps") or {} for r in runs]
            if any(steps):
                fixed[key]["median_step_seconds"] = {k: median([s[k]["seconds"] for s in steps if k in s]) for k in steps[0]}
                fixed[key]["median_run_seconds"] = median([r.get("run_seconds") for r in runs])
        self.results["fixed_costs"] = fixed

    # --- 6. incremental ------------------------------------------------------------------------
    def incremental(self) -> None:
        """The same new window with 1 day and with --history-days of history. The two lakes' repeats
        alternate (1 day, N days, 1 day, ...), so a machine that slows down for a while slows both."""
        print("Incremental: one new 15-minute window", flush=True)
        result = {"window_records": self.results["generation"]["incremental_window"]["records"], "history": {},
                  "order": "interleaved"}
        lakes, warmups, built = {}, {}, {}
        for days in sorted({1, self.args.history_days}):
            lake = lakes[days] = self.root / f"incremental-{days}d"
            started = time.perf_counter()
            self.incremental_lake(lake, days)
            built[days] = time.perf_counter() - started
            print(f"  {days} day(s) of history ({_silver_rows(lake):,} silver rows, built in {built[days]:.0f}s); warm-up marts:", flush=True)
            warmups[days] = self.materialize(lake, f"incr{days}d-warmup-marts", [*self.dbt_models, "analytics_duckdb"])
        repeats: dict[int, list[dict]] = {days: [] for days in lakes}
        for i in range(self.args.repeat):
            for days, lake in lakes.items():
                self.reset_incremental(lake)
                w = f"{self.next_day.isoformat()}-00:00"
                runs = [
                    self.materialize(lake, f"incr{days}d-{i + 1}-a-bronze", ["social_media_raw", "sms_raw", "web_forms_raw"], partition=w),
                    self.materialize(lake, f"incr{days}d-{i + 1}-c-cleaned-categorised", [*CLEANED_LAYER, "complaints_categorised"],
                                     partition=self.next_day.isoformat()),
                    self.materialize(lake, f"incr{days}d-{i + 1}-d-marts", [*self.dbt_models, "analytics_duckdb"]),
                ]
                repeats[days].append({
                    "ok": all(r["ok"] for r in runs),
                    "wall_seconds": round(sum(r["wall_seconds"] for r in runs), 3),
                    "peak_rss_tree_mib": max(r["peak_rss_tree_mib"] for r in runs),
                    "runs": {r["label"].split("-", 2)[-1]: _brief(r) for r in runs},
                })
        for days, lake in lakes.items():
            good = [r for r in repeats[days] if r["ok"]]  # a failed run's time is not a measurement
            result["history"][f"{days}d"] = {
                "history_days": days, "silver_rows": _silver_rows(lake), "lake_build_seconds": round(built[days], 1),
                "warmup_marts": _brief(warmups[days]), "repeats": repeats[days], "ok_repeats": len(good),
                "median_wall_seconds": median([r["wall_seconds"] for r in good]),
                "median_peak_rss_tree_mib": median([r["peak_rss_tree_mib"] for r in good]),
                "median_run_seconds": {k: median([r["runs"][k]["wall_seconds"] for r in good]) for k in repeats[days][0]["runs"]},
                "median_step_seconds": _median_steps([r["runs"][k] for r in good for k in r["runs"]]),
            }
        one, many = result["history"]["1d"], result["history"][f"{self.args.history_days}d"]
        if one["median_wall_seconds"] and many["median_wall_seconds"]:
            result["ratio"] = round(many["median_wall_seconds"] / one["median_wall_seconds"], 3)
            result["ratio_per_step"] = {
                k: round(many["median_step_seconds"][k] / one["median_step_seconds"][k], 2)
                for k in one["median_step_seconds"] if k in many["median_step_seconds"] and one["median_step_seconds"][k]
            }
            # Each repeat's pair ran minutes apart: the median of their ratios is the least noisy figure.
            pairs = [b["wall_seconds"] / a["wall_seconds"] for a, b in zip(one["repeats"], many["repeats"])
                     if a["ok"] and b["ok"]]
            result["median_paired_ratio"] = round(median(pairs), 3) if pairs else None
        self.results["incremental"] = result

    def incremental_lake(self, lake: Path, days: int) -> None:
        """The lake after ``days`` days were processed, with the next day's first window landed.

        Day D's silver and customers are the ones the end-to-end run wrote; earlier days are copies of
        day D with every time moved back k days and every id made unique (so dbt sees days' worth of
        distinct complaints). Bronze of past days is not copied: nothing reads another day's bronze."""
        self.prepare_lake(lake)
        source = self.last_lake
        d = self.day.isoformat()
        shutil.copytree(self.template / "models", lake / "models")
        shutil.copytree(self.template / "reference" / "fiscal_calendar", lake / "reference" / "fiscal_calendar")
        customers = source / "reference" / "customers" / f"date={d}" / "customers.parquet"
        for k in range(-1, days):  # -1: the next day's partition, which the daily CRM refresh wrote
            day_k = (self.day - timedelta(days=k)).isoformat()
            target = lake / "reference" / "customers" / f"date={day_k}" / "customers.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(customers, target)
        for asset in SILVER_ASSETS:
            frame = pl.read_parquet(source / "silver" / asset / f"date={d}" / "part.parquet")
            for k in range(days):
                out = lake / "silver" / asset / f"date={(self.day - timedelta(days=k)).isoformat()}" / "part.parquet"
                out.parent.mkdir(parents=True, exist_ok=True)
                _shift(frame, k).write_parquet(out, compression="zstd", statistics=True)
        incr = self.inputs / "incremental"
        for channel in ("social_media", "web_forms"):
            if (incr / "landing" / channel).exists():
                _link_tree(incr / "landing" / channel, lake / "landing" / channel)
        (lake / "oltp").mkdir(parents=True)
        shutil.copy2(incr / "oltp" / "web_forms.sqlite", lake / "oltp" / "web_forms.sqlite")

    def reset_incremental(self, lake: Path) -> None:
        nd = f"date={self.next_day.isoformat()}"
        for folder in [*(lake / "bronze" / a / nd for a in BRONZE_ASSETS.values()),
                       *(lake / "silver" / a / nd for a in SILVER_ASSETS),
                       lake / "landing" / "sms" / nd]:
            if folder.exists():
                shutil.rmtree(folder)
        for extract in (lake / "landing" / "web_forms").glob(f"{nd}/*/extract-*.parquet"):
            if extract.stat().st_nlink == 1:  # written by a previous run (the inputs are hard links)
                extract.unlink()

    # --- 7. category model throughput ------------------------------------------------------------
    def student_probe(self) -> None:
        cmd = [sys.executable, __file__, "--student-probe", str(self.last_lake), self.day.isoformat()]
        r = run_measured(cmd, self.env(self.last_lake), self.logs / "student-probe.log")
        try:
            r.update(json.loads(Path(r["log"]).read_text().strip().splitlines()[-1]))
        except (ValueError, IndexError):
            print(_tail(r["log"]))
        self.results["category_student_bulk"] = r
        print(f"  student bulk categorisation: {r.get('texts_per_second', 0):,.0f} texts/s on {r.get('texts', 0):,} texts", flush=True)

    # --- 8. profile ------------------------------------------------------------------------------
    def profile(self) -> None:
        lake = self.root / "lake-profile"
        self.fresh_day_lake(lake)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        folder = RESULTS / f"pipeline-{self.name}-{stamp}-profile"
        print(f"Profile (py-spy record --subprocesses, {self.args.profile_rate} Hz) into {folder}:", flush=True)
        runs = self.day_runs(lake, "profile", profile_dir=folder)
        self.results["profile"] = {
            "folder": str(folder), "rate_hz": self.args.profile_rate,
            "runs": {r["label"]: {**_brief(r), "hot_spots": analyse_profile(folder / f"{r['label'].split('-', 1)[1]}.txt")} for r in runs},
        }


# ==================================================================================================
# Summaries
# ==================================================================================================


def floor_summary(floors: list[dict]) -> dict:
    """The floor's repeats and their medians over those that succeeded."""
    good = [f for f in floors if f["returncode"] == 0]
    return {"repeats": floors, "ok_repeats": len(good), "median_seconds": median([f["wall_seconds"] for f in good]),
            "median_peak_rss_tree_mib": median([f["peak_rss_tree_mib"] for f in good])}


def _brief(r: dict) -> dict:
    keep = ("label", "ok", "wall_seconds", "group_wall_seconds", "together_with", "cpu_seconds", "cores_busy", "loadavg_1min_after", "io_full_stall_seconds", "run_seconds", "steps_union_seconds", "peak_rss_tree_mib", "peak_rss_single_mib",
            "sampled_peak_rss_tree_mib", "sampled_peak_step", "processes", "returncode", "status", "run_id", "log")
    out = {k: r.get(k) for k in keep if k in r}
    if r.get("steps"):
        out["steps"] = {k: {"seconds": v["seconds"], "worker_startup_seconds": v["worker_startup_seconds"],
                            "peak_rss_tree_mib": v.get("peak_rss_tree_mib")} for k, v in r["steps"].items()}
    if r.get("checks"):
        out["checks_failed"] = [f"{c['asset']}:{c['check']}" for c in r["checks"] if not c["passed"]]
        out["checks"] = len(r["checks"])
    return out


def _median_steps(runs: list[dict]) -> dict:
    seen = defaultdict(list)
    for r in runs:
        for k, v in (r.get("steps") or {}).items():
            seen[k].append(v["seconds"])
    return {k: median(v) for k, v in seen.items()}


def _groups(runs: list[dict]) -> list[list[dict]]:
    """The runs as started: those started at once (``materialize_together``) in one group."""
    groups: dict[frozenset, list[dict]] = {}
    for r in runs:
        groups.setdefault(frozenset([r["label"], *r.get("together_with", [])]), []).append(r)
    return list(groups.values())


def _group_wall(group: list[dict]) -> float:
    return group[0].get("group_wall_seconds", group[0]["wall_seconds"])


def _group_steps(group: list[dict]) -> dict[str, dict]:
    """Every step of the group's runs, by step key (``label/step`` where the group has several runs)."""
    return {f"{r['label']}/{k}" if len(group) > 1 else k: v for r in group for k, v in (r.get("steps") or {}).items()}


def _group_steps_union(group: list[dict]) -> float:
    """Time in which at least one of the group's steps ran (runs at once overlap)."""
    steps = _group_steps(group)
    return _union_seconds(steps) if steps else 0.0


def summarise_day(runs: list[dict], records: int) -> dict:
    by = {r["label"].split("-", 1)[1]: r for r in runs}
    steps = {k: v for r in runs for k, v in (r.get("steps") or {}).items()}
    groups = _groups(runs)
    wall = sum(_group_wall(g) for g in groups)
    cpu = sum(g[0].get("cpu_seconds") or 0 for g in groups)  # a group's runs each carry all of its CPU
    step_union = sum(_group_steps_union(g) for g in groups)

    def step(key):
        return steps.get(key, {}).get("seconds")

    bronze_runs = ("a-bronze-15min", "b-bronze-call-centre")
    bronze = [g for g in groups if any(r["label"].split("-", 1)[1] in bronze_runs for r in g)]
    stages = {
        "bronze": {
            # The two bronze runs start at once: the stage's time is until the last ends.
            "wall_seconds": round(sum(_group_wall(g) for g in bronze), 3),
            "run_wall_seconds": {k: (by.get(k) or {}).get("wall_seconds") for k in bronze_runs},
            "step_seconds": {k: step(a) for k, a in BRONZE_ASSETS.items()},
            "steps_union_seconds": round(sum(_group_steps_union(g) for g in bronze), 3),
        },
        "silver": {"step_seconds": step("complaints_cleaned"),
                   "step_peak_rss_tree_mib": steps.get("complaints_cleaned", {}).get("peak_rss_tree_mib")},
        "categorise": {"step_seconds": step("complaints_categorised"),
                       "step_peak_rss_tree_mib": steps.get("complaints_categorised", {}).get("peak_rss_tree_mib")},
        "marts": {"wall_seconds": (by.get("d-marts") or {}).get("wall_seconds"),
                  "dbt_build_step_seconds": step("warehouse_models"), "publish_step_seconds": step("analytics_duckdb")},
    }
    return {
        "ok": all(r["ok"] for r in runs),
        "wall_seconds": round(wall, 3),
        "records_per_second": round(records / wall) if wall else None,
        "cpu_seconds": round(cpu, 3),
        "cores_busy": round(cpu / wall, 2) if wall else None,
        "peak_rss_tree_mib": max(r["peak_rss_tree_mib"] for r in runs),
        "peak_rss_single_mib": max(r["peak_rss_single_mib"] for r in runs),
        "data_work_seconds": round(step_union, 3),
        "dagster_overhead_seconds": round(wall - step_union, 3),
        "stages": stages,
        "runs": {k: _brief(r) for k, r in by.items()},
    }


def _median_summary(repeats: list[dict]) -> dict:
    ok = [r for r in repeats if r["ok"]] or repeats

    def m(path):
        values = []
        for r in ok:
            v = r
            for p in path:
                v = v.get(p) if isinstance(v, dict) else None
            values.append(v)
        return median(values)

    return {
        "wall_seconds": m(["wall_seconds"]), "records_per_second": m(["records_per_second"]),
        "cpu_seconds": m(["cpu_seconds"]), "cores_busy": m(["cores_busy"]),
        "peak_rss_tree_mib": m(["peak_rss_tree_mib"]), "peak_rss_single_mib": m(["peak_rss_single_mib"]),
        "data_work_seconds": m(["data_work_seconds"]), "dagster_overhead_seconds": m(["dagster_overhead_seconds"]),
        "bronze_wall_seconds": m(["stages", "bronze", "wall_seconds"]),
        "bronze_steps_union_seconds": m(["stages", "bronze", "steps_union_seconds"]),
        **{f"bronze_{k}_step_seconds": m(["stages", "bronze", "step_seconds", k]) for k in BRONZE_ASSETS},
        "silver_step_seconds": m(["stages", "silver", "step_seconds"]),
        "categorise_step_seconds": m(["stages", "categorise", "step_seconds"]),
        "marts_wall_seconds": m(["stages", "marts", "wall_seconds"]),
        "dbt_build_step_seconds": m(["stages", "marts", "dbt_build_step_seconds"]),
        "publish_step_seconds": m(["stages", "marts", "publish_step_seconds"]),
        "run_wall_seconds": {k: m(["runs", k, "wall_seconds"]) for k in ok[0]["runs"]},
        "run_peak_rss_tree_mib": {k: m(["runs", k, "peak_rss_tree_mib"]) for k in ok[0]["runs"]},
        "verified_all_repeats": all(r.get("verification", {}).get("passed") for r in repeats),
    }


# ==================================================================================================
# Correctness
# ==================================================================================================


def _check(checks: dict, name: str, expected, actual, ok: bool | None = None) -> None:
    checks[name] = {"expected": expected, "actual": actual, "ok": (expected == actual) if ok is None else ok}


def verify(lake: Path, truth: pl.DataFrame, day: date, runs: list[dict]) -> dict:
    """The pipeline's output against the generated truth and against itself (see README)."""
    import duckdb

    d = f"date={day.isoformat()}"
    checks: dict = {}
    silver = {a: pl.read_parquet(lake / "silver" / a / d / "part.parquet") for a in SILVER_ASSETS}
    cleaned, quarantine, dups = silver["complaints_cleaned"], silver["complaints_quarantine"], silver["complaint_duplicates"]
    bronze = {c: sum(pl.scan_parquet(f).select(pl.len()).collect().item() for f in sorted((lake / "bronze" / a / d).glob("*.parquet")))
              for c, a in BRONZE_ASSETS.items()}
    counts = lambda frame, *by: {"|".join(str(x) for x in k): v for *k, v in frame.group_by(*by).len().sort(*by).iter_rows()}  # noqa: E731

    _check(checks, "received_per_channel (bronze rows = generated)", counts(truth, "channel"), bronze)
    received = sum(bronze.values())
    _check(checks, "accounting: received = cleaned + quarantined + duplicates", received,
           cleaned.height + quarantine.height + dups.height)
    per_channel = {c: cleaned.filter(pl.col("channel") == c).height + quarantine.filter(pl.col("channel") == c).height
                   + dups.filter(pl.col("channel") == c).height for c in BRONZE_ASSETS}
    _check(checks, "accounting per channel", bronze, per_channel)
    accounting_checks = [c for r in runs for c in r.get("checks", []) if c["check"] == "records_accounted_for"]
    _check(checks, "records_accounted_for asset check passed", True, bool(accounting_checks) and all(c["passed"] for c in accounting_checks))
    failed_blocking = sorted({f"{c['asset']}:{c['check']}" for r in runs for c in r.get("checks", [])
                              if not c["passed"] and "WARN" not in c["severity"]})
    _check(checks, "no asset check failed (warn-only checks aside)", [], failed_blocking)
    planted_quarantine = truth.filter(pl.col("outcome") == "quarantine")
    _check(checks, "quarantined per channel = planted", counts(planted_quarantine, "channel"), counts(quarantine, "channel"))
    # By record: every planted bad record is in the quarantine (a ragged CSV row is named by file:line
    # there, not by its call id, so it is counted above only).
    by_id = planted_quarantine.filter(pl.col("rule") != "unparseable_record").get_column("record_id")
    absent = by_id.filter(~by_id.is_in(quarantine.get_column("source_record_id").implode()))
    _check(checks, "every planted bad record (by id) is quarantined", 0, absent.len())
    _check(checks, "same-source duplicates by channel = planted",
           counts(truth.filter(pl.col("rule") == "same_source_record"), "channel"),
           counts(dups.filter(pl.col("rule") == "same_source_record"), "channel"))

    # Records that should reach the near-duplicate stage: every clean record and every planted copy.
    candidates = set(truth.filter(pl.col("outcome").is_in(["clean"]) | (pl.col("rule") == "same_contact_same_text"))
                     .get_column("complaint_id").to_list())
    merged = dups.filter(pl.col("rule") != "same_source_record").select("complaint_id", "duplicate_of", "rule")
    removed = set(merged.get_column("complaint_id").to_list())
    _check(checks, "near-duplicate merges remove only records that reached that stage", 0, len(removed - candidates))
    expected_cleaned = candidates - removed
    cleaned_ids = set(cleaned.get_column("complaint_id").to_list())
    _check(checks, "cleaned ids = generated clean + copies - merged (exact set)", len(expected_cleaned), len(cleaned_ids),
           ok=cleaned_ids == expected_cleaned)
    pairs = truth.filter(pl.col("copy_of").is_not_null()).select(pl.col("complaint_id").alias("copy"), pl.col("copy_of").alias("original"))
    partner = {**dict(pairs.iter_rows()), **{o: c for c, o in pairs.iter_rows()}}
    found = sum(1 for cid, of, _ in merged.iter_rows() if partner.get(cid) == of)
    false_merges = merged.filter(~pl.col("complaint_id").is_in(list(partner)))
    wrong_partner = sum(1 for cid, of, _ in merged.iter_rows() if cid in partner and partner[cid] != of)
    recall = round(found / pairs.height, 4) if pairs.height else 1.0
    _check(checks, "planted cross-channel copies merged with their original (recall >= 0.99)", ">= 0.99", recall, ok=recall >= 0.99)
    _check(checks, "categorised rows = cleaned rows", cleaned.height, silver["complaints_categorised"].height)

    with duckdb.connect(str(lake / "analytics.duckdb"), read_only=True) as con:
        q = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        fct = q("select count(*) from fct_complaints")
        _check(checks, "fct_complaints rows = cleaned rows", cleaned.height, fct)
        _check(checks, "mart_complaints_daily complaints + not_complaints = fct_complaints",
               fct, int(q("select coalesce(sum(complaints + not_complaints), 0) from mart_complaints_daily")))
        _check(checks, "mart_complaints_daily complaints = categorised is_complaint",
               silver["complaints_categorised"].filter(pl.col("is_complaint")).height,
               int(q("select coalesce(sum(complaints), 0) from mart_complaints_daily")))
        _check(checks, "mart_quarantine_daily records = generated quarantined",
               truth.filter(pl.col("outcome") == "quarantine").height, int(q("select coalesce(sum(records), 0) from mart_quarantine_daily")))
        _check(checks, "mart_call_center_resolution calls = cleaned call-centre records",
               cleaned.filter(pl.col("channel") == "call_center").height, int(q("select coalesce(sum(calls), 0) from mart_call_center_resolution")))
        _check(checks, "fct_complaint_sources rows = cleaned + duplicates", cleaned.height + dups.height,
               q("select count(*) from fct_complaint_sources"))
        _check(checks, "sum(fct_complaints.duplicate_count) = cleaned + duplicates", cleaned.height + dups.height,
               int(q("select coalesce(sum(duplicate_count), 0) from fct_complaints")))
    agreement = silver["complaints_categorised"].select("complaint_id", "category", "category_path").join(
        truth.select("complaint_id", pl.col("category").alias("generated")), on="complaint_id", how="inner")
    return {
        "passed": all(c["ok"] for c in checks.values()),
        "checks": checks,
        "received": received, "cleaned": cleaned.height, "quarantined": quarantine.height, "duplicates": dups.height,
        "duplicates_by_rule": counts(dups, "rule"),
        "review_queue": silver["duplicate_review_queue"].height,
        "planted_copies": pairs.height, "planted_copies_merged": found,
        "planted_copies_merged_into_another_complaint": wrong_partner,
        "merges_of_distinct_complaints": false_merges.height + wrong_partner,
        "merges_of_distinct_complaints_by_rule": counts(false_merges, "rule") if false_merges.height else {},
        "category_agreement_with_generated": round(agreement.filter(pl.col("category") == pl.col("generated")).height / max(agreement.height, 1), 4),
        "category_paths": counts(agreement, "category_path"),
    }


# ==================================================================================================
# Helpers: files, history, profiles
# ==================================================================================================


def _file_digest(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _du(path: Path) -> int:
    return sum(e.stat().st_size for e in path.rglob("*") if e.is_file())


def _count_files(path: Path) -> int:
    return sum(1 for e in path.rglob("*") if e.is_file())


def _link_tree(source: Path, target: Path) -> None:
    """Hard-link copy (the pipeline only reads these inputs, so runs cannot change them)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", str(source), str(target)], check=True)


def _silver_rows(lake: Path) -> int:
    files = sorted((lake / "silver" / "complaints_categorised").glob("date=*/part.parquet"))
    return sum(pl.scan_parquet(f).select(pl.len()).collect().item() for f in files)


def _shift(frame: pl.DataFrame, k: int) -> pl.DataFrame:
    """Day D's silver rows as if made and received k days earlier, with ids of their own."""
    if k == 0:
        return frame
    # 'h' is no hex digit: a shifted id can never equal an original one (ids are hex digests).
    suffix = f"h{k:03d}"
    fixes = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Datetime) or dtype == pl.Date:
            fixes.append(pl.col(name) - pl.duration(days=k))
        elif name in ("complaint_id", "duplicate_of", "candidate_of", "pair_id"):
            fixes.append(pl.col(name).str.slice(0, pl.col(name).str.len_chars() - 4) + suffix)
        elif name == "source_record_id":
            fixes.append(pl.col(name) + f"~{suffix}")
    return frame.with_columns(fixes)


def _webhook_format_check(inputs: Path) -> dict:
    """Land one event with the running receiver's own code and compare its segment line with ours."""
    import tempfile

    sample = next((inputs / "landing" / "social_media").glob("date=*/*/*.jsonl"), None)
    if sample is None:
        return {"ok": None, "reason": "no social-media segments"}
    try:
        from complaints_platform.lib.social_media import LandedIds
        from complaints_platform.webhook import store

        with open(sample, "rb") as handle:
            line = handle.readline()
        ours = json.loads(line)
        with tempfile.TemporaryDirectory() as tmp:
            landing = Path(tmp)
            (landing / "social_media").mkdir()
            ids = LandedIds(landing)
            writer = store.SegmentWriter(landing, ids)
            store.store_batch(ids, writer, [store.Delivery(ours["webhook_id"], ours["webhook_timestamp"], ours["body"])])
            writer.close()
            ids.close()
            [theirs_path] = landing.glob("social_media/date=*/*/*.jsonl")
            theirs = json.loads(theirs_path.read_bytes())
            same_shape = list(theirs) == list(ours) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", ours["received_at"]) is not None
            same_bytes = theirs_path.read_bytes() == json.dumps({**ours, "received_at": theirs["received_at"]}, ensure_ascii=False).encode() + b"\n"
            same_mode = oct(theirs_path.stat().st_mode & 0o777) == oct(sample.stat().st_mode & 0o777)
        return {"ok": bool(same_shape and same_bytes and same_mode), "keys": list(ours), "same_bytes_but_received_at": same_bytes,
                "file_mode": oct(sample.stat().st_mode & 0o777)}
    except Exception as error:  # the receiver is being changed by others: report, do not stop
        return {"ok": None, "reason": f"{type(error).__name__}: {error}"}


_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def _short(file: str) -> str:
    for marker in ("site-packages/", str(ROOT) + "/", "/lib/python3.11/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def analyse_profile(path: Path, top: int = 15) -> dict:
    """Hot spots of one py-spy raw profile (``--format raw``: one line per distinct stack, its
    samples last): per process, and the functions holding the most samples (``inclusive``: anywhere
    on the stack; ``self``: the innermost frame; ``platform_inclusive``: the platform's own
    functions), each as a share of the run's samples. py-spy samples threads that are running, so
    a process waiting on a child (the run coordinator, a step waiting for dbt) adds little."""
    if not path.exists():
        return {"error": f"no profile at {path}"}
    lines, buffer = [], ""
    for line in path.read_text(errors="replace").splitlines():
        # A process frame's command line may span lines; a stack ends with its sample count.
        buffer = f"{buffer}\\n{line}" if buffer else line
        if re.search(r" \d+$", buffer):
            lines.append(buffer)
            buffer = ""
    total = 0
    inclusive, self_time, by_process, platform_code = Counter(), Counter(), Counter(), Counter()
    steps: dict[str, dict[str, Counter]] = defaultdict(lambda: {"inclusive": Counter(), "self": Counter(), "samples": Counter()})
    for line in lines:
        stack, count = line.rsplit(" ", 1)
        count = int(count)
        total += count
        processes, code = [], []
        for frame in stack.split(";"):
            if frame.startswith("process "):
                processes.append(frame)
                continue
            m = _FRAME.match(frame)
            code.append(f"{_short(m['file'])}:{m['func']}" if m else frame)
        by_process[_process_label(processes, code)] += count
        for name in set(code):
            inclusive[name] += count
        for name in {c for c in code if c.startswith("complaints_platform/")}:
            platform_code[name] += count
        if code:
            self_time[code[-1]] += count
        # Inside an asset body: what under it holds the time (library frames below the platform's).
        for i, frame in enumerate(code):
            step = frame.rsplit(":", 1)[-1]
            if step in STEP_FUNCTIONS and frame.startswith("complaints_platform/defs/"):
                below = code[i + 1:]
                steps[step]["samples"]["all"] += count
                for name in set(below):
                    steps[step]["inclusive"][name] += count
                if below:
                    steps[step]["self"][below[-1]] += count
                break
    share = lambda c, n=None: [{"function": k, "share": round(v / (n or total), 4), "samples": v} for k, v in c.most_common(top)]  # noqa: E731
    return {
        "samples": total, "by_process": share(by_process), "platform_inclusive": share(platform_code),
        "self": share(self_time), "inclusive": share(inclusive),
        "asset_bodies": {
            step: {"samples": c["samples"]["all"], "share_of_run": round(c["samples"]["all"] / total, 4),
                   "inclusive": share(c["inclusive"], c["samples"]["all"]), "self": share(c["self"], c["samples"]["all"])}
            for step, c in steps.items()
        },
    }


_STEP_KEY = re.compile(r'step_keys_to_execute\\?"?: ?\[\\?"(?P<key>[\w.]+)')
STEP_FUNCTIONS = ("social_media_raw", "sms_raw", "web_forms_raw", "call_center_raw", "complaints_cleaned",
                  "complaints_categorised", "warehouse_models", "analytics_duckdb")


def _process_label(processes: list[str], code: list[str]) -> str:
    innermost = processes[-1] if processes else ""
    if re.search(r"/dbt[\" ]", innermost) or innermost.rstrip('"').endswith("/dbt"):
        return "dbt (subprocess of the dbt step)"
    for frame in code:
        for step in STEP_FUNCTIONS:
            if frame.endswith(f":{step}"):
                return f"step {step}: asset body"
    for process in reversed(processes):
        m = _STEP_KEY.search(process)
        if m:
            return f"step {m['key']}: worker start-up (load the code location) and events"
    if "multiprocessing.spawn" in innermost:
        return "step worker processes, outside the asset body: start-up (imports, load the Definitions), events"
    if any("asset materialize" in p or "asset_materialize" in p for p in processes[-1:]):
        return "CLI process: load definitions, plan, coordinate the run"
    return "other: " + (innermost.split(":", 1)[-1][:100] if innermost else "?")


# ==================================================================================================
# Report
# ==================================================================================================


def targets_for(records: int, results: dict) -> list[dict]:
    e2e = results.get("end_to_end", {}).get("median", {})
    rows = []

    def add(name, value, target, applies, ok):
        rows.append({"target": name, "value": value, "target_value": target, "applies_at": applies,
                     "met": ok if records in (applies if isinstance(applies, tuple) else (applies,)) or applies == "any" else None})

    for scale, limit in TARGETS["e2e_seconds"].items():
        add(f"e2e <= {limit} s at {scale_name(scale)}", e2e.get("wall_seconds"), limit, scale,
            e2e.get("wall_seconds") is not None and e2e["wall_seconds"] <= limit)
    for scale, limit in TARGETS["peak_rss_gib"].items():
        value = round(e2e["peak_rss_tree_mib"] / 1024, 2) if e2e.get("peak_rss_tree_mib") else None
        add(f"peak RSS < {limit} GiB at {scale_name(scale)}", value, limit, scale, value is not None and value < limit)
    floor = results.get("floor", {}).get("median_seconds")
    if floor and e2e.get("data_work_seconds"):
        value = round(e2e["data_work_seconds"] / floor, 1)
        add("data work <= 15x the DuckDB floor at 10M", value, 15, 10_000_000, value <= 15)
    incremental = results.get("incremental", {}).get("ratio")
    if incremental is not None:
        add("incremental ratio (90 d / 1 d) <= 1.2", incremental, 1.2, "any", incremental <= 1.2)
    student = results.get("category_student_bulk", {}).get("texts_per_second")
    if student:
        add("category inference >= 50k texts/s (student bulk path)", round(student), 50_000, "any", student >= 50_000)
    step = e2e.get("categorise_step_seconds")
    if step:
        cleaned = results["end_to_end"]["repeats"][0].get("verification", {}).get("cleaned")
        if cleaned:
            value = round(cleaned / step)
            add("category inference >= 50k texts/s (the complaints_categorised step)", value, 50_000, "any", value >= 50_000)
    return rows


def print_summary(bench: Bench) -> None:
    r = bench.results
    e2e = r.get("end_to_end", {}).get("median", {})
    fmt = lambda v, unit="": "-" if v is None else (f"{v:,.1f}{unit}" if isinstance(v, float) else f"{v:,}{unit}")  # noqa: E731
    print(f"\nPipeline benchmark, {bench.records:,} records ({bench.name}), day {bench.day}, median of {bench.args.repeat}, "
          f"executor {bench.args.executor}, load average before {r['machine']['loadavg_before']}")
    rows = [
        ("end to end (4 CLI runs, the 2 bronze at once)", e2e.get("wall_seconds"), "s"),
        ("  records/second", e2e.get("records_per_second"), ""),
        ("  cores busy (CPU time / wall)", e2e.get("cores_busy"), ""),
        ("  peak RSS, process tree", e2e.get("peak_rss_tree_mib"), " MiB"),
        ("  peak RSS, largest process", e2e.get("peak_rss_single_mib"), " MiB"),
        ("  data work (union of step times)", e2e.get("data_work_seconds"), "s"),
        ("  Dagster overhead (wall - steps)", e2e.get("dagster_overhead_seconds"), "s"),
        ("bronze: 2 runs at once, wall", e2e.get("bronze_wall_seconds"), "s"),
        *((f"  step {a}", e2e.get(f"bronze_{c}_step_seconds"), "s") for c, a in BRONZE_ASSETS.items()),
        ("silver: complaints_cleaned step", e2e.get("silver_step_seconds"), "s"),
        ("categorise: complaints_categorised step", e2e.get("categorise_step_seconds"), "s"),
        ("marts: run wall", e2e.get("marts_wall_seconds"), "s"),
        ("  dbt build step", e2e.get("dbt_build_step_seconds"), "s"),
        ("  analytics_duckdb publish step", e2e.get("publish_step_seconds"), "s"),
    ]
    if "floor" in r:
        floor = r["floor"]["median_seconds"]
        rows += [("floor: DuckDB alone, same inputs", floor, "s"),
                 ("  e2e / floor", round(e2e["wall_seconds"] / floor, 1) if floor and e2e.get("wall_seconds") else None, "x"),
                 ("  data work / floor", round(e2e["data_work_seconds"] / floor, 1) if floor and e2e.get("data_work_seconds") else None, "x")]
    fixed = r.get("fixed_costs", {})
    for key, label in (("import_definitions", "fixed: import the Definitions"),
                       ("cli_empty_partition_multiprocess", "fixed: CLI, empty partition (multiprocess)"),
                       ("cli_empty_partition_in_process", "fixed: CLI, empty partition (in-process)"),
                       ("marts_on_empty_lake", "fixed: marts run on an empty lake"),
                       ("dbt_build_empty_cold_parse", "fixed: plain dbt build, empty, cold parse"),
                       ("dbt_build_empty_warm_parse", "fixed: plain dbt build, empty, warm parse")):
        if key in fixed:
            rows.append((label, fixed[key]["median_wall_seconds"], "s"))
    if "marts_on_empty_lake" in fixed and fixed["marts_on_empty_lake"].get("median_step_seconds"):
        rows.append(("  of which the dbt build step", fixed["marts_on_empty_lake"]["median_step_seconds"].get("warehouse_models"), "s"))
    incr = r.get("incremental", {})
    for key, h in incr.get("history", {}).items():
        rows.append((f"incremental window, {h['history_days']} d history", h["median_wall_seconds"], "s"))
    if "ratio" in incr:
        rows.append((f"  ratio {bench.args.history_days} d / 1 d", incr["ratio"], "x"))
        if incr.get("median_paired_ratio"):
            rows.append(("  median of the repeats' own ratios", incr["median_paired_ratio"], "x"))
    if "category_student_bulk" in r:
        rows.append(("student bulk categorisation", r["category_student_bulk"].get("texts_per_second"), " texts/s"))
    width = max(len(label) for label, _, _ in rows)
    for label, value, unit in rows:
        print(f"  {label:<{width}}  {fmt(value, unit):>16}")
    print("\nTargets:")
    for t in r.get("targets", []):
        met = {True: "met", False: "NOT met", None: "n/a at this scale"}[t["met"]]
        print(f"  {t['target']:<62} {fmt(t['value']):>10}   {met}")
    v = [x.get("verification", {}) for x in r.get("end_to_end", {}).get("repeats", [])]
    if v:
        first = v[0]
        print(f"\nCorrectness: {'PASSED' if all(x.get('passed') for x in v) else 'FAILED'} in {len(v)} repeat(s). "
              f"Received {first.get('received', 0):,} = cleaned {first.get('cleaned', 0):,} + quarantined "
              f"{first.get('quarantined', 0):,} + duplicates {first.get('duplicates', 0):,}; planted copies merged "
              f"{first.get('planted_copies_merged', 0):,}/{first.get('planted_copies', 0):,}; merges of distinct complaints "
              f"{first.get('merges_of_distinct_complaints', 0):,}; category agreement with generated "
              f"{first.get('category_agreement_with_generated', 0):.3f}")
        for name, c in first.get("checks", {}).items():
            if not c["ok"]:
                print(f"  FAILED {name}: expected {c['expected']}, got {c['actual']}")


def machine() -> dict:
    load = os.getloadavg()
    mem = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":")
            mem[k] = int(v.split()[0])
    return {"cpus": os.cpu_count(), "mem_total_gib": round(mem["MemTotal"] / 2**20, 1),
            "mem_available_gib_before": round(mem["MemAvailable"] / 2**20, 1),
            "loadavg_before": [round(x, 2) for x in load], "python": platform.python_version(), "platform": platform.platform()}


def student_probe(lake: Path, day: str) -> int:
    """Internal: the student's bulk path on the day's cleaned texts (prints JSON)."""
    from complaints_platform.lib import categories as cat

    root = lake / "models" / "category_model"
    model = cat.load_model(root / (root / "CURRENT").read_text().strip())
    texts = pl.read_parquet(lake / "silver" / "complaints_cleaned" / f"date={day}" / "part.parquet", columns=["text_masked"]).get_column("text_masked").to_list()
    cat.predict_categories(model, texts[:5000])  # warm-up
    times = []
    for _ in range(3):
        t = time.perf_counter()
        cat.predict_categories(model, texts)
        times.append(time.perf_counter() - t)
    seconds = statistics.median(times)
    print(json.dumps({"texts": len(texts), "seconds": round(seconds, 3), "texts_per_second": round(len(texts) / seconds)}))
    return 0


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--student-probe":
        return student_probe(Path(sys.argv[2]), sys.argv[3])
    if len(sys.argv) == 3 and sys.argv[1] == "--analyse-profile":  # re-read a saved profile folder
        folder = Path(sys.argv[2])
        print(json.dumps({p.stem: analyse_profile(p) for p in sorted(folder.glob("*.txt"))}, indent=2))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=parse_scale, default=parse_scale("100k"), help="received records: 100k, 1M, 10M or a number")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--day", help="the day generated (default: three days ago, UTC)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--customers-ratio", type=float, default=0.5, help="CRM customers per record (default 0.5)")
    parser.add_argument("--executor", choices=["in_process", "multiprocess"], default="in_process",
                        help="the runs' executor (COMPLAINTS_EXECUTOR): the platform's default, all steps in the run's process, "
                             "or Dagster's default, a process per step")
    parser.add_argument("--history-days", type=int, default=90, help="history for the incremental test (vs 1 day)")
    parser.add_argument("--root", help="where the data goes (default /tmp/complaints-pipeline-bench/<scale>)")
    parser.add_argument("--reuse-data", action="store_true", help="keep the generated inputs of an earlier run with the same settings")
    parser.add_argument("--skip-floor", action="store_true")
    parser.add_argument("--skip-fixed", action="store_true")
    parser.add_argument("--skip-incremental", action="store_true")
    parser.add_argument("--only-floor", action="store_true", help="only the DuckDB floor, on an earlier run's inputs")
    parser.add_argument("--merge-into", help="with --only-floor: the results JSON of that earlier run, updated in place")
    parser.add_argument("--only-incremental", action="store_true",
                        help="only the incremental test, on the inputs and day lake an earlier run left in --root")
    parser.add_argument("--profile", action="store_true", help="one more end-to-end pass under py-spy (pip install py-spy)")
    parser.add_argument("--profile-rate", type=int, default=50)
    parser.add_argument("--profile-idle", action="store_true",
                        help="py-spy --idle: also sample waiting threads (I/O, HTTP, locks), for wall-clock shares")
    args = parser.parse_args()
    if args.profile and not (VENV_BIN / "py-spy").exists():
        raise SystemExit("--profile needs py-spy in the virtual environment: .venv/bin/python -m uv pip install py-spy")

    bench = Bench(args)
    bench.results.update({
        "benchmark": "pipeline", "scale": bench.name, "records": bench.records, "day": bench.day.isoformat(),
        "repeat": args.repeat, "executor": args.executor, "history_days": args.history_days, "seed": args.seed,
        "root": str(bench.root), "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(), "command": " ".join([Path(sys.executable).name, *sys.argv]),
    })
    bench.root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if args.only_floor:  # the floor again, on the inputs of an earlier run; merged into its results
        args.reuse_data = True
        bench.generate()
        floors = [bench.floor(i) for i in range(args.repeat)]
        results = json.loads(Path(args.merge_into).read_text()) if args.merge_into else bench.results
        results["floor"] = floor_summary(floors) | {
            "measured_separately_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "loadavg_after": [round(x, 2) for x in os.getloadavg()]}
        results["targets"] = targets_for(bench.records, results)
        out = Path(args.merge_into) if args.merge_into else RESULTS / f"pipeline-{bench.name}-floor-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}.json"
        out.write_text(json.dumps(results, indent=2, default=str))
        bench.results = results
        print_summary(bench)
        print(f"\nResults: {out}")
        return 0 if all(f["returncode"] == 0 for f in floors) else 1
    if args.only_incremental:  # reuse the inputs, template and day lake of an earlier full run
        args.reuse_data = True
        bench.template, bench.last_lake = bench.root / "template", bench.root / "lake"
        if not (bench.last_lake / "analytics.duckdb").exists():
            raise SystemExit(f"--only-incremental needs an earlier run's lake in {bench.last_lake}")
    bench.generate()

    from complaints_platform.simulate.servers import cli_server, free_port

    os.environ["COMPLAINTS_SMS_API_TOKEN"] = SMS_TOKEN
    os.environ["COMPLAINTS_DATA_DIR"] = str(bench.root / "simulator")
    messages = bench.inputs / "simulator" / "sms_messages-all.jsonl"
    with cli_server(["sms-simulator", "--messages", str(messages)], free_port(), bench.logs / "sms-simulator.log",
                    timeout=max(60.0, bench.records / 10_000)) as url:
        bench.sms_url = url
        if args.only_incremental:
            bench.incremental()
            e2e_ok = False
        else:
            bench.setup()
            bench.end_to_end()
            if not args.skip_fixed:
                bench.fixed_costs()
            e2e_ok = any(r["ok"] for r in bench.results["end_to_end"]["repeats"])
        if e2e_ok:
            bench.student_probe()
            if not args.skip_incremental:
                bench.incremental()
            if args.profile:
                bench.profile()
    bench.results["targets"] = targets_for(bench.records, bench.results)
    bench.results["machine"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    bench.results["benchmark_seconds"] = round(time.perf_counter() - started, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"pipeline-{bench.name}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(bench.results, indent=2, default=str))
    print_summary(bench)
    print(f"\nResults: {out}  (benchmark took {bench.results['benchmark_seconds']:.0f}s)")
    if args.only_incremental:
        return 0 if all(r["ok"] for h in bench.results["incremental"]["history"].values() for r in h["repeats"]) else 1
    verified = bench.results.get("end_to_end", {}).get("median", {}).get("verified_all_repeats")
    return 0 if verified else 1


if __name__ == "__main__":
    raise SystemExit(main())
