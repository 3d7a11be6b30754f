"""Input validation and answer building shared by the chain-state routes (certificates, licences, settlements).

These routes serve public chain data: anyone can read it from the chain itself. They are public and read-only,
but every input is validated (400 with a reason) and every list is paginated with a bounded page size, so a
request costs the server at most one indexed page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import HTTPException, status
from sqlalchemy.orm import Session
from web3 import Web3

from tracemark.api.schemas import ReadAt
from tracemark.store import Database
from tracemark.store.chain_repository import ChainState, ReadPoint

_HEX_ID = re.compile(r"^0x[0-9a-fA-F]{1,64}$")
_DECIMAL_ID = re.compile(r"^[0-9]{1,78}$")
_BYTES32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_CURSOR = re.compile(r"^[0-9]{1,20}$")


def bad_request(detail: str) -> HTTPException:
    """A 400 answer."""
    return HTTPException(status.HTTP_400_BAD_REQUEST, detail=detail)


def parse_u256(value: str, what: str) -> str:
    """A 256-bit id given as decimal or 0x hex, as the store keeps it (64 hex digits).

    Raises:
        HTTPException: 400 when it is not one.
    """
    value = value.strip()
    if _DECIMAL_ID.match(value):
        number = int(value)
    elif _HEX_ID.match(value):
        number = int(value, 16)
    else:
        raise bad_request(f"{what} must be a decimal number or 0x-prefixed hex of at most 64 digits: {value[:80]!r}")
    if number >= 2**256:
        raise bad_request(f"{what} is beyond 256 bits")
    return f"{number:064x}"


def parse_bytes32(value: str, what: str) -> str:
    """A 32-byte value as 0x + 64 hex digits, lowercase."""
    if not _BYTES32.match(value.strip()):
        raise bad_request(f"{what} must be 0x followed by 64 hex digits: {value[:80]!r}")
    return value.strip().lower()


def parse_address(value: str, what: str) -> str:
    """An address (checksummed or all one case), lowercase as stored.

    Raises:
        HTTPException: 400 for anything else, including a mixed-case address with a wrong EIP-55 checksum.
    """
    value = value.strip()
    if not _ADDRESS.match(value):
        raise bad_request(f"{what} must be a 20-byte 0x address: {value[:80]!r}")
    body = value[2:]
    if body != body.lower() and body != body.upper() and not Web3.is_checksum_address(value):
        raise bad_request(f"{what} has a wrong EIP-55 checksum: {value}")
    return value.lower()


def parse_cursor(value: str | None) -> int | None:
    """A page cursor as returned in `next`."""
    if value is None:
        return None
    if not _CURSOR.match(value):
        raise bad_request(f"after must be a cursor returned as `next`: {value[:80]!r}")
    return int(value)


def checksum(address: str) -> str:
    """An address in EIP-55 form."""
    return Web3.to_checksum_address(address)


def decimal(hex64: str) -> str:
    """A stored 256-bit number as a decimal string."""
    return str(int(hex64, 16))


def block_of_pos(position: int) -> int:
    """The block of a stored position."""
    return position >> 20


def read_at(point: ReadPoint) -> ReadAt:
    """The `read_at` part of an answer."""
    return ReadAt(
        block=point.block, block_hash=point.block_hash, confirmed=point.confirmed,
        confirmed_block=point.confirmed_block, indexed_block=point.indexed_block, head_block=point.head_block,
    )


@contextmanager
def chain_state(database: Database, chain_id: int, unconfirmed: bool) -> Iterator[tuple[ChainState, ReadPoint]]:
    """A read snapshot of the chain's indexed state and the block to read at.

    Raises:
        HTTPException: 503 while the chain has not been indexed yet.
    """
    session: Session
    with database.read() as session:
        state = ChainState(session, chain_id)
        point = state.read_point(unconfirmed=unconfirmed)
        if point is None:
            detail = f"chain {chain_id} is not indexed yet (run `tracemark index`)"
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=detail)
        yield state, point
