"""Gateway adapters: tables, repository, channel adapters and clients of other services."""
