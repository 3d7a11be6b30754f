"""Fixtures of the cases' integration tests: databases (SQLite, and PostgreSQL where it is installed)."""

from __future__ import annotations

from tests.backend.integration.databases import any_database  # noqa: F401 - shared fixture
from tests.backend.integration.indexer.conftest import (  # noqa: F401 - shared fixtures
    deployed_state,
    dev_chain,
    postgres_url,
)
from tests.backend.integration.mail.conftest import certificate, plain_smtp  # noqa: F401 - shared fixtures


