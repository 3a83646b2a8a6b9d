"""Identity domain: users, cards, PII validation and masking."""
