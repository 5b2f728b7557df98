"""Unknown query parameters are a 400 naming them, on every documented operation: `?q=bike` must not list all."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping

from flask import Flask, current_app, request
from flask_smorest import Api, abort

# Flask's `<converter:name>` segments as OpenAPI's `{name}` (what flask-smorest writes into the document).
_RULE_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
MAX_SHOWN = 5
_lock = threading.Lock()


def init_query_args(app: Flask, api: Api) -> None:
    """Check every request's query parameter names against those its operation documents in /openapi.json."""
    app.extensions["query_args_api"] = api
    app.before_request(_refuse_unknown)


def _refuse_unknown() -> None:
    rule = request.url_rule
    if rule is None or not request.args or request.method == "OPTIONS":
        return  # no route (404/405 answer themselves); CORS preflights carry no API query
    if not request.path.startswith("/api/"):
        return  # probes and scrapers (/health, /metrics) often add cache-busters; they filter nothing
    method = "get" if request.method == "HEAD" else request.method.lower()
    allowed = _documented().get((rule.endpoint, method))
    if allowed is None:
        return  # not an API operation (the docs UI, the OpenAPI document itself)
    unknown = [name for name in request.args if name not in allowed]
    if unknown:
        shown = ", ".join(ascii(name)[:42] for name in unknown[:MAX_SHOWN])
        takes = ", ".join(sorted(allowed)) or "none"
        abort(
            400,
            message=f"unknown query parameter {shown}; this operation takes: {takes}",
            errors={"query": {name[:40]: ["Unknown parameter."] for name in unknown[:MAX_SHOWN]}},
        )


def _documented() -> Mapping[tuple[str, str], frozenset[str]]:
    """(endpoint, method) -> the query parameter names of that operation, read once from the OpenAPI document."""
    table: Mapping[tuple[str, str], frozenset[str]] | None = current_app.extensions.get("query_args")
    if table is not None:
        return table
    with _lock:
        spec = current_app.extensions["query_args_api"].spec.to_dict()
        components = spec.get("components", {}).get("parameters", {})
        built: dict[tuple[str, str], frozenset[str]] = {}
        for rule in current_app.url_map.iter_rules():
            operations = spec.get("paths", {}).get(_RULE_ARGUMENT.sub(r"{\1}", rule.rule))
            if not operations:
                continue
            shared = _query_names(operations.get("parameters", []), components)
            for method, operation in operations.items():
                if method != "parameters" and isinstance(operation, Mapping):
                    own = _query_names(operation.get("parameters", []), components)
                    built[(rule.endpoint, method)] = shared | own
        current_app.extensions["query_args"] = built
        return built


def _query_names(
    parameters: list[Mapping[str, object]], components: Mapping[str, Mapping[str, object]]
) -> frozenset[str]:
    names = set()
    for parameter in parameters:
        if "$ref" in parameter:  # a shared parameter: "#/components/parameters/<name>"
            parameter = components.get(str(parameter["$ref"]).rsplit("/", 1)[-1], {})
        if parameter.get("in") == "query":
            names.add(str(parameter["name"]))
    return frozenset(names)
