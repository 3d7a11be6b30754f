"""What crosses the HTTP boundary."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class HealthPublic(BaseModel):
    """Liveness and what the service is connected to."""

    status: Literal["ok", "degraded"]
    version: str
    chain_id: int | None = None
    block_number: int | None = None
    deployment: bool = Field(description="Whether the chain has a deployment record.")
    problems: list[str] = Field(default_factory=list)


class ContractsPublic(BaseModel):
    """The Tracemark contracts on the chain the service serves."""

    chain_id: int
    deployment_block: int
    contracts: dict[str, str]


class ErrorPublic(BaseModel):
    """An error answer."""

    detail: str
