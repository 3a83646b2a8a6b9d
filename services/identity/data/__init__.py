"""Data files the identity service ships (BIN table)."""
