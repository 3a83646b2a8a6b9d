"""Identity adapters: PII encryption, Postgres tables and repositories."""
