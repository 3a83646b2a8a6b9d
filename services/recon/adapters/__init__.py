"""Recon adapters: statement parsers, the gateway client, tables and repository."""
