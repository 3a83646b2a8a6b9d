"""Recon: matches channel statements against our records and keeps the differences."""
