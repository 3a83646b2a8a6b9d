"""Bank quick-pay channel simulator: signed HTTP+JSON with faults dialable by configuration."""
