"""`TuningStudies` in apps that are not this project's: examples/existing-app/ (the team's key, bucket and topic),
and a stack that imports its key, bucket and topic by ARN, runs the handlers in a VPC and holds a second
deployment. Each synthesizes nag-clean (AwsSolutions) with the project's invariants, nothing collides, and the
user's resources are used, never created or changed."""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aws_cdk import Acknowledgment, App, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Annotations, Match
from cdk_nag import AwsSolutionsChecks

from amt_conductor.cdk import TuningStudies
from amt_conductor.cdk.config import SynthError
from amt_conductor.cdk.nag import flatten
from amt_conductor.contract import EnvKeys, ErrorNames, StackOutputs
from amt_conductor.spec.access import TAG_STACK, stack_key
from infra.conftest import ROOT
from infra.invariants import bucket_violations, function_violations, role_violations

pytestmark = pytest.mark.infra

EXAMPLE = ROOT / "examples" / "existing-app"
CONFIGS = ROOT / "configs"
KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TOPIC_ARN = "arn:aws:sns:eu-west-1:111122223333:platform-alerts"


@dataclass
class Synthesized:
    template: dict[str, Any]
    nested: list[dict[str, Any]]
    stack: Stack
    nested_files: list[str]
    directory: Path

    def nested_resources(self) -> dict[str, dict[str, Any]]:
        """Resources of the nested stacks, keyed `<file name>/<logical id>` (the file name starts with the
        construct path of the TuningStudies that holds them, e.g. `PlatformSecondRolesStudies0...`)."""
        return {f"{name.removeprefix(self.stack.stack_name)}/{lid}": r for name, t in zip(self.nested_files,
                self.nested, strict=True) for lid, r in t["Resources"].items()}

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == type_}

    def handlers(self) -> dict[str, dict[str, Any]]:
        return {lid: fn for lid, fn in self.resources("AWS::Lambda::Function").items()
                if str(fn["Properties"].get("Handler", "")).startswith("amt_conductor.handlers.")}


def _synth(app: App, stack_name: str) -> Synthesized:
    """Synthesize with cdk-nag on (a finding makes synth raise) and return the stack's templates."""
    assembly = app.synth()
    stack = next(s for s in app.node.children if isinstance(s, Stack) and s.stack_name == stack_name)
    files = sorted(Path(assembly.directory).glob(f"{stack_name}*.nested.template.json"))
    return Synthesized(assembly.get_stack_by_name(stack_name).template, [json.loads(f.read_text()) for f in files],
                       stack, [f.name for f in files], Path(assembly.directory))


def _example_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("existing_app", EXAMPLE / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example() -> Synthesized:
    """examples/existing-app/ as `cdk synth` builds it (its cdk.json's context, cdk-nag on)."""
    context = json.loads((EXAMPLE / "cdk.json").read_text())["context"]
    app = _example_module().build(App(context=context, outdir=tempfile.mkdtemp(prefix="amt-example-")))
    return _synth(app, "MlPlatform")


def _vpc(stack: Stack) -> ec2.Vpc:
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)
    Validations.of(vpc).acknowledge(Acknowledgment(
        id="AwsSolutions-VPC7", reason="A test's VPC: flow logs are the VPC owner's concern, not the construct's."))
    return vpc


@pytest.fixture(scope="module")
def imported() -> Iterator[Synthesized]:
    """A stack that brings an imported key, bucket and topic and a VPC, and holds a second deployment."""
    app = App(outdir=tempfile.mkdtemp(prefix="amt-foreign-"))
    stack = Stack(app, "Platform")
    vpc = _vpc(stack)
    TuningStudies(stack, "Tuning", specs=CONFIGS, name="team-a",
                  encryption_key=kms.Key.from_key_arn(stack, "TeamKey", KEY_ARN),
                  artifacts_bucket=s3.Bucket.from_bucket_name(stack, "TeamBucket", "team-a-artifacts"),
                  topic=sns.Topic.from_topic_arn(stack, "TeamTopic", TOPIC_ARN), vpc=vpc)
    TuningStudies(stack, "Second", specs=None, name="team-b", study_prefixes=["team-b-"],
                  data_prefixes=["s3://team-b-data/training/"], outputs=False,
                  dependencies_layer=lambda_.LayerVersion.from_layer_version_arn(
                      stack, "TeamYaml", "arn:aws:lambda:eu-west-1:111122223333:layer:pyyaml:3"))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    yield _synth(app, "Platform")


