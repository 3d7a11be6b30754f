from collections.abc import Callable
from typing import Any

def read_rows(
    logs: list[Any], readers: dict[str, dict[str, tuple[str, str, int, int, int, tuple[tuple[int, int, int], ...]]]],
    fallback: Callable[[Any], Any],
) -> list[Any]: ...
