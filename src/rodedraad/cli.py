"""``rodedraad``: the command line. Sub-commands: ``serve``, ``token``."""

import argparse
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from rodedraad.settings import Settings, SettingsError

if TYPE_CHECKING:
    from projections.worker import Progress


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from rodedraad.logs import configure_logging
    from rodedraad.wiring import Container

    configure_logging(settings.log_level, settings.log_format)
    container = Container.build(settings)
    host = args.host or settings.http.host
    port = args.port or settings.http.port
    print(
        f"Rode Draad on http://{host}:{port} (API docs: /schema) — "
        f"{'PostgreSQL' if settings.database.is_postgres else settings.database.url}",
        file=sys.stderr,
    )
    uvicorn.run(
        container.http_app(),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
    )
    return 0


def _token(settings: Settings, args: argparse.Namespace) -> int:
    from api.auth import LocalTokens

    if settings.auth.uses_issuer:
        print(
            "this deployment verifies tokens from an external issuer "
            f"({settings.auth.issuer}); get a token there",
            file=sys.stderr,
        )
        return 2
    tokens = LocalTokens.from_file(settings.auth.secret_file)
    print(
        tokens.issue(
            user=args.user,
            organisation=args.org,
            roles=args.role,
            region=args.region,
            valid_for=timedelta(hours=args.hours),
        )
    )
    return 0


def _projections_run(settings: Settings, args: argparse.Namespace) -> int:
    """Production: the projection workers as their own process (stops on SIGTERM / Ctrl-C)."""
    import signal
    import threading

    from rodedraad.logs import configure_logging
    from rodedraad.wiring import (
        build_care_record,
        build_projection_worker,
        wakeup_for,
    )

    configure_logging(settings.log_level, settings.log_format)
    care_record = build_care_record(settings)
    worker = build_projection_worker(settings, care_record, progress=_print_progress)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    wakeup = wakeup_for(settings, care_record)
    try:
        worker.run(stop, wakeup)
    finally:
        worker.database.close()
        care_record.close()
    return 0


def _print_progress(progress: "Progress") -> None:
    print(progress.line(), file=sys.stderr, flush=True)


def _projections_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    """Build a fresh copy beside the live one, catch up, switch atomically; reads go on."""
    from rodedraad.logs import configure_logging
    from rodedraad.wiring import build_care_record, build_projection_worker

    configure_logging(settings.log_level, settings.log_format)
    care_record = build_care_record(settings)
    worker = build_projection_worker(settings, care_record)
    try:
        names = [p.name for p in worker.projections] if args.name == "all" else [args.name]
        for name in names:
            try:
                position = worker.rebuild(name, _print_progress)
            except KeyError as e:
                print(f"rodedraad: {e.args[0]}", file=sys.stderr)
                return 2
            print(f"{name}: rebuilt up to log position {position}", file=sys.stderr)
    finally:
        worker.database.close()
        care_record.close()
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="rodedraad", description="Rode Draad: the common thread of care trajectories."
    )
    commands = root.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve", help="run the HTTP API (embedded: everything in one process)"
    )
    serve.add_argument("--host", help="address to listen on (default RODEDRAAD_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default RODEDRAAD_PORT)")
    serve.set_defaults(run=_serve)

    token = commands.add_parser("token", help="print a bearer token for local use (embedded mode)")
    token.add_argument("--user", required=True, help="user id (the token's sub)")
    token.add_argument("--org", required=True, help="the user's organisation")
    token.add_argument(
        "--role", action="append", required=True, help="a role; repeat for more than one"
    )
    token.add_argument("--region", required=True, help="the user's region")
    token.add_argument("--hours", type=float, default=12.0, help="validity in hours (default 12)")
    token.set_defaults(run=_token)

    projections = commands.add_parser("projections", help="the read models").add_subparsers(
        dest="projections_command", required=True
    )
    run = projections.add_parser("run", help="follow the event log (production: its own process)")
    run.set_defaults(run=_projections_run)
    rebuild = projections.add_parser(
        "rebuild", help="rebuild a read model beside the live one and switch over atomically"
    )
    rebuild.add_argument("name", help="plan_state, timeline, or all")
    rebuild.set_defaults(run=_projections_rebuild)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as e:
        print(f"rodedraad: {e}", file=sys.stderr)
        return 2
    result: int = args.run(settings, args)
    return result


if __name__ == "__main__":
    sys.exit(main())