def _env(fn: dict[str, Any]) -> dict[str, Any]:
    return fn["Properties"]["Environment"]["Variables"]


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [st for res in template["Resources"].values() if res["Type"] == "AWS::IAM::Policy"
            for st in res["Properties"]["PolicyDocument"]["Statement"]]


# --- examples/existing-app/: the team's own key, bucket and topic ---------------------------------------------

def test_the_example_app_synthesizes_nag_clean_with_the_invariants(example: Synthesized) -> None:
    # Reaching here means cdk-nag found nothing unacknowledged in the team's resources or ours.
    for template in (example.template, *example.nested):
        assert bucket_violations(template) == []
        assert role_violations(template) == []
    assert function_violations(example.template) == []
    assert len(example.handlers()) == 10


def test_the_example_uses_the_teams_key_bucket_and_topic(example: Synthesized) -> None:
    (key,) = example.resources("AWS::KMS::Key")
    (topic,) = example.resources("AWS::SNS::Topic")
    buckets = example.resources("AWS::S3::Bucket")
    (artifacts,) = [lid for lid in buckets if lid.startswith("MlArtifacts")]
    assert not [lid for lid in buckets if "ArtifactsBucket" in lid]  # ours is not created
    for fn in example.handlers().values():
        env = _env(fn)
        assert env[EnvKeys.ARTIFACTS_BUCKET] == {"Ref": artifacts}
        assert env[EnvKeys.TOPIC_ARN] == {"Ref": topic}
        assert env[EnvKeys.KMS_KEY_ARN] == {"Fn::GetAtt": [key, "Arn"]}
        assert fn["Properties"]["KmsKeyArn"] == {"Fn::GetAtt": [key, "Arn"]}


def test_the_teams_key_policy_lets_the_services_use_it_for_this_deployment_only(example: Synthesized) -> None:
    (key,) = example.resources("AWS::KMS::Key").values()
    by_service = {st["Principal"].get("Service") if isinstance(st["Principal"].get("Service"), str)
                  else flatten(st["Principal"].get("Service")): st
                  for st in key["Properties"]["KeyPolicy"]["Statement"] if "Service" in st["Principal"]}
    assert set(by_service) == {"logs.<AWS::Region>.amazonaws.com", "cloudwatch.amazonaws.com",
                               "events.amazonaws.com"}
    source = flatten(by_service["events.amazonaws.com"]["Condition"]["ArnLike"]["aws:SourceArn"])
    assert source.endswith(f":rule/amt-{stack_key('mlp-tuning')}-*")


def test_the_teams_bucket_gets_no_policy_from_the_construct(example: Synthesized) -> None:
    # Our roles are granted by their own policies; the team's bucket policy keeps only what the team set.
    (artifacts,) = [lid for lid in example.resources("AWS::S3::Bucket") if lid.startswith("MlArtifacts")]
    (policy,) = [p for p in example.resources("AWS::S3::BucketPolicy").values()
                 if p["Properties"]["Bucket"] == {"Ref": artifacts}]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert [st["Effect"] for st in statements] == ["Deny"]  # enforce_ssl, the team's


