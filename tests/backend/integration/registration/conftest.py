"""Fixtures of the registration tests: databases (SQLite, and PostgreSQL where it is installed)."""

from __future__ import annotations

from tests.backend.integration.databases import any_database  # noqa: F401 - shared fixture
from tests.backend.integration.indexer.conftest import (  # noqa: F401 - shared fixtures
    deployed_state,
    postgres_url,
)
from tests.backend.integration.registration.chain_stack import pg_stack, stack  # noqa: F401


