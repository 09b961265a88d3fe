"""The ``hub`` command: run, web, worker, migrate, demo, create-admin, import-clients,
create-token, add-channel."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from hub.errors import HubError
from hub.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    settings = Settings.from_environ()
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.log_level.upper() != "DEBUG":
        # Alembic narrates every plugin and step at INFO; only its problems matter here
        logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        return int(args.handler(settings, args) or 0)
    except HubError as exc:  # a refusal with a reason (bad password, unknown org): no traceback
        print(f"fout: {exc.message}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description="Zorghub")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    for name, handler, text in (
        ("run", cmd_run, "web + worker + private Redis on one machine"),
        ("web", cmd_web, "the web process only"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
        p.set_defaults(handler=handler)
    sub.add_parser("worker", help="the arq worker").set_defaults(handler=cmd_worker)
    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(
        handler=cmd_migrate)
    sub.add_parser("demo", help="create the demo organisation and print its logins"
                   ).set_defaults(handler=cmd_demo)
    p = sub.add_parser("create-admin", help="create an admin account")
    p.add_argument("--email", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--org", help="organisation slug (created when missing)")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from standard input instead of prompting")
    p.set_defaults(handler=cmd_create_admin)
    p = sub.add_parser("import-clients", help="import client records from a CSV export")
    p.add_argument("file", type=Path)
    p.add_argument("--org", help="organisation slug")
    p.add_argument("--dry-run", action="store_true", help="report, change nothing")
    p.add_argument("--encoding", help="file encoding (default: detect UTF-8, else cp1252)")
    p.set_defaults(handler=cmd_import_clients)
    p = sub.add_parser("create-token", help="create an API token (printed once)")
    p.add_argument("--org", help="organisation slug")
    p.add_argument("--name", required=True, help="what the token is for, e.g. the ECD")
    p.set_defaults(handler=cmd_create_token)
    p = sub.add_parser("add-channel", help="connect a WhatsApp number or Facebook Page")
    p.add_argument("--org", help="organisation slug")
    p.add_argument("--kind", required=True, choices=["whatsapp", "messenger"])
    p.add_argument("--account-id", required=True,
                   help="WhatsApp phone_number_id or Facebook Page id")
    p.add_argument("--name", required=True, help="how staff see it, e.g. 'WhatsApp team Noord'")
    p.add_argument("--token-stdin", action="store_true",
                   help="read the access token from standard input instead of prompting")
    p.add_argument("--notice-template", default="",
                   help="WhatsApp: approved template sent outside the 24-hour window "
                        "(one body parameter: the portal link)")
    p.add_argument("--notice-language", default="nl", help="language code of that template")
    p.add_argument("--disabled", action="store_true", help="connect it switched off")
    p.set_defaults(handler=cmd_add_channel)
    return parser


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from hub.db.migrate import upgrade

    upgrade(settings)
    print("database is up to date")
    return 0


def cmd_web(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from hub.app import create_app
    from hub.realtime.app import uvicorn_options

    uvicorn.run(create_app(settings), host=args.host, port=args.port,
                log_level=settings.log_level.lower(), proxy_headers=True,
                **uvicorn_options(settings))
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from workers.main import run_worker

    run_worker(settings)
    return 0


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """Migrate, start a private Redis when none is configured, the worker, then web."""
    from hub.db.migrate import upgrade
    from hub.privateredis import PrivateRedis

    upgrade(settings)
    private = None
    if not settings.redis_url:
        private = PrivateRedis(settings.data_dir / "redis")
        private.start()
        settings = settings.with_changes(redis_url=private.url)
    env = {**os.environ, "HUB_REDIS_URL": settings.redis_url}
    worker = subprocess.Popen([sys.executable, "-m", "hub.cli", "worker"], env=env)
    # uvicorn re-raises SIGTERM after its graceful shutdown; with Python's default handler
    # that would end the process before the worker and the private Redis are stopped
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        print(f"Zorghub draait op http://{args.host}:{args.port}/", flush=True)
        return cmd_web(settings, args)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
        if private is not None:
            private.stop()


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from hub.records.demo import print_logins, seed_demo

    logins = asyncio.run(seed_demo(settings))
    print_logins(logins, settings.base_url)
    return 0


def cmd_create_admin(settings: Settings, args: argparse.Namespace) -> int:
    from hub.records.staff import create_admin

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Wachtwoord: ")
    staff_id = asyncio.run(create_admin(settings, args.org or settings.default_org_slug,
                                        args.email, args.name, password))
    print(f"admin {args.email} created (id {staff_id})")
    return 0


def cmd_create_token(settings: Settings, args: argparse.Namespace) -> int:
    from hub.records.staff import issue_api_token

    token = asyncio.run(issue_api_token(settings, args.org or settings.default_org_slug,
                                        args.name))
    print(token)
    print("Bewaar dit token nu: het wordt niet nog eens getoond.", file=sys.stderr)
    return 0


def cmd_add_channel(settings: Settings, args: argparse.Namespace) -> int:
    from hub.channels.accounts import AccountInput, add_channel

    if args.token_stdin:
        token = sys.stdin.readline().strip()
    else:
        token = getpass.getpass("Toegangstoken: ").strip()
    account = AccountInput(kind=args.kind, external_account_id=args.account_id,
                           name=args.name, access_token=token,
                           notice_template=args.notice_template,
                           notice_language=args.notice_language, enabled=not args.disabled)
    print(asyncio.run(add_channel(settings, args.org or settings.default_org_slug, account)))
    return 0


def cmd_import_clients(settings: Settings, args: argparse.Namespace) -> int:
    from hub.records.importer import run_import_command

    return asyncio.run(run_import_command(
        settings, args.file, org_slug=args.org or settings.default_org_slug,
        dry_run=args.dry_run, encoding=args.encoding,
    ))


if __name__ == "__main__":
    sys.exit(main())
