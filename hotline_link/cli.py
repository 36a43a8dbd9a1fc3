"""The ``hotline-link`` command: serve, classify, report, prompts, backfill-cases; installed
extensions (the dev tools: sandbox, demo, bench, chaos) add theirs through the
``hotline_link.commands`` entry point group.

Every ``HotlineError`` ends as one line on stderr and exit status 2; a traceback means a bug.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path

from hotline_link.app import load_config
from hotline_link.core.errors import HotlineError
from hotline_link.core.logs import configure_logging
from hotline_link.core.settings import Settings
from hotline_link.core.tasks import run_job

COMMAND_GROUP = "hotline_link.commands"
DEV_COMMANDS = ("sandbox", "demo", "bench", "chaos")


def _cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from hotline_link.app import run_forever

    run_job(run_forever(settings))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline-link", description=__doc__)
    parser.add_argument("--config", type=Path, help="TOML settings file (or HOTLINE_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server: AMI manager, FastAGI, HTTP")
    serve.set_defaults(func=_cmd_serve)

    from tickets.classify_cli import add_classify_parser

    add_classify_parser(sub)
    from linkage.report_cli import add_report_parser

    add_report_parser(sub)
    from ivr.prompts_cli import add_prompts_parser

    add_prompts_parser(sub)
    from exchange.case_backfill_cli import add_backfill_parser

    add_backfill_parser(sub)
    for command in entry_points(group=COMMAND_GROUP):  # the dev tools' commands, when installed
        command.load()(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    wanted = next((a for a in argv if not a.startswith("-")), None)
    if wanted in DEV_COMMANDS and not entry_points(group=COMMAND_GROUP):
        print(f"hotline-link: error: '{wanted}' is a dev tool: install it with "
              "'pip install -e ./devtools' (make install does)", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    try:
        settings = load_config(args.config)
        configure_logging(settings.log_level)
        return int(args.func(settings, args))
    except HotlineError as exc:
        print(f"hotline-link: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
