"""Web threads, SAP slots and the request budget: the defaults keep threads free of SAP, bad values are refused."""

from __future__ import annotations

import pytest

from odata_clients.destinations import build_destination
from runtime.sap import sap_connectivity, technical_destination
from runtime.settings import ConfigError, Settings, from_env


def test_defaults_leave_threads_that_never_wait_for_sap() -> None:
    settings = from_env({})
    assert settings.sap_max_concurrency < settings.gunicorn_threads
    assert settings.sap_request_budget == 10.0
    assert Settings().sap_max_concurrency == settings.sap_max_concurrency  # the dataclass agrees with from_env
    destination = technical_destination(settings)
    waiting = destination.max_queued
    assert waiting is not None and destination.max_concurrency + waiting < settings.gunicorn_threads


def test_sap_slots_default_to_half_the_threads() -> None:
    assert from_env({"GUNICORN_THREADS": "16"}).sap_max_concurrency == 8
    assert from_env({"GUNICORN_THREADS": "2"}).sap_max_concurrency == 1
    assert from_env({"GUNICORN_THREADS": "64"}).sap_max_concurrency == 8  # at most 8 unless asked for
    settings = from_env({"GUNICORN_THREADS": "12", "SAP_MAX_CONCURRENCY": "3", "SAP_REQUEST_BUDGET": "2.5"})
    assert (settings.sap_max_concurrency, settings.sap_request_budget) == (3, 2.5)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"GUNICORN_THREADS": "8", "SAP_MAX_CONCURRENCY": "8"}, "SAP_MAX_CONCURRENCY"),
        ({"GUNICORN_THREADS": "4", "SAP_MAX_CONCURRENCY": "10"}, "GUNICORN_THREADS (4)"),
        ({"SAP_MAX_CONCURRENCY": "0"}, "SAP_MAX_CONCURRENCY"),
        ({"GUNICORN_THREADS": "1"}, "GUNICORN_THREADS"),
        ({"SAP_REQUEST_BUDGET": "0"}, "SAP_REQUEST_BUDGET"),
        ({"SAP_REQUEST_BUDGET": "soon"}, "SAP_REQUEST_BUDGET"),
    ],
)
def test_capacity_settings_that_would_let_sap_take_every_thread_are_refused(
    environ: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named.replace("(", r"\(").replace(")", r"\)")):
        from_env(environ)


def test_both_destinations_of_a_process_share_one_bulkhead() -> None:
    sap = sap_connectivity(from_env({}))
    try:
        assert sap.user_http is not sap.technical_http
        assert sap.user_http.bulkhead is sap.technical_http.bulkhead
        assert sap.user_http.destination.max_queued == sap.technical_http.destination.max_queued
    finally:
        sap.close()


def test_destination_refuses_negative_waiters() -> None:
    with pytest.raises(ValueError, match="max_queued"):
        build_destination("s4", "http://sap.example", user="u", password="p", max_queued=-1)
