"""Every API request's SAP calls share one budget (SAP_REQUEST_BUDGET): a hung SAP costs a request seconds."""

from __future__ import annotations

from contextlib import ExitStack

from flask import Flask, current_app, g

from odata_clients.resilience import deadline


def _begin() -> None:
    stack = ExitStack()
    # Set on every request, SAP or not: a view that does not call SAP never reads it, and it costs nothing.
    stack.enter_context(deadline(current_app.extensions["settings"].sap_request_budget))
    g.sap_deadline = stack


def _end(_: BaseException | None) -> None:
    # The deadline is a context variable of the serving thread: left set, it would cut the next request short.
    stack = g.pop("sap_deadline", None)
    if stack is not None:
        stack.close()


def init_request_deadline(app: Flask) -> None:
    app.before_request(_begin)
    app.teardown_request(_end)
