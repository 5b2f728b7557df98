"""`python -m mock_btp`: run the Destination service and Connectivity proxy stand-ins (see mock_btp/README.md)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

EPILOG = """
HTTP API (under http://HOST:PORT):
  POST /oauth/token (client_credentials), GET /token_keys, GET /health
  GET  /destination-configuration/v1/destinations/<name>   (Bearer token of destination_client; X-user-token)
  POST /mock-admin/revoke-tokens, GET /mock-admin/stats, POST /mock-admin/reset-stats,
  PUT|DELETE /mock-admin/destinations/<name>
proxy (http://HOST:PROXY_PORT): an HTTP forward proxy for http:// virtual hosts of the Cloud Connector mappings,
  Proxy-Authorization: Bearer <token of connectivity_client>; SAP-Connectivity-SCC-Location_ID;
  SAP-Connectivity-Authentication: Bearer <user JWT> for principal propagation.
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m mock_btp",
        description="Stand-ins for SAP BTP's Destination service (with its OAuth server) and Connectivity proxy.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8100, help="port of the HTTP API (default 8100)")
    parser.add_argument("--proxy-port", type=int, default=8101, help="port of the connectivity proxy (default 8101)")
    parser.add_argument("--config", required=True, metavar="FILE.json", help="clients, destinations, mappings")
    parser.add_argument(
        "--trusted-issuer",
        action="append",
        default=[],
        metavar="ISS",
        help="accept user JWTs with this iss (repeatable; pair each with --trusted-jwks-url)",
    )
    parser.add_argument(
        "--trusted-jwks-url", action="append", default=[], metavar="URL", help="JWKS URL of the trusted issuer"
    )
    parser.add_argument(
        "--token-ttl", type=int, default=3600, metavar="SECONDS", help="lifetime of issued tokens (default 3600)"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if len(args.trusted_issuer) != len(args.trusted_jwks_url):
        parser.error("every --trusted-issuer needs one --trusted-jwks-url")
    return args


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(message)s")
    logging.getLogger("werkzeug").setLevel(level)  # else werkzeug sets INFO itself and logs every request
    from werkzeug.serving import make_server  # imported late: --help stays fast

    from mock_btp.core import Btp, Config, Issuer, UserTokens
    from mock_btp.proxy import ProxyServer
    from mock_btp.service import create_app

    try:
        config = Config.load(args.config)
    except (OSError, ValueError) as exc:
        print(f"mock_btp: {exc}", file=sys.stderr)
        return 2
    host = f"[{args.host}]" if ":" in args.host else args.host  # IPv6
    base = f"http://{host}:{args.port}"
    btp = Btp(
        config=config,
        issuer=Issuer(f"{base}/oauth/token", args.token_ttl),
        user_tokens=UserTokens(dict(zip(args.trusted_issuer, args.trusted_jwks_url, strict=True))),
    )
    api = make_server(args.host, args.port, create_app(btp), threaded=True)  # threaded: HTTP/1.1 keep-alive
    proxy = ProxyServer((args.host, args.proxy_port), btp, verbose=args.verbose)
    threading.Thread(target=proxy.serve_forever, name="proxy", daemon=True).start()
    signal.signal(signal.SIGTERM, _stop)
    print(f"mock BTP listening on {base} (proxy http://{host}:{args.proxy_port})", flush=True)
    try:
        api.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
