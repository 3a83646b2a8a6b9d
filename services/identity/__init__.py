"""Identity: users, real name, bound cards and payment eligibility, with PII encrypted."""
