"""Local stand-ins for SAP BTP's Destination service and Connectivity proxy (see README.md)."""
