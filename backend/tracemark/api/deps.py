"""Dependencies shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tracemark.chain.node import ChainNode
from tracemark.config import Settings


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def get_node(request: Request) -> ChainNode:
    """The chain node the app talks to."""
    node: ChainNode = request.app.state.node
    return node


SettingsDep = Annotated[Settings, Depends(get_settings)]
NodeDep = Annotated[ChainNode, Depends(get_node)]