def test_the_example_deployment_is_named_by_its_name_prop(example: Synthesized) -> None:
    key = stack_key("mlp-tuning")
    rules = [r["Properties"]["Name"] for t in (example.template, *example.nested)
             for r in t["Resources"].values() if r["Type"] == "AWS::Events::Rule"]
    assert rules and all(name.startswith(f"amt-{key}-") for name in rules)
    paths = {r["Properties"]["Path"] for t in example.nested for r in t["Resources"].values()
             if r["Type"] == "AWS::IAM::Role"}
    assert paths == {"/amt/mlp-tuning/open/"}
    (dashboard,) = example.resources("AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == "mlp-tuning-amt"
    tagged = [st for st in _statements(example.template) if "sagemaker:CreateHyperParameterTuningJob" in st["Action"]]
    assert tagged and all(st["Condition"]["StringEquals"] == {f"aws:RequestTag/{TAG_STACK}": key} for st in tagged)
    # `amt submit --stack MlPlatform` reads these keys.
    assert {v for k, v in vars(StackOutputs).items() if k.isupper()} <= set(example.template["Outputs"])
    assert example.template["Outputs"]["ExecutionRolesPath"]["Value"] == "/amt/mlp-tuning/"


# --- imported resources, a VPC, two deployments in one stack -----------------------------------------------

def test_imported_resources_are_used_by_arn_and_nothing_collides(imported: Synthesized) -> None:
    # Reaching here means cdk-nag found nothing unacknowledged.
    for template in (imported.template, *imported.nested):
        assert role_violations(template) == []
    assert bucket_violations(imported.template) == []
    assert len(imported.handlers()) == 20
    # team-a brings key and topic: only team-b's key and topic are created.
    assert len(imported.resources("AWS::KMS::Key")) == 1 and len(imported.resources("AWS::SNS::Topic")) == 1
    team_a = [fn for fn in imported.handlers().values() if _env(fn)[EnvKeys.STACK_KEY] == stack_key("team-a")]
    assert len(team_a) == 10
    for fn in team_a:
        env = _env(fn)
        assert flatten(env[EnvKeys.ARTIFACTS_BUCKET]) == "team-a-artifacts"
        assert env[EnvKeys.TOPIC_ARN] == TOPIC_ARN and env[EnvKeys.KMS_KEY_ARN] == KEY_ARN
        assert flatten(env[EnvKeys.ROLE_ARN_BASE]).endswith(":role/amt/team-a/")
    # The physical names of the two deployments (rules, roles, dashboards) are disjoint.
    names = {prefix: {json.dumps(v) for lid, r in resources.items() if lid.startswith(prefix)
                      for k, v in r.get("Properties", {}).items() if k in {"Name", "RoleName", "DashboardName"}}
             for prefix in ("Tuning", "Second")
             for resources in [{**imported.template["Resources"], **imported.nested_resources()}]}
    assert names["Tuning"] and names["Second"] and not names["Tuning"] & names["Second"]
    assert {json.dumps("team-a-amt"), json.dumps("team-b-amt")} <= names["Tuning"] | names["Second"]
    assert set(imported.template.get("Outputs", {})) >= {"StateMachineArn"}  # team-a's; team-b has none


def test_an_imported_key_gets_a_warning_listing_what_its_policy_must_allow(imported: Synthesized) -> None:
    warnings = Annotations.from_stack(imported.stack).find_warning("*", Match.string_like_regexp("KMS key is imported"))
    (warning,) = warnings
    assert warning.id.startswith("/Platform/Tuning/")
    text = json.dumps(warning.entry.data)
    for service in ("logs.", "cloudwatch.amazonaws.com", "events.amazonaws.com"):
        assert service in text


def test_the_handlers_run_in_the_vpc_with_https_out_and_scoped_interfaces(imported: Synthesized) -> None:
    (group,) = imported.resources("AWS::EC2::SecurityGroup").values()
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in group["Properties"]["SecurityGroupEgress"]] \
        == [("tcp", 443, 443)]
    assert "SecurityGroupIngress" not in group["Properties"]
    private = sorted(lid for lid in imported.resources("AWS::EC2::Subnet") if "Private" in lid)
    in_vpc = [fn for fn in imported.handlers().values() if "VpcConfig" in fn["Properties"]]
    assert len(in_vpc) == 10  # team-a's; team-b's are not in a VPC
    for fn in in_vpc:
        assert sorted(s["Ref"] for s in fn["Properties"]["VpcConfig"]["SubnetIds"]) == private
        skips = {s["id"] for s in fn.get("Metadata", {}).get("checkov", {}).get("skip", [])}
        assert "CKV_AWS_117" not in skips
    manage = [st for st in _statements(imported.template) if st.get("Sid") == "ManageHandlerInterfaces"]
    assert len(manage) == 10
    for st in manage:
        subnets = sorted(flatten(s) for s in st["Condition"]["ArnEquals"]["ec2:Subnet"])
        assert subnets == sorted(f"arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:subnet/<{lid}>"
                                 for lid in private)


def test_a_given_dependencies_layer_replaces_the_staged_one(imported: Synthesized) -> None:
    team_b = [fn for fn in imported.handlers().values() if _env(fn)[EnvKeys.STACK_KEY] == stack_key("team-b")]
    assert team_b and all("arn:aws:lambda:eu-west-1:111122223333:layer:pyyaml:3" in fn["Properties"]["Layers"]
                          for fn in team_b)
    staged = [lid for lid, layer in imported.resources("AWS::Lambda::LayerVersion").items()
              if layer["Properties"].get("Description", "").startswith("PyYAML")]
    assert [lid[:len("Tuning")] for lid in staged] == ["Tuning"]  # team-a's staged PyYAML only


# --- props refused at synth, naming the prop -----------------------------------------------------------------

