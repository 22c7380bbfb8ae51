"""Settings read from the environment (DIEMTIN_*), a `.env` file, or a TOML file.

They are read once by the CLI and passed down; nothing below the CLI reads globals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO_ROOT / "config"
TEMPLATES_DIR = REPO_ROOT / "templates"


class CrawlSettings(BaseSettings):
    """Politeness and limits for the crawlers; a profile may tighten them per source."""

    model_config = SettingsConfigDict(env_prefix="DIEMTIN_CRAWL_", extra="ignore")

    # Honest: who we are and how to reach the office; profiles/settings set the real contact.
    user_agent: str = "DiemTinBot/0.1 (theo doi bao chi cho co quan thong tin cap tinh)"
    download_delay: float = Field(1.0, ge=0)
    concurrency_per_domain: int = Field(2, ge=1, le=2)
    concurrency_total: int = Field(16, ge=1)
    timeout: float = Field(20.0, gt=0)
    retries: int = Field(2, ge=0)
    retry_backoff: float = Field(1.0, ge=0)
    max_retry_after: float = Field(120.0, ge=0)
    max_page_bytes: int = Field(5 * 1024 * 1024, gt=0)
    obey_robots: bool = True
    autothrottle: bool = True
    max_items_per_source: int = Field(500, ge=1)


class SmtpSettings(BaseSettings):
    """The mail server that sends the digest and the alerts (DIEMTIN_SMTP_*).

    `port` 0 means the usual port for `security`: 587 (starttls), 465 (ssl), 25 (none). The
    password comes from `password`, else from `secrets_file` (one line, e.g.
    /etc/diemtin/smtp-password, readable only by the service's user). Certificates are checked
    against the system's store; SSL_CERT_FILE points at another (an office's own CA).
    """

    model_config = SettingsConfigDict(env_prefix="DIEMTIN_SMTP_", extra="ignore")

    host: str = "localhost"
    port: int = Field(0, ge=0, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    user: str | None = None
    password: SecretStr | None = None
    from_addr: str = "diemtin@localhost"
    timeout: float = Field(30.0, gt=0)
    secrets_file: Path | None = None
    # Transient failures (connection refused/reset, 4xx): tries after the first, waiting
    # retry_backoff, 2×, 4×… seconds; whatever is still undelivered waits for the next run.
    retries: int = Field(3, ge=0)
    retry_backoff: float = Field(2.0, ge=0)


class WebSettings(BaseSettings):
    """The officers' review app (DIEMTIN_WEB_*)."""

    model_config = SettingsConfigDict(env_prefix="DIEMTIN_WEB_", extra="ignore")

    idle_minutes: int = Field(30, ge=1)  # signed out after this long without a request
    # Cookies are Secure when the request came over HTTPS (directly, or X-Forwarded-Proto from
    # a proxy in trusted_proxies); force_secure_cookies sets it always.
    force_secure_cookies: bool = False
    trusted_proxies: str = "127.0.0.1"
    # Wrong passwords allowed per minute, per user name and per address, before throttling.
    max_failures_per_user: int = Field(5, ge=1)
    max_failures_per_address: int = Field(20, ge=1)
    page_size: int = Field(50, ge=5, le=500)


class Settings(BaseSettings):
    """Top-level settings. `database_url` wins over `data_dir` for the database."""

    model_config = SettingsConfigDict(
        env_prefix="DIEMTIN_", env_file=".env", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Path("var")
    database_url: str | None = None
    profile: str = "demo"
    config_dir: Path = CONFIG_DIR
    timezone: str = "Asia/Ho_Chi_Minh"
    # Classification: trained heads (None: the ones shipped in classify/models/default) and
    # CPU threads for the encoder (None: all cores).
    heads_dir: Path | None = None
    threads: int | None = None
    crawl: CrawlSettings = Field(default_factory=CrawlSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    web: WebSettings = Field(default_factory=WebSettings)

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'diemtin.db').resolve()}"

    def profile_path(self, name: str | None = None) -> Path:
        """A profile is a name in `config_dir` or a path to a YAML file."""
        name = name or self.profile
        p = Path(name)
        if p.suffix in (".yaml", ".yml") or p.exists():
            return p
        return self.config_dir / f"{name}.yaml"


def load_settings(config_file: Path | None = None, **overrides) -> Settings:
    """Settings from env/.env, then a TOML file (if given), then explicit overrides."""
    data: dict = {}
    if config_file:
        import tomllib

        data = tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
    data.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**data)
