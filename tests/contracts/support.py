"""Constants and small pure helpers shared by the contract tests (the fixtures live in conftest.py)."""

from __future__ import annotations

import hashlib
import itertools
from ast import literal_eval
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from ape.exceptions import ContractLogicError, CustomError, TransactionError
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak

ADMIN_DELAY = 3 * 24 * 3600
CPY_SUPPLY = 1_000_000_000 * 10**18
FEE_BPS = 500
ONE_CPY = 10**18
BUYER_FUNDS = 1_000_000 * ONE_CPY
HOUR = 3600
DAY = 24 * HOUR
UINT64_MAX = 2**64 - 1
UINT96_MAX = 2**96 - 1
UINT256_MAX = 2**256 - 1
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
ZERO32 = b"\x00" * 32
DEFAULT_ADMIN_ROLE = ZERO32

# Usage kinds as the platform numbers them.
WEB, PRINT, EDITORIAL, COMMERCIAL = 1, 2, 3, 4

_unique = itertools.count(1)


def unique_bytes32(label: str = "") -> bytes:
    """A fresh 32-byte value (a SHA-256), different on every call within a test run."""
    return hashlib.sha256(f"tracemark-test:{label}:{next(_unique)}".encode()).digest()


def as_bytes(value: Any) -> bytes:
    """Normalises what Ape returns for `bytes32` (HexBytes, bytes or hex str) to bytes."""
    if isinstance(value, str):
        return bytes.fromhex(value.removeprefix("0x"))
    return bytes(value)


def role_hash(name: str) -> bytes:
    """An AccessControl role id, `keccak256(name)`."""
    return keccak(text=name)


def address_of(account: Any) -> str:
    """The address of an Ape account or contract, or the address itself."""
    return str(account.address if hasattr(account, "address") else account)


def single(items: list[Any]) -> Any:
    """The one element of a list; fails when there are none or several."""
    assert len(items) == 1, items
    return items[0]


# --- reverts ----------------------------------------------------------------------------------------------------
#
# `ape.reverts(contract.Error, arg=...)` relies on Ape decoding the revert data, which it only does for errors in
# the ABI of the contract the transaction was sent to, and (in eth-ape 0.8.51's test provider) only when the
# revert bytes contain no `'` byte: otherwise the message stays the text `b"..."` and the error class is lost.
# Errors bubbling up from another contract (CPY's permit errors through the market, a receiver's own error through
# the certificate) are never decoded. So the tests compare the raw revert data instead: `reverts(contract.Error,
# **args)` expects exactly the ABI encoding of that error with those arguments, whichever contract raised it.

ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")
PANIC_SELECTOR = bytes.fromhex("4e487b71")
PANIC_DIVISION_BY_ZERO = 0x12


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def _normalise(value: Any) -> Any:
    if hasattr(value, "address"):
        return str(value.address)
    return value


def encode_error(error: Any, **inputs: Any) -> bytes:
    """The revert data of a custom error: selector and ABI-encoded arguments.

    Args:
        error: An Ape contract error (`contract.ErrorName`), or any object with an ethpm-types `ErrorABI` as `.abi`.
        **inputs: Every argument of the error by name (accounts and contracts stand for their addresses).

    Returns:
        The bytes a contract reverts with.
    """
    abi = error.abi
    names = [item.name for item in abi.inputs]
    if sorted(names) != sorted(inputs):
        raise TypeError(f"{abi.name} takes {names}, got {sorted(inputs)}")
    types = [item.canonical_type for item in abi.inputs]
    values = [_normalise(inputs[name]) for name in names]
    return _selector(abi.selector) + abi_encode(types, values)


def encode_message(message: str) -> bytes:
    """The revert data of `revert(message)` / `require(..., message)`: `Error(string)`."""
    return ERROR_STRING_SELECTOR + abi_encode(["string"], [message])


def encode_panic(code: int) -> bytes:
    """The revert data of a Solidity panic: `Panic(uint256)`."""
    return PANIC_SELECTOR + abi_encode(["uint256"], [code])


