"""``loa audit verify|checkpoint|reconcile`` and ``loa report monthly``: what the Culture
Department's auditors and the operator run against the controller's database (docs/audit.md).
Each imports the controller only when it runs, as every ``loa`` subcommand does."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def verify(args: argparse.Namespace) -> int:
    from controller.audit_verify import AuditError, run
    from controller.settings import Settings

    try:
        summary = run(Settings(), args.checkpoint)
    except AuditError as exc:
        print(f"loa audit verify: {exc}", file=sys.stderr)
        return 1
    print(summary.line())
    return 0


def checkpoint(_args: argparse.Namespace) -> int:
    from controller.checkpoints import write
    from controller.db import make_engine
    from controller.keys import Signer
    from controller.models import utcnow
    from controller.settings import Settings

    settings = Settings()
    engine = make_engine(settings.resolved_database_url)
    try:
        signer = Signer.from_file(settings.resolved_signing_key_path)
        document, path = write(engine, signer=signer, settings=settings, now=utcnow())
    finally:
        engine.dispose()
    audit, receipts = document["audit"], document["receipts"]
    print(f"checkpoint {document['day']}: audit seq {audit['seq']}, receipts seq {receipts['seq']} → {path}")
    return 0


def reconcile(_args: argparse.Namespace) -> int:
    from controller.asrun_fold import AsRunFold
    from controller.db import make_engine
    from controller.settings import Settings

    settings = Settings()
    engine = make_engine(settings.resolved_database_url)
    try:
        report = AsRunFold.from_settings(engine, settings).run()
    finally:
        engine.dispose()
    print(f"as-run log up to date: {report.line()}")
    return 0


def report_monthly(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from sqlmodel import Session, select

    from controller.db import make_engine
    from controller.models import User, utcnow
    from controller.report_pdf import monthly_pdf, parse_month
    from controller.settings import Settings

    settings = Settings()
    tz = ZoneInfo(settings.timezone)
    now = utcnow()
    month = parse_month(args.month) if args.month else now.astimezone(tz).date().replace(day=1)
    engine = make_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session:
            if args.user:
                user = session.exec(select(User).where(User.username == args.user)).first()
                if user is None:
                    print(f"loa report: no user {args.user!r}", file=sys.stderr)
                    return 1
            else:  # the whole province, read-only, as the Culture Department's auditor sees it
                user = User(username="", full_name="", role="auditor", password_hash="")
            body = monthly_pdf(
                session,
                user=user,
                month=month,
                tz=tz,
                now=now,
                issuer=settings.report_issuer,
                commune_id=args.commune,
                font_dir=settings.report_font_dir,
                threshold_ms=float(settings.clock_audit_threshold_ms),
            )
    finally:
        engine.dispose()
    output = args.output or Path(f"loa-report-{month:%Y-%m}.pdf")
    output.write_bytes(body)
    print(f"monthly report {month:%m/%Y}: {len(body)} bytes → {output}")
    return 0
