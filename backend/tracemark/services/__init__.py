"""Use cases that join the domain rules to the adapters."""
