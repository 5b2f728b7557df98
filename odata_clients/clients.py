"""pyodata clients: metadata parsed once per service per process, bound per caller to SapHttp."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyodata
import structlog
from pyodata.exceptions import PyODataException
from pyodata.v2 import model as odata_model
from pyodata.v2.service import Service

from odata_clients.destinations import Principal
from odata_clients.errors import SapError, SapProtocolError
from odata_clients.http import SapHttp

log = structlog.get_logger("odata_clients.clients")


@dataclass(frozen=True)
class ServiceSpec:
    """One OData service: its technical name (also the metadata file name) and its root path."""

    name: str
    path: str


TASKPROCESSING = ServiceSpec("TASKPROCESSING", "/sap/opu/odata/IWPGW/TASKPROCESSING;mo;v=2")
PURCHASE_REQUISITIONS = ServiceSpec("API_PURCHASEREQ_PROCESS_SRV", "/sap/opu/odata/sap/API_PURCHASEREQ_PROCESS_SRV")
PRODUCTION_ORDERS = ServiceSpec("API_PRODUCTION_ORDER_2_SRV", "/sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV")
CONFIRMATIONS = ServiceSpec("API_PROD_ORDER_CONFIRMATION_2_SRV", "/sap/opu/odata/sap/API_PROD_ORDER_CONFIRMATION_2_SRV")
ALL_SERVICES = (TASKPROCESSING, PURCHASE_REQUISITIONS, PRODUCTION_ORDERS, CONFIRMATIONS)


class _LogPolicy(odata_model.ErrorPolicy):  # type: ignore[misc]
    """Metadata oddities go to our structured log at debug level, never to stdout.

    pyodata's own PolicyWarning calls logging.basicConfig and prints to the console.
    """

    def __init__(self, service: str) -> None:
        self._service = service

    def resolve(self, ekseption: Exception) -> None:
        log.debug("odata_metadata_issue", service=self._service, issue=type(ekseption).__name__)


def _config(service: str) -> odata_model.Config:
    policy = _LogPolicy(service)
    return odata_model.Config(
        custom_error_policies={
            odata_model.ParserError.ANNOTATION: policy,
            odata_model.ParserError.ASSOCIATION: policy,
        },
        # Keep SAP's nulls as None: pyodata would otherwise invent 0 / '' / 1753-01-01.
        retain_null=True,
    )


class ODataClient:
    """A pyodata model of one service on one destination, built once and shared by all threads."""

    def __init__(self, http: SapHttp, spec: ServiceSpec, *, metadata: bytes | None = None) -> None:
        self.http = http
        self.spec = spec
        self._metadata = metadata
        self._lock = threading.Lock()
        self._schema: Any = None
        self._builder: Service | None = None
        self._config = _config(spec.name)

    @property
    def has_local_metadata(self) -> bool:
        return self._metadata is not None

    def url(self, principal: Principal | None = None) -> str:
        """The service root; with a destination from the Destination service, its URL comes with the first call."""
        return self.http.base_url(principal) + self.spec.path + "/"

    def service(self, principal: Principal | None = None) -> Service:
        """A pyodata Service whose every call goes through SapHttp as `principal` (or the technical user)."""
        connection = self.http.connection(self.spec.path, principal)
        return Service(self.url(principal), self._ensure_schema(principal), connection, config=self._config)

    def builder(self, principal: Principal | None = None) -> Service:
        """A pyodata Service that only builds requests (typed keys, $filter, $select, paths): reads are sent
        by the gateways through SapHttp and read as SAP's JSON, without pyodata's per-row entity proxies.

        Built once per process (a Service makes a proxy per entity set); its connection refuses to send, so a
        request executed by mistake fails loudly instead of going out without the caller's identity.
        """
        if self._builder is None:
            schema = self._ensure_schema(principal)
            self._builder = Service(self.url(principal), schema, _BuildOnly(), config=self._config)
        return self._builder

    def load(self, principal: Principal | None = None) -> None:
        """Parse the metadata now (start-up), from the local file if one was given, else from SAP."""
        self._ensure_schema(principal)

    def _ensure_schema(self, principal: Principal | None) -> Any:
        if self._schema is not None:
            return self._schema
        # Fetched outside the lock: a thread finding no schema loads it as an ordinary SAP call, inside the
        # bulkhead and its own deadline. Waiting on a lock for another thread's load would hold a web thread
        # as long as a hung $metadata does, outside every bound; the cost is a few duplicate loads, once.
        connection = self.http.connection(self.spec.path, principal)
        try:
            client = pyodata.Client(self.url(principal), connection, config=self._config, metadata=self._metadata)
        except SapError:
            raise
        except PyODataException as exc:
            raise SapProtocolError(
                f"metadata of {self.spec.name} unusable: {exc}",
                destination=self.http.destination.name,
                service=self.spec.path,
            ) from exc
        with self._lock:
            if self._schema is None:
                self._schema = client.schema
                log.info(
                    "odata_metadata_loaded",
                    service=self.spec.name,
                    destination=self.http.destination.name,
                    source="file" if self._metadata else "sap",
                )
            return self._schema


class _BuildOnly:
    """The connection of a request builder: nothing is ever sent through it."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a request built by ODataClient.builder() is sent through SapHttp, not executed")


def metadata_from_dir(directory: str | Path | None, spec: ServiceSpec) -> bytes | None:
    """`<dir>/<SERVICE>.xml` (or `.edmx`) when present: start-up then needs no SAP."""
    if not directory:
        return None
    for suffix in (".xml", ".edmx"):
        path = Path(directory) / f"{spec.name}{suffix}"
        if path.is_file():
            return path.read_bytes()
    return None


def execute(client: ODataClient, request: Any) -> Any:
    """Run a pyodata request; pyodata's own exceptions become SapProtocolError (ours pass through)."""
    try:
        return request.execute()
    except SapError:
        raise
    except PyODataException as exc:
        raise SapProtocolError(
            f"unexpected answer from {client.spec.name}: {exc}",
            destination=client.http.destination.name,
            service=client.spec.path,
        ) from exc


def values(entity: Any) -> Mapping[str, Any]:
    """The property values pyodata parsed from SAP's answer.

    Read from the proxy's cache on purpose: EntityProxy's attribute access silently sends one GET
    per property that was not in the answer (e.g. outside $select), which we never want.
    """
    cache = entity.__dict__.get("_cache")
    return cache if isinstance(cache, Mapping) else {}


def key_literal(value: str) -> str:
    """A string key value pre-escaped for pyodata, which quotes keys without doubling inner quotes."""
    return value.replace("'", "''")