def revert_data(exc: ContractLogicError) -> bytes:
    """The raw revert data behind whatever form Ape gave a failed call or transaction."""
    if isinstance(exc, CustomError):
        types = [item.canonical_type for item in exc.abi.inputs]
        values = [exc.inputs[str(item.name)] for item in exc.abi.inputs]
        return _selector(exc.abi.selector) + abi_encode(types, values)
    base = exc.base_err
    panic_data = getattr(base, "data", None)
    if type(base).__name__ == "ContractPanicError" and isinstance(panic_data, str):
        return bytes.fromhex(panic_data.removeprefix("0x"))
    message = exc.message
    if message in (None, "", TransactionError.DEFAULT_MESSAGE):
        return b""
    if message.startswith("0x"):
        return bytes.fromhex(message[2:])
    if message.startswith(("b'", 'b"')):
        return bytes(literal_eval(message))
    return encode_message(message)


def _project_errors() -> Iterator[Any]:
    from ape import project

    for contract_type in project.contracts.values():
        yield from contract_type.errors


def describe_revert(data: bytes) -> str:
    """A readable form of revert data, decoded against the errors of the project's contracts when possible."""
    if data[:4] == ERROR_STRING_SELECTOR:
        return f"Error({abi_decode(['string'], data[4:])[0]!r})"
    if data[:4] == PANIC_SELECTOR:
        return f"Panic({abi_decode(['uint256'], data[4:])[0]:#x})"
    for abi in _project_errors():
        if _selector(abi.selector) == data[:4]:
            types = [item.canonical_type for item in abi.inputs]
            try:
                values = abi_decode(types, data[4:])
            except Exception:
                continue
            arguments = ", ".join(f"{item.name}={value!r}" for item, value in zip(abi.inputs, values, strict=True))
            return f"{abi.name}({arguments})"
    return "0x" + data.hex() if data else "no data"


@contextmanager
def reverts_with_data(expected: bytes) -> Iterator[None]:
    """Expects the block to revert with exactly `expected` as revert data."""
    try:
        yield
    except ContractLogicError as exc:
        actual = revert_data(exc)
        if actual != expected:
            raise AssertionError(
                f"reverted with {describe_revert(actual)}, expected {describe_revert(expected)}"
            ) from exc
    else:
        raise AssertionError(f"did not revert; expected {describe_revert(expected)}")


def reverts(error: Any, **inputs: Any) -> AbstractContextManager[None]:
    """Expects the block to revert with the custom error `error` and exactly these argument values.

    Args:
        error: An Ape contract error, e.g. `certificate.CertificateNotHolder`.
        **inputs: Every argument of the error by name.

    Returns:
        A context manager around the failing call.
    """
    return reverts_with_data(encode_error(error, **inputs))


def reverts_with_message(message: str) -> AbstractContextManager[None]:
    """Expects `revert(message)`."""
    return reverts_with_data(encode_message(message))


def reverts_with_panic(code: int) -> AbstractContextManager[None]:
    """Expects a Solidity panic with `code` (0x12: division by zero, 0x11: overflow, ...)."""
    return reverts_with_data(encode_panic(code))


def reverts_without_data() -> AbstractContextManager[None]:
    """Expects a bare `revert()`."""
    return reverts_with_data(b"")


def selector(signature: str) -> bytes:
    """The 4-byte function selector of a signature such as `transfer(address,uint256)`."""
    return _selector(signature)


def interface_id(*signatures: str) -> bytes:
    """The ERC-165 interface id: the XOR of the selectors of the interface's functions."""
    value = 0
    for signature in signatures:
        value ^= int.from_bytes(_selector(signature), "big")
    return value.to_bytes(4, "big")


def block_timestamp(chain: Any, receipt: Any) -> int:
    """The timestamp of the block a transaction was mined in."""
    return int(chain.blocks[receipt.block_number].timestamp)


def licence_id(certificate_id: int, licensee: Any, kind: int, serial: int) -> int:
    """`LicenseMarket.licenceIdOf`: `uint256(keccak256(abi.encode(certificateId, licensee, kind, serial)))`."""
    values = [certificate_id, address_of(licensee), kind, serial]
    encoded = abi_encode(["uint256", "address", "uint8", "uint32"], values)
    return int.from_bytes(keccak(encoded), "big")


def mine_at(chain: Any, timestamp: int) -> None:
    """Mines a block at `timestamp`; views called afterwards see it as `block.timestamp`."""
    chain.mine(timestamp=timestamp)
