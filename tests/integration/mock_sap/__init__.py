"""Black-box integration tests of mock_sap against the real SAP Gateway contracts."""
