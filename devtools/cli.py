"""The dev tools' commands of ``hotline-link``: sandbox, demo, bench, chaos (registered
through the ``hotline_link.commands`` entry point group)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from hotline_link.core.settings import Settings
from hotline_link.core.tasks import run_job

if TYPE_CHECKING:
    from devtools.sandbox import SandboxStatus


def _status_line(status: SandboxStatus) -> str:
    return json.dumps({
        "running": status.running,
        "rootfs_ready": status.rootfs_ready,
        "redis_pid": status.redis_pid,
        "deployments": {platform: {"redis_pid": pid} for platform, pid in status.deployment_redis_pids.items()},
        "sites": {s.site_id: {"pid": s.pid, "ami": s.ami_open, "channels": s.channels,
                              "contacts": s.contacts} for s in status.sites},
    })


def _cmd_sandbox(settings: Settings, args: argparse.Namespace) -> int:
    from devtools.sandbox import Sandbox

    sandbox = Sandbox(settings)
    if args.action == "up":
        status = sandbox.up(rebuild=args.rebuild, build=not args.no_build)
    elif args.action == "down":
        status = sandbox.down()
    elif args.action == "clear":
        sandbox.clear()
        status = sandbox.status()
    else:
        status = sandbox.status()
    print(_status_line(status))
    return 0 if args.action != "status" or status.running else 1


def _cmd_chaos_two(settings: Settings, args: argparse.Namespace) -> int:
    from devtools.chaos_deployments import run_two_deployment_chaos

    result = run_job(run_two_deployment_chaos(settings, rate=args.rate, outage_s=args.outage, calm_s=args.calm))
    print(json.dumps(result))
    whole = all(result[k] == 0 for k in ("lost_calls", "messages_lost", "messages_doubled", "restricted_leaked"))
    crossed = bool(result["transfers"]) and all(t["outcome"] == "answered" and t["linked"]
                                                for t in result["transfers"])
    return 0 if whole and crossed and result["max_backlog_drain_s"] is not None and result["messages_sent"] > 0 \
        else 1


def _cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from devtools.demo import run_demo

    return run_job(run_demo(settings, calls=args.calls, keep_running=not args.once))


def _cmd_chaos(settings: Settings, args: argparse.Namespace) -> int:
    if args.deployments == "two":
        return _cmd_chaos_two(settings, args)
    from devtools.chaos import run_chaos

    result = run_job(run_chaos(settings, rate=args.rate, outage_s=args.outage, calm_s=args.calm))
    print(json.dumps(result))
    transfers_came_back = all(t["outcome"] == "target_unreachable" and t["back_with_agent"]
                              for t in result["trunk_transfers"])
    return 0 if result["lost_calls"] == 0 and result["ticket_events_lost"] == 0 \
        and result["recovered"] == result["faults"] and transfers_came_back else 1


def _cmd_bench(settings: Settings, args: argparse.Namespace) -> int:
    if args.what == "deadlines":
        from devtools.bench.deadlines import run_deadline_bench

        result = run_job(run_deadline_bench(settings, open_tickets=args.open))
    elif args.what == "api":
        from devtools.bench.api import run_api_bench

        result = run_job(run_api_bench(settings, duration_s=args.duration, rate=args.rate,
                                           config=args.config))
    elif args.what == "surge":
        from devtools.bench.surge import run_surge_bench

        result = run_job(run_surge_bench(settings, calls=args.calls, spread_s=args.spread,
                                             ivr=args.ivr))
    else:
        from devtools.bench.transfer import run_transfer_bench

        via = tuple(part.strip() for part in args.via.split(",") if part.strip())
        result = run_job(run_transfer_bench(settings, count=args.count, concurrent=args.concurrent, via=via))
    print(json.dumps(result))
    return 0


def register(sub: Any) -> None:
    """Add the dev tools' commands to ``hotline-link``'s subparsers."""
    sandbox = sub.add_parser("sandbox", help="the local Asterisk 22 + Redis sandbox")
    sandbox.add_argument("action", choices=("up", "down", "status", "clear"),
                         help="clear: hang up every channel and unregister every agent's contact")
    sandbox.add_argument("--rebuild", action="store_true", help="rebuild the cached sid root")
    sandbox.add_argument("--no-build", action="store_true",
                         help="fail instead of building the sid root when it is missing")
    sandbox.set_defaults(func=_cmd_sandbox)

    demo = sub.add_parser("demo", help="sandbox up, server, a few real SIP calls")
    demo.add_argument("--calls", type=int, default=3)
    demo.add_argument("--once", action="store_true", help="exit after the calls")
    demo.set_defaults(func=_cmd_demo)

    bench = sub.add_parser("bench", help="benchmarks that print figures (JSON)")
    bench.add_argument("what", choices=("transfer", "surge", "api", "deadlines"))
    bench.add_argument("--open", type=int, default=100_000, help="deadlines: open tickets in Redis")
    bench.add_argument("--duration", type=float, default=60.0, help="api: seconds of load")
    bench.add_argument("--rate", type=float, default=200.0, help="api: requests per second (mixed reads)")
    bench.add_argument("--count", type=int, default=200, help="transfer: sequential transfers per side")
    bench.add_argument("--concurrent", type=int, default=20, help="transfer: transfers fired at once")
    bench.add_argument("--via", default="api",
                       help="transfer: how the agent asks, comma-separated: api, refer (a real softphone's "
                            "own REFER), desk (the click in the desk page); each against the AMI floor")
    bench.add_argument("--calls", type=int, default=60, help="surge: calls in the spike")
    bench.add_argument("--spread", type=float, default=10.0, help="surge: seconds the spike lasts")
    bench.add_argument("--ivr", action="store_true", help="surge: offer the IVR to queued callers")
    bench.set_defaults(func=_cmd_bench)

    chaos = sub.add_parser("chaos", help="AMI link cut, Redis, server and Asterisk restarts, trunk down, "
                                           "while SIPp calls flow (JSON)")
    chaos.add_argument("--rate", type=float, default=1.0, help="calls per second")
    chaos.add_argument("--outage", type=float, default=3.0, help="seconds Redis or the server stays away")
    chaos.add_argument("--calm", type=float, default=5.0, help="seconds of plain calls between faults")
    chaos.add_argument("--deployments", choices=("one", "two"), default="one",
                       help="two: the 12345 and 110 deployments, the exchange link cut and each server "
                            "restarted while calls and cases flow both ways")
    chaos.set_defaults(func=_cmd_chaos)

