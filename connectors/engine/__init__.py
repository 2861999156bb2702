"""The sync engine's database side: pushing the outbox, breaker and rate limit."""
