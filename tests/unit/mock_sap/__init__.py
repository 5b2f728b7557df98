"""Unit tests of the mock SAP Gateway internals."""
