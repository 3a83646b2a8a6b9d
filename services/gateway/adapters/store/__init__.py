"""The gateway's Postgres stores, one per aggregate, on plain asyncpg connections."""
