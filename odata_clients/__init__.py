"""SAP connectivity: destinations, sessions, CSRF, ETags, resilience and canonical gateways."""
