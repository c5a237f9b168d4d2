"""The SNS topic people subscribe to: run summaries, failures and alarms."""

from __future__ import annotations

from aws_cdk import SecretValue
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct


class Notifications(Construct):
    """CMK-encrypted, TLS-only topic; email subscriptions and an optional chat webhook whose URL is read
    from a Secrets Manager secret at deploy time (a dynamic reference: the template never holds it)."""

    def __init__(self, scope: Construct, id: str, *, key: kms.IKey, emails: tuple[str, ...] = (),
                 chat_webhook_secret: str | None = None) -> None:
        super().__init__(scope, id)
        self.topic = sns.Topic(
            self, "Topic",
            display_name="amt-conductor",
            master_key=key,
            enforce_ssl=True,
        )
        for email in emails:
            self.topic.add_subscription(subs.EmailSubscription(email))
        if chat_webhook_secret:
            # A chat tool's incoming webhook (or a relay in front of it) that accepts SNS HTTPS deliveries.
            # `secret` or `secret:field` (a JSON secret's key); resolved by CloudFormation at deploy time.
            name, _, field = chat_webhook_secret.partition(":")
            url = SecretValue.secrets_manager(name, json_field=field or None).unsafe_unwrap()
            self.topic.add_subscription(subs.UrlSubscription(url, protocol=sns.SubscriptionProtocol.HTTPS))
