"""A small forwarding HTTP proxy to loopback targets, with injectable latency and refusal."""
