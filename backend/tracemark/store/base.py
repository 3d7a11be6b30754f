"""The declarative base and the conventions shared by every table.

Every feature (chain indexer, registration, crawler, cases) adds its models in its own module under `store/`,
derived from `Base`, and a migration under `store/migrations/versions/`. Constraint names follow one naming
convention, so migrations can refer to them on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import MetaData, Table
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """The base of all ORM models; its metadata is what the migrations describe."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, for bulk statements (typed: `Model.__table__` is only a FromClause)."""
    return cast(Table, model.__table__)
