"""Dependencies shared by the routes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from tracemark.chain.node import ChainNode, ChainUnavailableError
from tracemark.config import Settings
from tracemark.store import Database
from tracemark.store.chain_repository import indexed_chains

_database_lock = threading.Lock()


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def get_node(request: Request) -> ChainNode:
    """The chain node the app talks to."""
    node: ChainNode = request.app.state.node
    return node


def get_database(request: Request) -> Database:
    """The store, opened (and migrated) on first use, so an app that serves no stored data never touches it."""
    state = request.app.state
    with _database_lock:
        if getattr(state, "database", None) is None:
            database = Database.from_settings(state.settings)
            database.migrate()
            state.database = database
    db: Database = state.database
    return db


def get_chain_id(request: Request, node: Annotated[ChainNode, Depends(get_node)],
                 database: Annotated[Database, Depends(get_database)]) -> Callable[[], int]:
    """The chain the API serves, asked for by the route once its input is checked (a bad input is a 400 even
    while the node is down): the node's (remembered once known), else the only chain the store indexes.
    The returned function raises HTTPException 503 when neither says."""

    def resolve() -> int:
        known: int | None = getattr(request.app.state, "chain_id", None)
        if known is not None:
            return known
        try:
            chain_id = node.chain_id()
        except ChainUnavailableError as exc:
            with database.read() as session:
                chains = indexed_chains(session)
            if len(chains) != 1:
                raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc)) from exc
            return chains[0]
        request.app.state.chain_id = chain_id
        return chain_id

    return resolve


SettingsDep = Annotated[Settings, Depends(get_settings)]
NodeDep = Annotated[ChainNode, Depends(get_node)]
DatabaseDep = Annotated[Database, Depends(get_database)]
ChainIdDep = Annotated[Callable[[], int], Depends(get_chain_id)]
