"""The one Settings class reads TRACEMARK_* variables and refuses bad values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tracemark.config import Settings


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACEMARK_RPC_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("TRACEMARK_API_PORT", "8123")
    settings = Settings()
    assert settings.rpc_url == "http://127.0.0.1:9999"
    assert settings.api_port == 8123


@pytest.mark.parametrize(("name", "value"), [("TRACEMARK_API_PORT", "0"), ("TRACEMARK_DEPLOY_FEE_BPS", "3001")])
def test_out_of_range_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()
