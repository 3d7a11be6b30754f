"""The clearing portal's case links on SQLite and PostgreSQL: each link is 32 random bytes, stored only as a hash;
a link opens its own case and no other, and a guessed, malformed or altered link is refused the same way."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from tests.backend.unit.cases.support import T0, case_in
from tracemark.cases.clock import ManualClock
from tracemark.cases.workflow import CaseState
from tracemark.services.cases import CaseNotFoundError, CasesService
from tracemark.store import Database
from tracemark.store.case_models import CasePortalLink

pytestmark = pytest.mark.integration

BASE = "https://tracemark.example/portal"


@pytest.fixture
def service(any_database: Database) -> CasesService:
    svc = CasesService(any_database, 31337, ManualClock(T0), portal_url=BASE + "/")
    svc.cases.save(case_in(CaseState.APPROVED, "case-a"), 0)
    svc.cases.save(case_in(CaseState.APPROVED, "case-b"), 0)
    return svc


def token_of(link: str) -> str:
    assert link.startswith(BASE + "/c/")
    return link.removeprefix(BASE + "/c/")


def test_a_link_opens_its_case_and_no_other(service: CasesService) -> None:
    link_a, link_b = service.issue_portal_link("case-a"), service.issue_portal_link("case-b")
    again_a = service.issue_portal_link("case-a")  # one per letter: all open the case
    tokens = [token_of(x) for x in (link_a, link_b, again_a)]
    assert len(set(tokens)) == 3 and all(len(t) == 43 for t in tokens)
    assert "case-a" not in link_a and "case-b" not in link_b
    assert service.case_for_portal_token(tokens[0]).case_id == "case-a"
    assert service.case_for_portal_token(tokens[2]).case_id == "case-a"
    assert service.case_for_portal_token(tokens[1]).case_id == "case-b"
    with service.database.read() as session:
        stored = session.scalars(select(CasePortalLink.token_hash)).all()
    assert len(stored) == 3 and not set(stored) & set(tokens)  # only hashes are kept
    assert hashlib.sha256(tokens[0].encode()).hexdigest() not in stored  # domain-separated


def test_guessed_malformed_and_altered_links_are_refused_alike(service: CasesService) -> None:
    token = token_of(service.issue_portal_link("case-a"))
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for guess in (altered, "A" * 43, "", "case-a", token + "x", token[:-1], "../" + token[3:], token.upper()
                  if token.upper() != token else token.lower(), "-" * 43, " " * 43):
        if guess == token:
            continue
        with pytest.raises(CaseNotFoundError) as refused:
            service.case_for_portal_token(guess)
        assert str(refused.value) == "no such case"  # the same answer, whatever the guess
    with pytest.raises(CaseNotFoundError):
        service.issue_portal_link("no-such-case")
    assert service.case_for_portal_token(token).case_id == "case-a"


def test_the_links_migration_goes_down_and_up(any_database: Database) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect

    from tracemark.store.database import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(config)
    revision = script.get_revision("0005_case_portal_links")
    assert revision is not None and revision.down_revision == "0004_cases"
    assert len(script.get_heads()) == 1  # later migrations build on it
    assert "case_portal_links" in inspect(any_database.engine).get_table_names()
    any_database.downgrade("0004_cases")
    assert "case_portal_links" not in inspect(any_database.engine).get_table_names()
    assert "cases" in inspect(any_database.engine).get_table_names()
    any_database.migrate()  # back to the head
    assert "case_portal_links" in inspect(any_database.engine).get_table_names()
