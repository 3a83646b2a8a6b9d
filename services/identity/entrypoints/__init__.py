"""Identity entry points: the gRPC servicer and its message conversions."""
