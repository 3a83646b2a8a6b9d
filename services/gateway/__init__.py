"""Gateway: the payment API for internal services and the only door to external channels."""
