"""Every benchmark, ``chaos`` and ``demo --once`` run for real with small parameters, as a
user would run them (a separate process, the sandbox's Asterisk, SIPp and Redis), so none
can rot unnoticed: each exits 0 and prints its JSON line with every field the README
documents. The figures themselves are not judged here (a smoke run is too small for
that; the README's figures come from full runs). After each, no channel and no agent
contact is left on any site."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devtools.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]

TRANSFER_FIELDS = {"transfers", "floor_transfers", "p50_ms", "p99_ms", "floor_p50_ms", "floor_p99_ms",
                   "concurrent", "concurrent_p50_ms", "concurrent_p99_ms", "concurrent_floor_p50_ms",
                   "concurrent_floor_p99_ms", "ratio_p50", "concurrent_p99_over_p50"}
SURGE_FIELDS = {"calls", "lost_calls", "overflowed", "wait_p50_s", "wait_p95_s", "wait_max_s", "ivr_handled",
                "overflow_started", "app_queue_calls", "app_queue_lost_calls", "app_queue_overflowed",
                "app_queue_wait_p50_s", "app_queue_wait_p95_s", "app_queue_wait_max_s", "wait_p95_ratio",
                "local_agents", "remote_agents", "spread_s", "talk_ms"}
API_FIELDS = {"bench", "target_rate", "duration_s", "requests", "answered", "errors", "rate", "p50_ms",
              "p99_ms", "max_ms", "rss_mb", "rss_growth_middle_to_end_mb"}
DEADLINE_FIELDS = {"open", "due", "found", "max_lateness_ms", "scan_ms_p99", "rss_mb", "rss_mb_before",
                   "idle_scan_ms_p99", "idle_scan_ms_p99_1k_open"}
CHAOS_FIELDS = {"calls", "lost_calls", "faults", "recovered", "recovery_s", "max_recovery_s", "ticket_events",
                "ticket_events_lost", "ticket_events_lost_kinds", "trunk_transfers", "calls_without_end",
                "fault_at_s", "lost_call_placed_at_s"}
STREAM_FIELDS = {"calls", "changes", "p50_ms", "p99_ms", "max_ms"}
CLASSIFY_FIELDS = {"cases", "accuracy", "recall_110", "precision_110", "recall_emergency", "false_alarms",
                   "ms_per_case"}


def _run(args: list[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    """One command of the repository, as its user runs it (the checkout's code)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout_s)
    assert done.returncode == 0, f"{args} exited {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _json_line(stdout: str, fields: set[str]) -> dict:
    """The last line of ``stdout``: one JSON object holding every documented field."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert lines, "no output"
    result = json.loads(lines[-1])
    assert isinstance(result, dict) and not fields - set(result), f"missing {sorted(fields - set(result))}"
    return result


@pytest.fixture
def clean_afterwards(sandbox_settings):
    """After the tool: every site has no channel and no agent contact left."""
    yield
    status = Sandbox(sandbox_settings).status()
    assert [(s.site_id, s.channels, s.contacts) for s in status.sites] == [
        (s.site_id, 0, 0) for s in status.sites]


def test_bench_transfer(clean_afterwards):
    done = _run(["-m", "hotline_link.cli", "bench", "transfer", "--count", "3", "--concurrent", "2",
                 "--via", "api,refer,desk"], 600)
    result = _json_line(done.stdout, TRANSFER_FIELDS | {f"{path}_{what}" for path in ("refer", "desk")
                                                        for what in ("transfers", "p50_ms", "p99_ms", "ratio_p50")})
    assert (result["transfers"], result["floor_transfers"], result["concurrent"]) == (3, 3, 2)
    assert (result["refer_transfers"], result["desk_transfers"]) == (3, 3)  # every path's INVITE reached 110


def test_bench_surge(clean_afterwards):
    done = _run(["-m", "hotline_link.cli", "bench", "surge", "--calls", "6", "--spread", "2"], 600)
    result = _json_line(done.stdout, SURGE_FIELDS)
    assert result["calls"] == 6 and result["app_queue_calls"] == 6


def test_bench_api(clean_afterwards):
    done = _run(["-m", "hotline_link.cli", "bench", "api", "--duration", "3", "--rate", "20"], 300)
    result = _json_line(done.stdout, API_FIELDS)
    assert result["requests"] > 0 and result["errors"] == 0


def test_bench_deadlines(clean_afterwards):
    done = _run(["-m", "hotline_link.cli", "bench", "deadlines", "--open", "2000"], 300)
    result = _json_line(done.stdout, DEADLINE_FIELDS)
    assert result["found"] == result["due"]


def test_supervisor_stream_bench(clean_afterwards):
    done = _run(["-m", "devtools.bench.stream", "--calls", "2"], 300)
    assert _json_line(done.stdout, STREAM_FIELDS)["changes"] > 0


def test_classify_accuracy_bench():
    done = _run(["devtools/bench/classify_accuracy.py"], 120)
    result = _json_line(done.stdout, {"tuning", "heldout", "blind", "blind2"})
    for name in ("tuning", "heldout", "blind", "blind2"):
        assert not CLASSIFY_FIELDS - set(result[name]) and result[name]["cases"] > 0, name


def test_chaos(clean_afterwards):
    done = _run(["-m", "hotline_link.cli", "chaos", "--rate", "1", "--outage", "1", "--calm", "1"], 900)
    result = _json_line(done.stdout, CHAOS_FIELDS)
    assert result["faults"] == 5 == result["recovered"]
    assert set(result["recovery_s"]) == {"ami_link_cut", "redis_restart", "server_restart", "asterisk_restart",
                                         "trunk_down"}
    assert result["trunk_transfers"] and all(t["outcome"] == "target_unreachable" and t["back_with_agent"]
                                             for t in result["trunk_transfers"])


CHAOS_TWO_FIELDS = {"deployments", "calls", "lost_calls", "cases", "messages_sent", "messages_delivered",
                    "messages_lost", "messages_doubled", "restricted_leaked", "restricted_cases", "drain_s",
                    "max_backlog_drain_s", "transfers"}


def test_chaos_on_two_deployments(clean_afterwards):
    done = _run(["-m", "hotline_link.cli", "chaos", "--deployments", "two", "--rate", "1", "--outage", "2",
                 "--calm", "2"], 900)
    result = _json_line(done.stdout, CHAOS_TWO_FIELDS)
    assert result["lost_calls"] == result["messages_lost"] == result["messages_doubled"] == 0, result
    assert result["restricted_leaked"] == 0 and result["restricted_cases"] > 0, result
    assert result["messages_delivered"] == result["messages_sent"] > 0, result
    assert set(result["drain_s"]) == {"exchange_link_cut", "server_restart_12345", "server_restart_110", "end"}
    assert result["max_backlog_drain_s"] is not None, result
    # a live caller transferred to 110 while the link was cut, and while 110's server was down
    assert [t["fault"] for t in result["transfers"]] == ["exchange_link_cut", "server_restart_110"], result
    assert all(t["outcome"] == "answered" and t["linked"] for t in result["transfers"]), result["transfers"]


def test_demo_once_shows_two_deployments_a_transfer_and_a_three_way_call(clean_afterwards):
    done = _run(["-m", "hotline_link.cli", "demo", "--once", "--calls", "2"], 600)
    out = done.stdout
    assert "2 of 2 calls were routed, answered by an agent and hung up cleanly." in out
    assert "the 12345 deployment: sites 12345, remote" in out and "the 110 deployment: sites 110" in out
    transfer = out[out.index("== one-click transfer"):out.index("== feedback written back")]
    assert "transfer.answered" in transfer and "source 12345" in transfer and "ok: transfer answered" in transfer
    assert "exchange.received.received" in transfer and "signed for by 2001" in transfer
    feedback = out[out.index("== feedback written back"):out.index("== three-way call")]
    assert "ok: 12345's ticket" in feedback and "heard accepted, arrived, dispatched, result" in feedback
    three_way = out[out.index("== three-way call"):out.index("== closed loop")]
    assert "conference.joined" in three_way and "conference.left" in three_way and "ok: the caller stayed" in three_way


def test_a_benchmark_stopped_by_sigterm_leaves_no_channel_or_contact(sandbox_settings):
    """SIGTERM in the middle of a run (softphones registered, calls placed): the benchmark
    stops like on Ctrl-C (exit 130) and its cleanup leaves the sandbox as it found it."""
    sandbox = Sandbox(sandbox_settings)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    bench = subprocess.Popen([sys.executable, "-m", "hotline_link.cli", "bench", "transfer", "--count", "4",
                              "--concurrent", "2"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    seen: list[tuple[str, int | None, int | None]] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # another process's progress: polled, there is no event
            seen = [(s.site_id, s.channels, s.contacts) for s in sandbox.status().sites]
            # its 110 phones register before the first call is placed at 12345
            if dict((site, channels) for site, channels, _ in seen).get("12345"):
                break
            assert bench.poll() is None, (f"the benchmark ended before calls were seen up; last status {seen}",
                                          bench.communicate())
            time.sleep(0.2)
        else:
            pytest.fail(f"the benchmark never had calls up; last status {seen}")
        bench.send_signal(signal.SIGTERM)
        out, err = bench.communicate(timeout=120)
    finally:
        if bench.poll() is None:
            bench.kill()
    assert bench.returncode == 130, (out[-2000:], err[-2000:])
    status = sandbox.status()
    assert [(s.site_id, s.channels, s.contacts) for s in status.sites] == [
        (s.site_id, 0, 0) for s in status.sites]
