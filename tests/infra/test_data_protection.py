"""Buckets, key, registry and topic: encryption, TLS, public access, versions, retention (issue 4, item 2)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from amt_conductor.contract import RegistrySchema
from infra.conftest import throwaway_stack
from infra.invariants import bucket_violations

pytestmark = pytest.mark.infra


def test_every_bucket_is_encrypted_private_tls_only_versioned_and_owner_enforced(synth: Any) -> None:
    assert len(synth.resources("AWS::S3::Bucket")) == 3
    assert bucket_violations(synth.json) == []


def _throwaway(**bucket_props: Any) -> dict[str, Any]:
    stack = throwaway_stack()
    s3.Bucket(stack, "Bucket", **bucket_props)
    return Template.from_stack(stack).to_json()


GOOD = {"encryption": s3.BucketEncryption.S3_MANAGED, "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
        "enforce_ssl": True, "versioned": True, "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED}


def test_bucket_check_passes_a_compliant_bucket() -> None:
    assert bucket_violations(_throwaway(**GOOD)) == []


@pytest.mark.parametrize(("broken", "violation"), [
    ({"encryption": s3.BucketEncryption.UNENCRYPTED}, "not encrypted"),
    ({"enforce_ssl": False}, "TLS not enforced"),
    ({"block_public_access": s3.BlockPublicAccess.BLOCK_ACLS}, "public access not blocked"),
    ({"versioned": False}, "not versioned"),
    ({"object_ownership": s3.ObjectOwnership.OBJECT_WRITER}, "BucketOwnerEnforced"),
])
def test_bucket_check_catches_each_broken_control(broken: dict[str, Any], violation: str) -> None:
    found = bucket_violations(_throwaway(**{**GOOD, **broken}))
    assert any(violation in v for v in found), found


def test_data_buckets_use_the_cmk_and_log_to_the_sse_s3_log_bucket(synth: Any) -> None:
    kms = synth.template.find_resources("AWS::S3::Bucket", {"Properties": {"BucketEncryption": {
        "ServerSideEncryptionConfiguration": [Match.object_like({"ServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": Match.any_value()}})]}}})
    assert len(kms) == 2
    for lid, bucket in kms.items():
        logging = bucket["Properties"]["LoggingConfiguration"]
        target = logging["DestinationBucketName"]["Ref"]
        sse = synth.json["Resources"][target]["Properties"]["BucketEncryption"]
        assert sse["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "AES256"}, lid


def test_buckets_expire_old_versions_and_data_is_retained(synth: Any) -> None:
    for lid, bucket in synth.resources("AWS::S3::Bucket").items():
        rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
        assert any("NoncurrentVersionExpiration" in r for r in rules), lid
        assert bucket["DeletionPolicy"] == "Retain", lid


def test_key_rotates_and_is_retained(synth: Any) -> None:
    synth.template.has_resource("AWS::KMS::Key", {
        "Properties": Match.object_like({"EnableKeyRotation": True}), "DeletionPolicy": "Retain",
    })


def test_registry_keys_index_encryption_pitr_and_retention(synth: Any) -> None:
    synth.template.has_resource("AWS::DynamoDB::Table", {
        "Properties": Match.object_like({
            "KeySchema": [{"AttributeName": RegistrySchema.PK, "KeyType": "HASH"},
                          {"AttributeName": RegistrySchema.SK, "KeyType": "RANGE"}],
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": Match.any_value()},
            "GlobalSecondaryIndexes": [{
                "IndexName": RegistrySchema.INFLIGHT_INDEX,
                "KeySchema": [{"AttributeName": RegistrySchema.INFLIGHT_PK, "KeyType": "HASH"},
                              {"AttributeName": RegistrySchema.INFLIGHT_SK, "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }],
            "AttributeDefinitions": Match.array_with([
                {"AttributeName": RegistrySchema.INFLIGHT_PK, "AttributeType": "S"},
                {"AttributeName": RegistrySchema.INFLIGHT_SK, "AttributeType": "S"}]),
        }),
        "DeletionPolicy": "Retain",
    })


def test_topic_is_encrypted_and_tls_only(synth: Any) -> None:
    synth.template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    synth.template.has_resource_properties("AWS::SNS::TopicPolicy", {
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})])},
    })


def test_every_log_group_is_encrypted_and_has_a_retention(synth: Any) -> None:
    groups = synth.resources("AWS::Logs::LogGroup")
    assert len(groups) >= 10  # eight functions, the state machine, the configs deployment
    for lid, group in groups.items():
        assert "KmsKeyId" in group["Properties"] and "RetentionInDays" in group["Properties"], lid


def test_configs_are_deployed_under_the_prefix_and_never_pruned(synth: Any) -> None:
    synth.template.has_resource_properties("Custom::CDKBucketDeployment", {
        "DestinationBucketKeyPrefix": "configs/", "Prune": False, "RetainOnDelete": True,
    })


def test_email_and_chat_subscriptions_come_from_context(synth_factory: Any) -> None:
    synth = synth_factory({"amt:notifyEmails": "a@example.com,b@example.com",
                           "amt:chatWebhookSecret": "amt/chat-webhook:url", "amt:configsDir": "/none"},
                          nag=False)
    synth.template.resource_properties_count_is("AWS::SNS::Subscription", {"Protocol": "email"}, 2)
    # Issue 9 item 12: the webhook URL is a credential; the template holds a reference to the secret, resolved
    # by CloudFormation at deploy time, never the URL.
    synth.template.has_resource_properties("AWS::SNS::Subscription", {
        "Protocol": "https", "Endpoint": "{{resolve:secretsmanager:amt/chat-webhook:SecretString:url::}}"})


def test_a_webhook_url_in_context_is_refused(synth_factory: Any) -> None:
    from amt_conductor.cdk.config import SynthError

    with pytest.raises(SynthError, match="amt:chatWebhookUrl: a webhook URL is a credential"):
        synth_factory({"amt:chatWebhookUrl": "https://chat.example.com/hook", "amt:configsDir": "/none"}, nag=False)
