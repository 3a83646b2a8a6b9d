"""Adapters to external payment channels, one module per channel protocol."""
