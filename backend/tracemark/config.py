"""The one settings object of the backend, read from `TRACEMARK_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
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
    index_decode_process: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="Fetch and decode back-fill ranges in a worker process beside the writer: `auto` for a "
        "back-fill of several ranges (a small catch-up near the head stays in-process), `always`, or `never`.",
    )

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

    # Sign-in, sessions and request limits (tracemark.auth, tracemark.api.security, tracemark.api.limits).
    public_url: str = Field(
        default="", description="Where users reach the API, e.g. `https://tracemark.example`; sign-in messages must "
        "name its host as domain and it as URI. Empty: `http://<api_host>:<api_port>`.",
    )
    auth_nonce_ttl_s: int = Field(default=300, ge=10, le=3600, description="Lifetime of a sign-in nonce.")
    auth_session_ttl_s: int = Field(default=12 * 3600, ge=60, le=30 * 86400, description="Lifetime of a session.")
    caseworkers: list[str] = Field(
        default_factory=list, description="Addresses with the caseworker role (review queue), JSON list."
    )
    request_max_bytes: int = Field(default=64 * 1024, ge=1024, description="Largest body of a non-upload request.")
    rate_limit_per_minute: int = Field(default=600, ge=1, description="Requests per minute per client address.")
    rate_limit_auth_per_minute: int = Field(
        default=60, ge=1, description="Sign-in requests (nonce, login) per minute per client address."
    )

    # Originals (tracemark.storage): limits of an upload.
    originals_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024, description="Largest original, in bytes.")
    originals_max_pixels: int = Field(default=60_000_000, ge=1024, description="Largest original, in pixels.")
    originals_max_side: int = Field(default=20_000, ge=32, description="Longest side of an original, in pixels.")
    originals_max_metadata_bytes: int = Field(
        default=1024 * 1024, ge=0, description="Largest total of metadata (EXIF, XMP, IPTC, text) in an original."
    )
    originals_formats: list[str] = Field(
        default_factory=lambda: ["JPEG", "PNG", "WEBP"], description="Image formats accepted as originals."
    )

    # Registration (tracemark.services.registration).
    ipfs_api_url: str = Field(
        default="", description="Kubo-compatible RPC API of the IPFS node that pins metadata, e.g. "
        "`http://127.0.0.1:5001`; empty: the embedded store in `<data_dir>/ipfs`.",
    )
    verifier_key: SecretStr = Field(
        default=SecretStr(""), description="Private key (hex) that signs authorship attestations. Empty: the "
        "development key of anvil's account 1, on the local chain (31337) only.",
    )
    relayer_key: SecretStr = Field(
        default=SecretStr(""), description="Private key (hex) of the account that relays registrations when asked. "
        "Empty: anvil's account 0 on the local chain only; elsewhere relaying is off.",
    )
    verifier_keystore: Path | None = Field(
        default=None, description="Encrypted JSON keystore of the verifier key, used when `verifier_key` is empty "
        "(password in `keystore_password_file`).",
    )
    relayer_keystore: Path | None = Field(
        default=None, description="Encrypted JSON keystore of the relayer key, used when `relayer_key` is empty.",
    )
    keystore_password_file: Path | None = Field(
        default=None, description="File whose first line is the password of the keystores.",
    )
    attestation_ttl_s: int = Field(default=3600, ge=60, le=7 * 86400, description="Validity of an attestation.")
    settlement_key: SecretStr = Field(
        default=SecretStr(""), description="Private key (hex) that signs settlement quotes of cases. Empty: the "
        "development key of anvil's account 2, on the local chain (31337) only.",
    )
    settlement_keystore: Path | None = Field(
        default=None, description="Encrypted JSON keystore of the settlement key, used when `settlement_key` is "
        "empty (password in `keystore_password_file`).",
    )
    portal_per_minute: int = Field(
        default=60, ge=1, description="Clearing portal requests per minute per client address (case links)."
    )
    settlement_quote_ttl_s: int = Field(
        default=1800, ge=60, le=86400, description="Validity of a settlement quote (its on-chain deadline)."
    )

    # Public verification (tracemark.services.verification: POST /v1/verify and the /verify page).
    verify_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024, description="Largest image to verify, in bytes.")
    verify_per_minute: int = Field(
        default=20, ge=1, description="Verifications per minute per client address (each one fingerprints an image)."
    )
    ipfs_local_api_port: int = Field(
        default=5001, ge=1, le=65535, description="RPC port of the local js-ipfs daemon `tracemark run` starts when "
        "`ipfs_api_url` is empty.",
    )

    # Evidence (tracemark.evidence): the key that anchors batch roots with EvidenceAnchor.
    anchorer_key: SecretStr = Field(
        default=SecretStr(""), description="Private key (hex) of an account with EvidenceAnchor's ANCHOR_ROLE. Empty: "
        "the development key of anvil's account 4, on the local chain (31337) only.",
    )

    # The crawler (tracemark.crawler, `tracemark crawl`).
    crawl_contact_url: str = Field(
        default="https://tracemark.example/crawler", description="Named in the crawler's user agent: where site "
        "operators learn what the crawler does and reach us.",
    )
    crawl_allow_networks: list[str] = Field(
        default_factory=list, description="Non-global networks (CIDRs) the crawler may connect to anyway, e.g. "
        '`["127.0.0.0/8"]` for local test servers, JSON list. Empty: global addresses only.',
    )
    crawl_system_dns: bool = Field(
        default=True, description="Resolve host names with the system resolver; false: only `--resolve` mappings "
        "and numeric hosts (closed test networks).",
    )
    crawl_per_host_concurrency: int = Field(default=2, ge=1, le=64, description="Requests in flight per host.")
    crawl_delay_s: float = Field(
        default=0.25, ge=0, le=60, description="Pause between requests to one host (AutoThrottle adapts it)."
    )
    crawl_timeout_s: float = Field(default=30.0, gt=0, le=600, description="Longest time for one response.")
    crawl_max_page_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, description="Largest page body, in bytes.")
    crawl_max_image_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, description="Largest image, in bytes.")
    crawl_match_workers: int = Field(default=2, ge=1, le=64, description="Threads that match crawled images.")
    crawl_log_level: str = Field(
        default="ERROR", description="Scrapy's log level on stderr (DEBUG, INFO, WARNING, ERROR); progress lines "
        "are printed whatever it is.",
    )

    # Cases (tracemark.cases): deadlines of the stages, the fee split and the compensation matrix.
    case_reminder_days: int = Field(
        default=14, ge=14, le=21, description="Days without an answer after the offer before the reminder."
    )
    case_damages_days: int = Field(default=14, ge=1, le=365, description="Days after the reminder before damages.")
    case_lawyer_days: int = Field(
        default=14, ge=1, le=365, description="Days after the damages claim before the lawyer's warning."
    )
    case_court_days: int = Field(default=30, ge=1, le=365, description="Days after the lawyer's warning before court.")
    case_holder_share_bps: int = Field(default=7000, ge=0, le=10_000, description="Holder's share of a settlement.")
    case_external_abroad_holder_share_bps: int = Field(
        default=5000, ge=0, le=10_000,
        description="Holder's share when a lawyer or collection agency outside `case_home_country` takes the case.",
    )
    case_home_country: str = Field(default="DE", min_length=2, max_length=2, description="The platform's country.")
    compensation_matrix_version: str = Field(
        default="", description="Version of the compensation matrix (`cases/data/compensation-<version>.toml`); "
        "empty: the newest shipped.",
    )

    # Mail (tracemark.mail): the SMTP server that delivers the letters of cases.
    smtp_host: str = Field(default="", description="SMTP server for letters; empty: no mail is sent.")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port (587 STARTTLS, 465 TLS, 25 plain).")
    smtp_security: str = Field(
        default="starttls", pattern="^(starttls|tls|none)$",
        description="`starttls`, `tls` (implicit, port 465) or `none` (loopback relays and tests only: no login).",
    )
    smtp_username: str = Field(default="", description="SMTP login; empty: no login.")
    smtp_password: SecretStr = Field(default=SecretStr(""), description="SMTP password.")
    smtp_ca_file: Path | None = Field(
        default=None, description="CA certificates (PEM) to trust for the SMTP server instead of the system's."
    )
    smtp_timeout_s: float = Field(default=30.0, gt=0, le=600, description="Timeout of the SMTP connection.")
    mail_from: str = Field(
        default="Tracemark <cases@tracemark.example>", description="Sender of letters (`Name <address>`)."
    )
    mail_reply_to: str = Field(default="", description="Reply-To of letters; empty: none.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
