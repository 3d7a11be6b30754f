"""Fixtures of the findings tests: databases (SQLite, and PostgreSQL where installed) and the deployed chain."""

from __future__ import annotations

from tests.backend.integration.indexer.conftest import deployed_state, dev_chain, postgres_url  # noqa: F401
from tests.backend.integration.registration.conftest import any_database  # noqa: F401
