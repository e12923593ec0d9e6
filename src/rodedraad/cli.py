"""``rodedraad``: the command line. Sub-commands: ``serve``, ``token``."""

import argparse
import sys
from collections.abc import Sequence
from datetime import timedelta

from rodedraad.settings import Settings, SettingsError


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
