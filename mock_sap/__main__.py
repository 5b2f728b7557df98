"""`python -m mock_sap`: run the mock SAP Gateway (see `--help` and mock_sap/README.md)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys

from mock_sap.auth import TrustedIssuer
from mock_sap.config import DEFAULT_SEED, MockOptions
from mock_sap.data.catalog import EXECUTIVES, NAMED_PASSWORD, TECHNICAL_PASSWORD, TECHNICAL_USER, default_users

EPILOG = f"""
services (under http://HOST:PORT):
  /sap/opu/odata/IWPGW/TASKPROCESSING;mo;v=2/        TaskCollection, Decision, DecisionOptions, Claim, Release, Forward
  /sap/opu/odata/sap/API_PURCHASEREQ_PROCESS_SRV/     A_PurchaseRequisitionHeader, A_PurchaseRequisitionItem
  /sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV/      A_ProductionOrder_2 (+Operation_2, Status_2),
                                                      ReleaseOrder, ReleaseOperation, TechlyCmpltOrder
  /sap/opu/odata/sap/API_PROD_ORDER_CONFIRMATION_2_SRV/  ProdnOrdConf2, CancelProdnOrdConf, GetConfProposal

users (HTTP Basic; change with --user NAME:PASSWORD):
  {TECHNICAL_USER} / {TECHNICAL_PASSWORD}   technical (communication) user
  {", ".join(EXECUTIVES)} / {NAMED_PASSWORD}   executives with open workflow tasks
  PM_<plant>, SUP_<work centre>, REQ_DAVID / {NAMED_PASSWORD}   e.g. PM_1010, SUP_ASSY1010
  Bearer JWTs (RS256) are accepted from --trusted-issuer; the SAP user is the user_name claim.

admin API (no authentication):
  GET /mock-admin/health, POST /mock-admin/reset, GET|POST|DELETE /mock-admin/faults,
  GET|DELETE /mock-admin/stats, GET|DELETE /mock-admin/requests (the last 200 OData requests as sent:
  method, path, raw query string, SAP user; a reset clears them too),
  GET|POST|DELETE /mock-admin/event-subscriptions, DELETE /mock-admin/event-subscriptions/{{id}},
  GET|DELETE /mock-admin/event-deliveries (every delivery attempt), POST /mock-admin/tasks (a new PR task)

business events (S/4HANA notification events, CloudEvents 1.0 in structured mode, pushed like SAP Event Mesh):
  POSTed with Content-Type application/cloudevents+json to every webhook subscription, in publication order,
  once the change is committed; a non-2xx answer or a connection error is retried with exponential back-off.
  sap.s4.beh.productionorder.v1.ProductionOrder.Changed.v1 / .Released.v1             data: ProductionOrder
  sap.s4.beh.purchaserequisition.v1.PurchaseRequisition.Created.v1 / .Changed.v1     data: PurchaseRequisition
  sap.s4.beh.productionorderconfirmation.v1.ProductionOrderConfirmation.Created.v1 / .Cancelled.v1
                                                            data: ConfirmationGroup, ConfirmationCount

served by gunicorn (one process, threads, HTTP/1.1 keep-alive); SIGTERM or Ctrl-C stops it.
"""


def parse_args(argv: list[str] | None = None) -> MockOptions:
    parser = argparse.ArgumentParser(
        prog="python -m mock_sap",
        description="A faithful SAP S/4HANA Gateway (OData V2) mock for tests, demos and benchmarks.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    parser.add_argument("--seed", type=int, help=f"seed of the generated data and fault rates (default {DEFAULT_SEED})")
    parser.add_argument("--orders", type=int, default=2000, help="number of production orders (default 2000)")
    parser.add_argument(
        "--reference-date",
        type=dt.date.fromisoformat,
        help="YYYY-MM-DD the seeded dates are relative to (default: today, UTC)",
    )
    parser.add_argument("--sap-client", default="100", help="the SAP client (sap-client) the system has (default 100)")
    parser.add_argument("--system-id", default="S4H", help="system ID used in cookie names and the realm (default S4H)")
    parser.add_argument("--page-size", type=int, default=100, help="server-side page size of feeds (default 100)")
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="NAME:PASSWORD",
        help="add a user or change a password (repeatable)",
    )
    parser.add_argument("--technical-password", help=f"password of {TECHNICAL_USER}")
    parser.add_argument("--user-password", help="password of all named users")
    parser.add_argument(
        "--trusted-issuer",
        action="append",
        default=[],
        metavar="ISS",
        help="trust Bearer JWTs with this iss (repeatable; pair each with --trusted-jwks-url)",
    )
    parser.add_argument(
        "--trusted-jwks-url", action="append", default=[], metavar="URL", help="JWKS URL of the trusted issuer"
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="JSON",
        help='fault to inject from the start, e.g. \'{"service": "*", "status": 503, "rate": 0.1}\' (repeatable)',
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    events = parser.add_argument_group("business events (webhook subscriptions, as SAP Event Mesh pushes them)")
    events.add_argument(
        "--event-webhook",
        action="append",
        default=[],
        metavar="URL",
        help="subscribe this webhook from the start (repeatable; kept by /mock-admin/reset)",
    )
    events.add_argument("--event-webhook-user", metavar="USER", help="HTTP Basic user for the --event-webhook URLs")
    events.add_argument("--event-webhook-password", metavar="PASSWORD", help="its password")
    events.add_argument(
        "--event-retry-initial",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="wait after the first failed delivery, doubled after each further one (default 0.5)",
    )
    events.add_argument(
        "--event-retry-max", type=float, default=30.0, metavar="SECONDS", help="longest wait between attempts (30)"
    )
    events.add_argument(
        "--event-max-attempts", type=int, default=10, metavar="N", help="attempts per event and webhook (default 10)"
    )
    events.add_argument(
        "--event-timeout", type=float, default=10.0, metavar="SECONDS", help="timeout of one delivery (default 10)"
    )
    args = parser.parse_args(argv)
    if args.event_webhook_password is not None and args.event_webhook_user is None:
        parser.error("--event-webhook-password needs --event-webhook-user")
    if len(args.trusted_issuer) != len(args.trusted_jwks_url):
        parser.error("every --trusted-issuer needs one --trusted-jwks-url")
    users = default_users()
    if args.technical_password:
        users[TECHNICAL_USER] = args.technical_password
    if args.user_password:
        for name in users:
            if name != TECHNICAL_USER:
                users[name] = args.user_password
    for entry in args.user:
        name, sep, password = entry.partition(":")
        if not sep or not name:
            parser.error(f"--user expects NAME:PASSWORD, got {entry!r}")
        users[name.upper()] = password
    try:
        faults = [json.loads(text) for text in args.fault]
    except ValueError as exc:
        parser.error(f"--fault is not valid JSON: {exc}")
    return MockOptions(
        host=args.host,
        port=args.port,
        seed=DEFAULT_SEED if args.seed is None else args.seed,
        seed_given=args.seed is not None,
        orders=args.orders,
        reference_date=args.reference_date,
        sap_client=args.sap_client,
        system_id=args.system_id,
        page_size=args.page_size,
        users=users,
        trusted_issuers=[TrustedIssuer(i, u) for i, u in zip(args.trusted_issuer, args.trusted_jwks_url, strict=True)],
        faults=faults,
        verbose=args.verbose,
        event_webhooks=args.event_webhook,
        event_webhook_user=args.event_webhook_user,
        event_webhook_password=args.event_webhook_password,
        event_retry_initial=args.event_retry_initial,
        event_retry_max=args.event_retry_max,
        event_max_attempts=args.event_max_attempts,
        event_timeout=args.event_timeout,
    )


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    logging.basicConfig(level=logging.INFO if options.verbose else logging.WARNING, format="%(asctime)s %(message)s")
    from mock_sap.app import create_app  # imported late: --help stays fast
    from mock_sap.server import serve

    try:
        app = create_app(options)  # once, before gunicorn forks the worker that serves it
    except ValueError as exc:
        print(f"mock_sap: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C while the data is generated
        return 0
    serve(app, options)  # prints "mock SAP listening on ..." once the socket listens
    return 0


if __name__ == "__main__":
    sys.exit(main())