@pytest.mark.parametrize(("props", "message"), [
    ({"environment": "staging"}, "environment: must be one of dev, prod"),
    ({"study_prefixes": ["*"]}, "study_prefixes: '\\*' must be a study-name prefix"),
    ({"data_prefixes": ["bucket/prefix"]}, "data_prefixes: "),
    ({"reconcile_minutes": 0}, "reconcile_minutes: must be 1-1440"),
    ({"notify_emails": ["ops"]}, "notify_emails: 'ops' is not an email address"),
    ({"name": "team a"}, "name: 'team a' must be letters, digits and '-'"),
    ({"specs": ROOT / "no-such-folder"}, "no-such-folder: specs: not a folder"),
])
def test_bad_props_are_refused_naming_the_prop(props: dict[str, Any], message: str) -> None:
    stack = Stack(App(), "Props")
    with pytest.raises(SynthError, match=message):
        TuningStudies(stack, "Tuning", **{"specs": None, **props})


def test_vpc_options_without_a_vpc_are_refused() -> None:
    stack = Stack(App(), "Props")
    with pytest.raises(SynthError, match="vpc_subnets and security_groups need vpc"):
        TuningStudies(stack, "Tuning", specs=None,
                      vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS))


def test_two_deployments_of_a_stack_need_their_own_names_and_one_set_of_outputs() -> None:
    stack = Stack(App(), "Twice")
    TuningStudies(stack, "One", specs=None)
    with pytest.raises(SynthError, match="is named 'Twice' too"):
        TuningStudies(stack, "Two", specs=None, outputs=False)
    with pytest.raises(SynthError, match="has the stack's outputs already"):
        TuningStudies(stack, "Three", specs=None, name="three")


def test_a_bucket_encrypted_with_another_key_than_ours_is_refused() -> None:
    stack = Stack(App(), "Keys")
    bucket = s3.Bucket(stack, "Theirs", encryption_key=kms.Key(stack, "TheirKey"))
    with pytest.raises(SynthError, match="artifacts_bucket: it is encrypted with another KMS key"):
        TuningStudies(stack, "Tuning", specs=None, artifacts_bucket=bucket)


# --- the layer and the contract the construct shares with the runtime -----------------------------------------

def test_the_staged_layer_is_pure_python_pyyaml_that_loads_specs() -> None:
    from amt_conductor.cdk.asset import yaml_layer_dir

    layer = yaml_layer_dir() / "python"
    # -S: no site-packages, so `yaml` can only come from the layer (as in Lambda, where it is the only PyYAML).
    probe = ("import yaml; print(yaml.__file__); print(yaml.__with_libyaml__); "
             "print(yaml.load('a: [1, off]', Loader=yaml.SafeLoader))")
    out = subprocess.run([sys.executable, "-S", "-c", probe], env={**os.environ, "PYTHONPATH": str(layer)},
                         capture_output=True, text=True, timeout=60, check=True).stdout.splitlines()
    assert Path(out[0]).is_relative_to(layer)
    assert out[1:] == ["False", "{'a': [1, False]}"]
    assert not [p for p in layer.rglob("*") if p.is_file() and p.suffix not in {".py", ".pyc", ""}]


def test_the_layer_asset_is_the_same_on_every_machine(example: Synthesized) -> None:
    # What Lambda gets: PyYAML's modules and licence, no compiled extension, no bytecode of the machine's Python.
    (layer,) = [d for d in example.directory.glob("asset.*") if (d / "python" / "yaml").is_dir()]
    shipped = sorted(str(p.relative_to(layer)) for p in layer.rglob("*") if p.is_file())
    assert "python/yaml/__init__.py" in shipped
    assert [f for f in shipped if not f.endswith(".py") and not f.startswith("python/PyYAML-LICENSE")] == []


def test_the_workflow_names_the_errors_the_runtime_raises() -> None:
    from amt_conductor.runtime.admission import AlreadyAdmitted
    from amt_conductor.runtime.sagemaker_ops import Transient

    assert (Transient.__name__, AlreadyAdmitted.__name__) == (ErrorNames.TRANSIENT, ErrorNames.ALREADY_ADMITTED)


def test_every_prop_is_keyword_only_and_documented_in_the_docstring_and_the_readme() -> None:
    params = list(inspect.signature(TuningStudies.__init__).parameters.values())[1:]
    assert [p.name for p in params[:2]] == ["scope", "id"]
    props = [p.name for p in params[2:]]
    assert all(p.kind is p.KEYWORD_ONLY for p in params[2:])
    doc = TuningStudies.__doc__ or ""
    assert [p for p in props if f"\n        {p}: " not in doc] == []
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Use it in your own CDK app"):]
    section = section[:section.index("\n## ")]
    first_column = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    assert sorted(name for cell in first_column for name in re.findall(r"`(\w+)`", cell)) == sorted(props)
