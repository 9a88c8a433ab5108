"""Runtime settings read from the environment, validated once (the handlers' edge)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Names of the AWS resources a function uses; the stack (or the local engine) sets them."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    runs_table: str = Field(alias="RUNS_TABLE")
    audit_table: str = Field(alias="AUDIT_TABLE")
    crosswalk_table: str = Field(alias="CROSSWALK_TABLE")
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE")
    approvals_table: str = Field(alias="APPROVALS_TABLE")
    data_bucket: str = Field(alias="DATA_BUCKET")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]


class ApiSettings(BaseSettings):
    """The workflows the API starts; the stack sets both ARNs on the API function (so does local mode)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    migrate_state_machine_arn: str = Field(alias="MIGRATE_STATE_MACHINE_ARN")
    rollback_state_machine_arn: str = Field(alias="ROLLBACK_STATE_MACHINE_ARN")


class RollbackStartSettings(BaseSettings):
    """The rollback workflow, for a step that starts it (a failed reconciliation with
    ``on_failed_reconciliation: rollback``)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    rollback_state_machine_arn: str = Field(alias="ROLLBACK_STATE_MACHINE_ARN")


class ApprovalSettings(BaseSettings):
    """Where sign-off requests go and how their links are signed (approval and API functions)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    public_api_url: str = Field(default="", alias="PUBLIC_API_URL",
                                description="base URL the approve/reject links point at (the API stage URL)")
    sender_address: str = Field(default="flitstack@localhost", alias="SENDER_ADDRESS")
    approvals_secret: str = Field(default="flitstack/approvals", alias="APPROVALS_SECRET",
                                  description="JSON: link_keys (newest first), slack_signing_secret, "
                                              "slack_webhook_url, optional ca_pem for the webhook")


def get_approval_settings() -> ApprovalSettings:
    return ApprovalSettings()
