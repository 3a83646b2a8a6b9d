"""The service runtime every Paysuite service shares: settings, database, telemetry, gRPC server."""
