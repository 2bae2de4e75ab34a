"""The ``loa`` command. Each subcommand imports only what it needs (the agent stays light)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from controller.app import create_app
    from controller.db import migrate
    from controller.settings import Settings

    settings = Settings()
    migrate(settings.resolved_database_url)
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level=args.log_level.lower()
    )
    return 0


def _migrate(_args: argparse.Namespace) -> int:
    from controller.db import migrate
    from controller.settings import Settings

    migrate(Settings().resolved_database_url)
    return 0


def _agent(args: argparse.Namespace) -> int:
    from edge_agent.main import main as agent_main

    return agent_main(["--config", str(args.config), "--log-level", args.log_level])


def _agent_enroll(args: argparse.Namespace) -> int:
    from edge_agent.enroll import EnrollError, enroll

    try:
        config = enroll(
            args.controller, args.code, args.config, args.data_dir / "device_key.pem", sink=args.sink
        )
    except EnrollError as exc:
        print(f"loa agent enroll: {exc}", file=sys.stderr)
        return 1
    print(f"Enrolled as {config.device_id}; configuration written to {args.config}.")
    return 0


def _normalize(args: argparse.Namespace) -> int:
    from audio.normalize import main as normalize_main

    return normalize_main(args.args)


def _render(args: argparse.Namespace) -> int:
    from audio.cli import render_main

    return render_main(args.args)


def _demo(args: argparse.Namespace) -> int:
    from loa.demo import run_demo

    return run_demo(data_dir=args.data_dir, port=args.port, boxes=args.boxes, keep=args.keep)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loa", description="Loa: digital grassroots loudspeaker system")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the controller (panel, API, MQTT gateway, scheduler)")
    serve.set_defaults(func=_serve)

    mig = sub.add_parser("migrate", help="bring the database schema up to date")
    mig.set_defaults(func=_migrate)

    agent = sub.add_parser("agent", help="run the speaker-box agent (or enrol a new box: agent enroll)")
    agent.add_argument("--config", type=Path, default=Path("/etc/loa/agent.toml"), help="agent.toml")
    agent.set_defaults(func=_agent)
    agent_sub = agent.add_subparsers(dest="agent_command")
    enroll = agent_sub.add_parser(
        "enroll", help="trade a one-time enrolment code for this box's credentials and write its config"
    )
    enroll.add_argument(
        "--controller", required=True, help="the controller's URL, e.g. https://loa.example.vn"
    )
    enroll.add_argument("--code", required=True, help="the one-time code from the panel, e.g. ABCD-EFGH-JK")
    enroll.add_argument("--config", type=Path, default=Path("/etc/loa/agent.toml"), help="config to write")
    enroll.add_argument(
        "--data-dir", type=Path, default=Path("/var/lib/loa"), help="where the box keeps its key and state"
    )
    enroll.add_argument(
        "--sink", choices=["alsa", "file"], default="alsa", help="audio output of a new config"
    )
    enroll.set_defaults(func=_agent_enroll)

    normalize = sub.add_parser(
        "normalize", add_help=False, help="Vietnamese text on stdin → its spoken form on stdout [--accent A]"
    )
    normalize.add_argument("args", nargs=argparse.REMAINDER)
    normalize.set_defaults(func=_normalize)

    render = sub.add_parser(
        "render", add_help=False, help="INPUT (.txt or a recording) → broadcast-ready audio: --out OUTPUT …"
    )
    render.add_argument("args", nargs=argparse.REMAINDER)
    render.set_defaults(func=_render)

    demo = sub.add_parser("demo", help="run a full local demo: broker, controller, boxes, demo data")
    demo.add_argument(
        "--data-dir", type=Path, default=Path(".loa-demo"), help="where the demo keeps its state"
    )
    demo.add_argument("--port", type=int, default=8000, help="controller port")
    demo.add_argument("--boxes", type=int, default=3, help="number of speaker boxes")
    demo.add_argument("--keep", action="store_true", help="reuse the data of the previous demo run")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    head = argv[2:] if argv[:1] == ["--log-level"] else argv
    if head[:1] in (["normalize"], ["render"]):
        # These tools parse their own options; everything after the command name is theirs.
        argv = [*argv[: len(argv) - len(head) + 1], "--", *head[1:]]
    args = build_parser().parse_args(argv)
    if hasattr(args, "args"):
        args.args = [a for a in args.args if a != "--"]
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one line for the user; the traceback only when asked for
        logging.getLogger("loa").debug("failed", exc_info=True)
        print(f"loa {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
