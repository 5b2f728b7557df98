"""The floor of the read benchmark: a bare forwarder on the API's own server stack, with none of the API's work.

`gunicorn -c gunicorn.conf.py bench.forwarder:app` (the API's gunicorn settings) with SAP_URL, SAP_USER and
SAP_PASSWORD set: GET /<anything>?<query> sends the same GET to SAP over a keep-alive urllib3 pool, parses SAP's
JSON with orjson and answers SAP's rows with orjson. No token check, validation, conversion, logging or metrics:
what is left of the API's time above this is the API's own work.
"""

from __future__ import annotations

import base64
import os

import orjson
import urllib3
from flask import Flask, Response, request

app = Flask(__name__)
_SAP = urllib3.PoolManager(maxsize=16)
_BASE = os.environ.get("SAP_URL", "http://127.0.0.1:8081").rstrip("/")
_CREDENTIALS = f"{os.environ.get('SAP_USER', 'EXT_API_TECH')}:{os.environ.get('SAP_PASSWORD', 'tech-pass-1')}"
_HEADERS = {"Authorization": "Basic " + base64.b64encode(_CREDENTIALS.encode()).decode(), "Accept": "application/json"}


@app.get("/<path:path>")
def forward(path: str) -> Response:
    query = request.query_string.decode()
    answer = _SAP.request("GET", f"{_BASE}/{path}" + (f"?{query}" if query else ""), headers=_HEADERS)
    body = orjson.loads(answer.data)["d"]
    rows = body.get("results", body) if isinstance(body, dict) else body
    return Response(orjson.dumps({"items": rows}), answer.status, mimetype="application/json")
