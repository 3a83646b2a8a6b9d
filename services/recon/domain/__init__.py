"""Recon domain: statement lines, our records, and the matching rules."""
