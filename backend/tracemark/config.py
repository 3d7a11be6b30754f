"""The one settings object of the backend, read from `TRACEMARK_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Runtime configuration. Every field can be set as `TRACEMARK_<FIELD>` (e.g. `TRACEMARK_RPC_URL`)."""

    model_config = SettingsConfigDict(env_prefix="TRACEMARK_", env_file=".env", extra="ignore")

    rpc_url: str = Field(default="http://127.0.0.1:8545", description="JSON-RPC endpoint of the chain.")
    rpc_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one JSON-RPC request.")
    deployments_dir: Path = Field(
        default=PROJECT_ROOT / "deployments", description="Folder with one `<chain id>.json` per deployment."
    )
    data_dir: Path = Field(default=PROJECT_ROOT / "var", description="Local state: chain state, databases, blobs.")
    api_host: str = Field(default="127.0.0.1", description="Address the HTTP API listens on.")
    api_port: int = Field(default=8000, ge=1, le=65535, description="Port the HTTP API listens on.")
    anvil_port: int = Field(default=8545, ge=1, le=65535, description="Port of the local anvil (`tracemark run`).")

    # The store (tracemark.store): SQLite in WAL mode in `data_dir` unless a URL names another database.
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the database, e.g. `postgresql+psycopg://user@host/tracemark`; "
        "empty: SQLite at `<data_dir>/tracemark.db`.",
    )

    # The chain indexer (tracemark.chain.indexer).
    index_confirmations: int = Field(
        default=2, ge=0, le=10_000,
        description="Blocks on top of a block before its events count as confirmed. Small on a local chain; "
        "64 or more on a public chain (Ethereum finalises after about 64 blocks).",
    )
    index_poll_interval_s: float = Field(default=1.0, gt=0, description="Pause between polls once live.")
    index_initial_range: int = Field(
        default=100, ge=1, description="First eth_getLogs range, in blocks (it grows while answers stay small)."
    )
    index_max_range: int = Field(default=100_000, ge=1, description="Largest eth_getLogs range, in blocks.")
    index_target_logs: int = Field(
        default=10_000, ge=100, description="Logs per eth_getLogs answer the adaptive range aims at."
    )
    index_rpc_timeout_s: float = Field(default=30.0, gt=0, description="Timeout of one indexer JSON-RPC request.")
    index_retry_base_s: float = Field(default=0.5, gt=0, description="First back-off after a failed request.")
    index_retry_max_s: float = Field(default=30.0, gt=0, description="Longest back-off between retries.")

    # Deployment (scripts/deploy.py). Addresses left empty default to the local test accounts on a dev chain.
    deploy_admin: str = Field(default="", description="Admin of all contracts; gets the role in a two-step handover.")
    deploy_admin_delay_s: int = Field(default=0, ge=0, lt=2**48, description="Delay of an admin handover.")
    deploy_treasury: str = Field(default="", description="Receives the CPY supply, fees and platform shares.")
    deploy_cpy_supply: int = Field(default=10**9 * 10**18, gt=0, description="Fixed CPY supply in base units.")
    deploy_fee_bps: int = Field(default=1000, ge=0, le=3000, description="Platform fee on licence sales.")
    deploy_verifiers: list[str] = Field(default_factory=list, description="Accounts that sign attestations.")
    deploy_settlement_signers: list[str] = Field(default_factory=list, description="Accounts that sign quotes.")
    deploy_dispute_agents: list[str] = Field(default_factory=list, description="Accounts that flag disputes.")
    deploy_anchorers: list[str] = Field(default_factory=list, description="Accounts that anchor evidence.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
