"""A socket-level guard for tests: nothing leaves the machine, and every attempt to leave is recorded.

`NetGuard.install()` patches `socket.socket.connect` / `connect_ex` (Twisted connects with `connect_ex`) and
the name lookups of the `socket` module:

- a connect to anything but loopback (127.0.0.0/8, ::1) or a Unix socket is refused and recorded;
- a name lookup is answered from the test DNS table (`dns`: name -> list of answers, served in turn, the
  last one repeated), recorded in `lookups`; a name not in the table is refused and recorded as an attempt
  (a real lookup would send a packet to the configured name server). Numeric hosts and `localhost` pass.

With `log` set, every attempt and lookup is also appended to that file as a JSON line, so a guard installed
in a subprocess (see `tests/backend/integration/crawler/guarded_cli.py`) reports back to the test.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import socket
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo
_real_gethostbyname = socket.gethostbyname
_real_gethostbyname_ex = socket.gethostbyname_ex


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _is_numeric(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return True
    except ValueError:
        return False


class NetGuard:
    """Refuses and records every non-loopback connect and every unknown name lookup."""

    def __init__(self, dns: dict[str, Sequence[Sequence[str]]] | None = None, log: Path | None = None) -> None:
        self.dns = {k.lower(): [list(a) for a in v] for k, v in (dns or {}).items()}
        self.served: dict[str, int] = {}
        self.attempts: list[str] = []
        self.lookups: list[str] = []
        self.log = log
        self._lock = threading.Lock()

    def _note(self, kind: str, what: str) -> None:
        with self._lock:
            (self.attempts if kind == "attempt" else self.lookups).append(what)
            if self.log is not None:
                with self.log.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"kind": kind, "what": what}) + "\n")

    def _check_address(self, sock: socket.socket, address: Any) -> bool:
        if sock.family == getattr(socket, "AF_UNIX", None):
            return True
        host = str(address[0]) if isinstance(address, tuple) else str(address)
        if _is_loopback(host):
            return True
        port = address[1] if isinstance(address, tuple) and len(address) > 1 else "?"
        self._note("attempt", f"connect {host}:{port}")
        return False

    def _answer(self, host: str) -> list[str] | None:
        name = host.lower().rstrip(".")
        if name not in self.dns:
            return None
        with self._lock:
            turn = self.served.get(name, 0)
            self.served[name] = turn + 1
        answers = self.dns[name]
        self._note("lookup", name)
        return answers[min(turn, len(answers) - 1)]

    def install(self) -> None:
        """Patches the socket module (undo with `uninstall`)."""
        guard = self

        def connect(sock: socket.socket, address: Any) -> None:
            if not guard._check_address(sock, address):
                raise ConnectionRefusedError(errno.ECONNREFUSED, "refused by the test network guard")
            _real_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            if not guard._check_address(sock, address):
                return errno.ECONNREFUSED
            return _real_connect_ex(sock, address)

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            text = host.decode() if isinstance(host, bytes) else host
            if text is None or _is_numeric(str(text)) or str(text).lower() == "localhost":
                return _real_getaddrinfo(host, port, *args, **kwargs)
            answer = guard._answer(str(text))
            if answer is None:
                guard._note("attempt", f"dns {text}")
                raise socket.gaierror(socket.EAI_NONAME, "refused by the test network guard")
            out: list[Any] = []
            for address in answer:
                out.extend(_real_getaddrinfo(address, port, *args, **kwargs))
            return out

        def gethostbyname(host: str) -> str:
            if _is_numeric(host) or host.lower() == "localhost":
                return _real_gethostbyname(host)
            answer = guard._answer(host)
            if answer is None:
                guard._note("attempt", f"dns {host}")
                raise socket.gaierror(socket.EAI_NONAME, "refused by the test network guard")
            return answer[0]

        def gethostbyname_ex(host: str) -> Any:
            return (host, [], [gethostbyname(host)])

        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = getaddrinfo
        socket.gethostbyname = gethostbyname
        socket.gethostbyname_ex = gethostbyname_ex

    @staticmethod
    def uninstall() -> None:
        """Restores the socket module."""
        socket.socket.connect = _real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = _real_getaddrinfo
        socket.gethostbyname = _real_gethostbyname
        socket.gethostbyname_ex = _real_gethostbyname_ex


def read_log(path: Path) -> tuple[list[str], list[str]]:
    """(attempts, lookups) written by a guard with `log=path`."""
    attempts: list[str] = []
    lookups: list[str] = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            (attempts if entry["kind"] == "attempt" else lookups).append(entry["what"])
    return attempts, lookups
