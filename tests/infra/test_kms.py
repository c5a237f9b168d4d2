"""KMS (issue 9 items 7 and 8): grants only for AWS resources, the stack key only through S3 and SageMaker,
keys of other accounts only when allowed, no rescoped aliases, source ARNs on the key policy's service grants."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from amt_conductor.cdk.nag import flatten
from infra.conftest import ROOT, throwaway_stack

pytestmark = pytest.mark.infra


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for res in template["Resources"].values():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::IAM::Role":
            out += [st for p in props.get("Policies", []) for st in p["PolicyDocument"]["Statement"]]
        elif res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            out += props["PolicyDocument"]["Statement"]
    return out


def _actions(st: dict[str, Any]) -> list[str]:
    return st["Action"] if isinstance(st["Action"], list) else [st["Action"]]


def test_create_grant_is_only_for_aws_resources(synth: Any) -> None:
    grants = [st for t in synth.all_templates() for st in _statements(t)
              if st["Effect"] == "Allow" and any(a in ("kms:CreateGrant", "kms:*") for a in _actions(st))]
    assert grants, "fraud-random's key should be granted (else this test covers nothing)"
    for st in grants:
        assert st["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}, st


def test_the_stack_key_reaches_study_roles_only_through_s3_and_sagemaker(synth: Any) -> None:
    uses = [st for t in synth.nested.values() for st in _statements(t)
            if st.get("Resource") == {"Ref": "StackKeyArn"}]
    assert len(uses) == len(list((ROOT / "configs").glob("*.yaml")))  # one per study in configs/
    for st in uses:
        services = st["Condition"]["StringEquals"]["kms:ViaService"]
        assert [flatten(s) for s in services] == ["s3.<AWS::Region>.amazonaws.com",
                                                  "sagemaker.<AWS::Region>.amazonaws.com"]
        assert "kms:CreateGrant" not in _actions(st)


def test_eventbridge_may_use_the_key_for_this_stacks_rules_only(synth: Any) -> None:
    (key,) = synth.resources("AWS::KMS::Key").values()
    (events,) = [st for st in key["Properties"]["KeyPolicy"]["Statement"]
                 if st.get("Principal", {}).get("Service") == "events.amazonaws.com"]
    assert flatten(events["Condition"]["ArnLike"]["aws:SourceArn"]).startswith(
        "arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:rule/amt-")


OTHER_KEY = "arn:aws:kms:us-east-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _configs_with_key(tmp_path: Path, key: str) -> Path:
    source = (ROOT / "configs" / "fraud-random-spot.yaml").read_text()
    (tmp_path / "fraud.yaml").write_text(source.replace(
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", key))
    return tmp_path


def test_a_key_in_another_account_needs_the_allow_list(tmp_path: Path, synth_factory: Any) -> None:
    from amt_conductor.cdk.config import SynthError

    configs = _configs_with_key(tmp_path, OTHER_KEY)
    with pytest.raises(SynthError, match="kms_key_id: the key is in account 444455556666, not this stack's"):
        synth_factory({"amt:configsDir": str(configs), "amt:account": "111122223333", "amt:region": "us-east-1"},
                      nag=False)
    allowed = synth_factory({"amt:configsDir": str(configs), "amt:account": "111122223333",
                             "amt:region": "us-east-1", "amt:kmsKeyAccounts": "444455556666"}, nag=False)
    assert "444455556666" in json.dumps(allowed.nested)


def test_an_environment_agnostic_template_asserts_the_key_account_at_deploy(tmp_path: Path,
                                                                             synth_factory: Any) -> None:
    configs = _configs_with_key(tmp_path, OTHER_KEY)
    synth = synth_factory({"amt:configsDir": str(configs)}, nag=False)
    rule = synth.json["Rules"]["SpecKeysInThisAccount"]
    (assertion,) = rule["Assertions"]
    assert assertion["Assert"] == {"Fn::Equals": [{"Ref": "AWS::AccountId"}, "444455556666"]}


def test_an_alias_arn_of_another_account_is_not_rescoped_to_ours() -> None:
    from amt_conductor.cdk.roles import spec_key_arn

    stack = throwaway_stack()
    arn, alias = spec_key_arn(stack, "arn:aws:kms:eu-west-1:444455556666:alias/team-key")
    assert flatten(stack.resolve(arn)) == "arn:<AWS::Partition>:kms:eu-west-1:444455556666:key/*"
    assert alias == "alias/team-key"
