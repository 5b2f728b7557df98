"""A faithful SAP Gateway (OData V2) mock of the S/4HANA APIs the product uses."""

from __future__ import annotations

from mock_sap.app import MockSap, create_app
from mock_sap.config import MockOptions

__all__ = ["MockOptions", "MockSap", "create_app"]
