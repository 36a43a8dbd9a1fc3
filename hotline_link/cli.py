"""The ``hotline-link`` command: sandbox, serve, demo.

Every ``HotlineError`` ends as one line on stderr and exit status 2; a traceback means a bug.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from hotline_link.errors import HotlineError
from hotline_link.logs import configure_logging
from hotline_link.tasks import run_job
from hotline_link.settings import Settings, load_settings


def _status_line(status) -> str:  # type: ignore[no-untyped-def]
    return json.dumps({
        "running": status.running,
        "rootfs_ready": status.rootfs_ready,
        "redis_pid": status.redis_pid,
        "sites": {s.site_id: {"pid": s.pid, "ami": s.ami_open, "channels": s.channels,
                              "contacts": s.contacts} for s in status.sites},
    })


def _cmd_sandbox(settings: Settings, args: argparse.Namespace) -> int:
    from hotline_link.sandbox import Sandbox

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


def _cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from hotline_link.server import run_forever

    run_job(run_forever(settings))
    return 0


def _cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from hotline_link.demo import run_demo

    return run_job(run_demo(settings, calls=args.calls, keep_running=not args.once))


def _cmd_chaos(settings: Settings, args: argparse.Namespace) -> int:
    from hotline_link.chaos import run_chaos

    result = run_job(run_chaos(settings, rate=args.rate, outage_s=args.outage, calm_s=args.calm))
    print(json.dumps(result))
    transfers_came_back = all(t["outcome"] == "target_unreachable" and t["back_with_agent"]
                              for t in result["trunk_transfers"])
    return 0 if result["lost_calls"] == 0 and result["ticket_events_lost"] == 0 \
        and result["recovered"] == result["faults"] and transfers_came_back else 1


def _cmd_bench(settings: Settings, args: argparse.Namespace) -> int:
    if args.what == "deadlines":
        from linkage.bench import run_deadline_bench

        result = run_job(run_deadline_bench(settings, open_tickets=args.open))
    elif args.what == "api":
        from hotline_link.bench_api import run_api_bench

        result = run_job(run_api_bench(settings, duration_s=args.duration, rate=args.rate,
                                           config=args.config))
    elif args.what == "surge":
        from hotline_link.bench_surge import run_surge_bench

        result = run_job(run_surge_bench(settings, calls=args.calls, spread_s=args.spread,
                                             ivr=args.ivr))
    else:
        from hotline_link.bench import run_transfer_bench

        result = run_job(run_transfer_bench(settings, count=args.count, concurrent=args.concurrent))
    print(json.dumps(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline-link", description=__doc__)
    parser.add_argument("--config", type=Path, help="TOML settings file (or HOTLINE_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)

    sandbox = sub.add_parser("sandbox", help="the local Asterisk 22 + Redis sandbox")
    sandbox.add_argument("action", choices=("up", "down", "status", "clear"),
                         help="clear: hang up every channel and unregister every agent's contact")
    sandbox.add_argument("--rebuild", action="store_true", help="rebuild the cached sid root")
    sandbox.add_argument("--no-build", action="store_true",
                         help="fail instead of building the sid root when it is missing")
    sandbox.set_defaults(func=_cmd_sandbox)

    serve = sub.add_parser("serve", help="run the server: AMI manager, FastAGI, HTTP")
    serve.set_defaults(func=_cmd_serve)

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
    bench.add_argument("--calls", type=int, default=60, help="surge: calls in the spike")
    bench.add_argument("--spread", type=float, default=10.0, help="surge: seconds the spike lasts")
    bench.add_argument("--ivr", action="store_true", help="surge: offer the IVR to queued callers")
    bench.set_defaults(func=_cmd_bench)

    chaos = sub.add_parser("chaos", help="AMI link cut, Redis, server and Asterisk restarts, trunk down, "
                                           "while SIPp calls flow (JSON)")
    chaos.add_argument("--rate", type=float, default=1.0, help="calls per second")
    chaos.add_argument("--outage", type=float, default=3.0, help="seconds Redis or the server stays away")
    chaos.add_argument("--calm", type=float, default=5.0, help="seconds of plain calls between faults")
    chaos.set_defaults(func=_cmd_chaos)

    from tickets.classify_cli import add_classify_parser

    add_classify_parser(sub)
    from linkage.report_cli import add_report_parser

    add_report_parser(sub)
    from ivr.prompts_cli import add_prompts_parser

    add_prompts_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
        configure_logging(settings.log_level)
        return int(args.func(settings, args))
    except HotlineError as exc:
        print(f"hotline-link: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
