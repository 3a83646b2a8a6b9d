"""Gateway domain: payment orders, their state machine, and the ports to channels and services."""
