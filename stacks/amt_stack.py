"""The project's own stack: the `amt:*` context (AppSettings) as the props of one `TuningStudies`."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from amt_conductor.cdk import TuningStudies, ids
from amt_conductor.cdk.config import AppSettings


class AmtStack(Stack):
    """One deployment of amt-conductor for the specs of `settings.configs_dir` (none when it is missing)."""

    def __init__(self, scope: Construct, id: str, *, settings: AppSettings, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.studies = TuningStudies(
            self, ids.STUDIES,
            specs=settings.configs_dir if settings.configs_dir.is_dir() else None,
            environment=settings.env,
            notify_emails=settings.notify_emails,
            chat_webhook_secret=settings.chat_webhook_secret,
            kms_key_accounts=settings.kms_key_accounts,
            study_prefixes=settings.study_prefixes,
            data_prefixes=settings.data_prefixes,
            reconcile_minutes=settings.reconcile_minutes,
            existing_model_package_groups=settings.existing_model_package_groups,
            quotas=settings.quotas,
            queue_timeout_hours=settings.queue_timeout_hours,
        )


__all__ = ["AmtStack"]
