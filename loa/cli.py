"""The ``loa`` command. Each subcommand imports only what it needs (the agent stays light)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from loa import audit_commands
from loa.logs import configure as configure_logging


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from controller.app import create_app
    from controller.db import migrate
    from controller.settings import Settings

    settings = Settings()
    configure_logging(args.log_level, settings.log_format)
    migrate(settings.resolved_database_url)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=args.log_level.lower(),
        # Behind nginx (deploy/nginx/loa.conf): trust its X-Forwarded-For/-Proto, so the app sees
        # the client's address and https.
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
        timeout_graceful_shutdown=10,  # open live pages (server-sent events) never end by themselves
        # JSON: uvicorn's own loggers go through the root handler too, one format for everything.
        **({"log_config": None} if settings.log_format == "json" else {}),
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


def _backup(args: argparse.Namespace) -> int:
    from controller.settings import Settings
    from loa.backup import Sources, backup

    manifest = backup(Sources.from_settings(Settings()), args.out)
    files = manifest["files"]
    media = [f for f in files if f["path"].startswith("media/")]
    size_mb = sum(f["bytes"] for f in media) / 1e6
    print(
        f"Backup written to {args.out}: {manifest['database']['kind']} database at migration "
        f"{manifest['database']['alembic_revision']}, {len(media)} media files ({size_mb:.1f} MB), "
        f"{len(files) - len(media)} key files."
    )
    return 0


def _restore(args: argparse.Namespace) -> int:
    from controller.settings import Settings
    from loa.backup import Sources
    from loa.restore import restore

    done = restore(Sources.from_settings(Settings()), args.archive)
    kept = f" The data it replaced is in {done.previous}." if done.previous else ""
    print(f"Restored the backup of {done.manifest['created_at']} from {args.archive}.{kept}")
    return 0


def _install_systemd(args: argparse.Namespace) -> int:
    from loa.install import default_source, plan, run

    steps = plan(root=args.root, source=args.source or default_source(), role=args.role)
    changed = run(steps, dry_run=args.dry_run, say=print)
    if not args.dry_run and changed and args.root.resolve() == Path("/"):
        unit = "loa-controller" if args.role == "controller" else "loa-agent"
        print(f"Next: edit /etc/loa/ files, then systemctl enable --now {unit} (docs/deploy.md).")
    return 0


def _user_add(args: argparse.Namespace) -> int:
    from controller.settings import Settings
    from loa.admin import read_password, stdin_is_terminal, user_add

    password = read_password(sys.stdin, prompt=stdin_is_terminal())
    user = user_add(
        Settings(),
        username=args.username,
        role=args.role,
        password=password,
        full_name=args.full_name,
        commune_codes=args.commune,
    )
    print(f"User {user.username} ({user.role}) created.")
    return 0


def _user_password(args: argparse.Namespace) -> int:
    from controller.settings import Settings
    from loa.admin import read_password, stdin_is_terminal, user_password

    user = user_password(
        Settings(), username=args.username, password=read_password(sys.stdin, prompt=stdin_is_terminal())
    )
    print(f"New password set for {user.username}; their sessions have ended.")
    return 0


def _agent_release_add(args: argparse.Namespace) -> int:
    from controller.settings import Settings
    from loa.admin import release_add

    print(release_add(Settings(), args.wheel))
    return 0


def _province_load(args: argparse.Namespace) -> int:
    from controller.settings import Settings
    from loa.admin import province_load

    name, communes = province_load(Settings(), province_code=args.code)
    print(f"{name}: {communes} communes and wards in the registry.")
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


def _fleet(args: argparse.Namespace) -> int:
    import subprocess

    rest = list(args.args)
    name = "faults.py" if rest[:1] == ["faults"] else "fleet.py"  # loa fleet faults: issue 9's fault suite
    rest = rest[1:] if name == "faults.py" else rest
    script = Path(__file__).resolve().parents[1] / "bench" / name
    if not script.exists():
        print(f"loa fleet: bench/{name} comes with Loa's source tree, not the package", file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, str(script), *rest])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loa", description="Loa: digital grassroots loudspeaker system")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument(
        "--log-format",
        default=os.environ.get("LOA_LOG_FORMAT", "text"),
        choices=["text", "json"],
        help="log lines as text or JSON objects (default: LOA_LOG_FORMAT, else text)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the controller (panel, API, MQTT gateway, scheduler)")
    serve.set_defaults(func=_serve)

    mig = sub.add_parser("migrate", help="bring the database schema up to date")
    mig.set_defaults(func=_migrate)

    audit = sub.add_parser("audit", help="check the tamper-evident audit log, or sign its head")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser(
        "verify", help="check both hash chains, every receipt's signature and every checkpoint"
    )
    verify.add_argument(
        "--checkpoint", type=Path, action="append", default=[], help="also a checkpoint file kept elsewhere"
    )
    verify.set_defaults(func=audit_commands.verify)
    checkpoint = audit_sub.add_parser("checkpoint", help="sign the chains' heads now (also done daily)")
    checkpoint.set_defaults(func=audit_commands.checkpoint)
    reconcile = audit_sub.add_parser(
        "reconcile",
        help="fold new timelines, receipts and statuses into the as-run log and the reports now "
        "(the leader does it every LOA_ASRUN_FOLD_SECONDS)",
    )
    reconcile.set_defaults(func=audit_commands.reconcile)

    report = sub.add_parser("report", help="reports: report monthly (the month's PDF in Vietnamese)")
    report_sub = report.add_subparsers(dest="report_command", required=True)
    monthly = report_sub.add_parser("monthly", help="write the monthly PDF report with the province's header")
    monthly.add_argument("--month", default="", help="YYYY-MM (default: this month)")
    monthly.add_argument("--commune", type=int, default=None, help="only this commune (its zone id)")
    monthly.add_argument("--user", default="", help="as this user sees it (default: the whole province)")
    monthly.add_argument(
        "--output", type=Path, default=None, help="PDF file (default: loa-report-YYYY-MM.pdf)"
    )
    monthly.set_defaults(func=audit_commands.report_monthly)
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

    backup = sub.add_parser("backup", help="write the database, media store and keys to one tar file")
    backup.add_argument("out", type=Path, metavar="OUT.tar", help="archive to write")
    backup.set_defaults(func=_backup)

    restore = sub.add_parser("restore", help="put a backup back (the controller must be stopped)")
    restore.add_argument("archive", type=Path, metavar="IN.tar", help="archive written by loa backup")
    restore.set_defaults(func=_restore)

    install = sub.add_parser(
        "install-systemd", help="install the systemd units, config snippets, the loa user and folders"
    )
    install.add_argument("--role", choices=["controller", "agent"], default="controller")
    install.add_argument("--root", type=Path, default=Path("/"), help="install under this folder")
    install.add_argument("--source", type=Path, help="Loa's source tree (default: the installed one)")
    install.add_argument("--dry-run", action="store_true", help="print what would be done, change nothing")
    install.set_defaults(func=_install_systemd)

    user = sub.add_parser("user", help="manage panel logins: user add, user password")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    user_add = user_sub.add_parser("add", help="create a login; the password is read from stdin or asked")
    user_add.add_argument("--username", required=True)
    user_add.add_argument("--role", required=True, help="admin, editor, approver, auditor or technician")
    user_add.add_argument("--full-name", help="name shown in the panel (default: the username)")
    user_add.add_argument(
        "--commune", action="append", default=[], help="commune code (editors, approvers); repeatable"
    )
    user_add.set_defaults(func=_user_add)
    user_password = user_sub.add_parser(
        "password", help="set a new password (read from stdin or asked), end the sessions, lift a lockout"
    )
    user_password.add_argument("--username", required=True)
    user_password.set_defaults(func=_user_password)

    release = sub.add_parser("agent-release", help="box agent releases: agent-release add")
    release_sub = release.add_subparsers(dest="release_command", required=True)
    release_add = release_sub.add_parser(
        "add", help="add a wheel of the agent; roll it out with POST /api/v1/agent-releases/VERSION/rollout"
    )
    release_add.add_argument("wheel", type=Path, help="loa-VERSION-py3-none-any.whl")
    release_add.set_defaults(func=_agent_release_add)

    province = sub.add_parser("province", help="administrative units: province load")
    province_sub = province.add_subparsers(dest="province_command", required=True)
    load = province_sub.add_parser("load", help="add the province and its communes and wards (idempotent)")
    load.add_argument("--code", type=int, default=40, help="province code (default 40, Nghệ An)")
    load.set_defaults(func=_province_load)

    demo = sub.add_parser("demo", help="run a full local demo: broker, controller, boxes, demo data")
    demo.add_argument(
        "--data-dir", type=Path, default=Path(".loa-demo"), help="where the demo keeps its state"
    )
    demo.add_argument("--port", type=int, default=8000, help="controller port")
    demo.add_argument("--boxes", type=int, default=3, help="number of speaker boxes")
    demo.add_argument("--keep", action="store_true", help="reuse the data of the previous demo run")
    demo.set_defaults(func=_demo)
    fleet = sub.add_parser(
        "fleet", add_help=False, help="N simulated boxes running the real agent, a broker, a controller"
    )
    fleet.add_argument("args", nargs=argparse.REMAINDER, help="bench/fleet.py's options (--boxes N …)")
    fleet.set_defaults(func=_fleet)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    head = argv[2:] if argv[:1] == ["--log-level"] else argv
    if head[:1] in (["normalize"], ["render"], ["fleet"]):
        # These tools parse their own options; everything after the command name is theirs.
        argv = [*argv[: len(argv) - len(head) + 1], "--", *head[1:]]
    args = build_parser().parse_args(argv)
    if hasattr(args, "args"):
        args.args = [a for a in args.args if a != "--"]
    configure_logging(args.log_level, args.log_format)
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
