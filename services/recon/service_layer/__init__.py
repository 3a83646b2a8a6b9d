"""Recon use cases over a unit of work."""
