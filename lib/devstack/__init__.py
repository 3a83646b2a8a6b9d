"""Local development stack: embedded Postgres, provisioning, seeding and the `make run` launcher."""
