"""Round trip over real tuning requests: `amt import` then `amt render` gives a request equal in meaning.

The corpus (tests/data/real/, sources in its SOURCES.md) was written by others: AWS's example notebooks and
developer guide, the Kubernetes operators, the SageMaker SDK as a production launcher drives it. Each file
is imported, the spec rendered in the region of the source's image, and the two requests compared field by
field after `meaning()`.

"Equal in meaning", precisely: the brief ignores the job name (amt names jobs `<study>-r<round>-<hash>`), the
role ARN (the stack's role is used) and the tags amt adds (`amt:study`, `amt:round`). Beyond those, only these
differences are forgiven, each because SageMaker reads both forms the same way:
  N1 Tags are compared as a map: keys are unique per resource and SageMaker keeps no order.
  N2 Parameter ranges are compared by name: SageMaker identifies a range by its hyperparameter name; an empty
     range list is the same as none.
  N3 Range bounds are compared as numbers (`"0.0"` = `"0"`, `"1e-5"` = `"0.00001"`): SageMaker parses them.
  N4 A range without ScalingType is `Auto`: the API's only scale that leaves the choice to SageMaker, and what
     the SageMaker SDK sends when none is chosen.
  N5 TrainingJobEarlyStoppingType absent = `Off` (botocore's documentation: "the default value is OFF").
  N6 EnableManagedSpotTraining, EnableNetworkIsolation, EnableInterContainerTrafficEncryption absent = false:
     SageMaker's Describe of a job created without them lists false (tests/data/real/describe/ack-warm-start.json
     against its request 13-ack-warm-start.json).
  N7 HyperParameterTuningResourceConfig with one InstanceType/InstanceCount/VolumeSizeInGB (what SDK v2
     sends) = ResourceConfig with the same three: the API documents it as supporting the capabilities of
     ResourceConfig; without InstanceConfigs there is nothing else in it.
  N8 SageMaker SDK requests (framework estimators): the SDK's bookkeeping hyperparameters (sagemaker_job_name,
     sagemaker_estimator_class_name, sagemaker_estimator_module) are left out (the brief: only the SDK's
     attach() reads them), and every hyperparameter and categorical value is compared as the value the
     training script receives: the SageMaker training toolkit JSON-decodes each value when it parses
     (sagemaker_training.environment.read_hyperparameters), so `"\"rgcn\""` and `"rgcn"` both arrive as the
     text rgcn, while `"\"false\""` (text) and `"false"` (a boolean) stay different.
  N9 A channel without S3DataDistributionType is `FullyReplicated` when every job runs on one instance: each
     of n instances gets 1/n of the objects with ShardedByS3Key (API reference), so with one instance both
     types give it every object. With more instances the absence is not forgiven.
"""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import yaml
from botocore.validate import ParamValidator

from amt_conductor.cli.main import main
from amt_conductor.spec.importing.request import SDK_BOOKKEEPING, sdk_quoted, toolkit_value
from amt_conductor.spec.yamlsafe import SpecLoader

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
CORPUS = sorted(REAL.glob("*.json"))
DESCRIBES = sorted((REAL / "describe").glob("*.json"))
# Corpus files whose fields the spec cannot express yet: the exact missing field. strict: once the field
# lands the test passes and the entry must go.
PENDING: dict[str, str] = {
    "20-terraform-kmeans-multi-definition.json": "S3DataSource.InstanceGroupNames, and checkpoint, retry, spot, "
                                                 "network and output_compression per definition (a spec shares "
                                                 "them across its algorithms)",
}
PENDING_DESCRIBE: dict[str, str] = {}
# A Describe response next to the request it was created from (both in the same public repository).
DESCRIBED_REQUEST = {"ack-warm-start.json": "13-ack-warm-start.json",
                     "ack-multi-definition.json": "12-ack-multi-definition.json"}
_ECR_REGION = re.compile(r"^\d{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/")


def _cases(files: list[Path], pending: dict[str, str]) -> list[Any]:
    return [pytest.param(f, id=f.stem, marks=[pytest.mark.xfail(strict=True, reason=f"spec lacks {pending[f.name]}")]
                         if f.name in pending else []) for f in files]


def _input_shape() -> Any:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return model.operation_model("CreateHyperParameterTuningJob").input_shape


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_corpus_requests_pass_botocore_validation(path: Path) -> None:
    report = ParamValidator().validate(json.loads(path.read_text()), _input_shape())
    assert not report.has_errors(), report.generate_report()


def test_corpus_has_its_sources_and_the_cases_the_issue_names() -> None:
    sources = (REAL / "SOURCES.md").read_text()
    for path in [*CORPUS, *DESCRIBES]:
        assert f"| {path.relative_to(REAL)} |" in sources, f"{path.name} has no row in SOURCES.md"
    assert len(CORPUS) >= 15
    text = {p.name: p.read_text() for p in CORPUS}
    assert any('"TrainingJobDefinitions"' in t for t in text.values())
    assert any('"CheckpointConfig"' in t for t in text.values())
    assert any('"https://' in t for t in text.values())
    assert any('"_num_gpus"' in t for t in text.values())
    assert any('"sagemaker_program"' in t for t in text.values())


@pytest.mark.parametrize("path", _cases(CORPUS, PENDING))
def test_import_then_render_gives_the_same_request(path: Path, tmp_path: Path, capsys: Any) -> None:
    source = json.loads(path.read_text())
    rendered = _round_trip(path, _region(source), tmp_path, capsys)
    assert meaning(rendered) == meaning(source)


@pytest.mark.parametrize("path", _cases(DESCRIBES, PENDING_DESCRIBE))
def test_import_of_a_describe_response_renders_its_request(path: Path, tmp_path: Path, capsys: Any) -> None:
    from amt_conductor.spec.importing.request import request_from_describe

    described = json.loads(path.read_text())
    pair = DESCRIBED_REQUEST.get(path.name)
    # Where the repository has the job's own request, compare with it: what SageMaker added to the Describe
    # (its built-in metrics, _tuning_objective_metric, nulls) must not reach the spec.
    source = json.loads((REAL / pair).read_text()) if pair else request_from_describe(described, [])
    source.pop("Tags", None)  # Describe does not return tags (`amt import --job` reads them with ListTags)
    rendered = _round_trip(path, _region(source), tmp_path, capsys)
    assert meaning(rendered) == meaning(source)


def _round_trip(path: Path, region: str, tmp_path: Path, capsys: Any) -> dict[str, Any]:
    assert main(["import", str(path)]) == 0, capsys.readouterr().err
    spec = tmp_path / "imported.yaml"
    spec.write_text(capsys.readouterr().out)
    assert main(["render", str(spec), "--region", region]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    rendered: dict[str, Any] = json.loads(out)
    report = ParamValidator().validate(rendered, _input_shape())
    assert not report.has_errors(), report.generate_report()
    # amt's own request imports back to the same spec (its name aside: amt's job name is not the source's).
    again = tmp_path / "rendered.json"
    again.write_text(out)
    first = yaml.load(spec.read_text(), Loader=SpecLoader)
    assert main(["import", str(again), "--name", first["name"]]) == 0, capsys.readouterr().err
    assert yaml.load(capsys.readouterr().out, Loader=SpecLoader) == first
    return rendered


def _region(request: dict[str, Any]) -> str:
    """The region of the source's ECR images (the same region, as the brief says), else us-east-1."""
    for d in _definitions(request):
        match = _ECR_REGION.match(d.get("AlgorithmSpecification", {}).get("TrainingImage", ""))
        if match:
            return match[1]
    return "us-east-1"


# --- meaning ----------------------------------------------------------------------------------

def meaning(request: dict[str, Any]) -> dict[str, Any]:
    """`request` with only the differences the module docstring lists taken out."""
    r = copy.deepcopy(request)
    r.pop("HyperParameterTuningJobName", None)
    tags = {t["Key"]: t["Value"] for t in r.pop("Tags", []) if not t["Key"].startswith("amt:")}  # N1
    if tags:
        r["Tags"] = tags
    config = r["HyperParameterTuningJobConfig"]
    config.setdefault("TrainingJobEarlyStoppingType", "Off")  # N5
    for d in _definitions(r):
        quoted = sdk_quoted(d)
        _ranges_meaning(config, "ParameterRanges", quoted)
        _ranges_meaning(d, "HyperParameterRanges", quoted)
        _definition_meaning(d, quoted)
    return r


def _definitions(request: dict[str, Any]) -> list[dict[str, Any]]:
    return ([request["TrainingJobDefinition"]] if "TrainingJobDefinition" in request else []) + list(
        request.get("TrainingJobDefinitions", []))


def _ranges_meaning(holder: dict[str, Any], key: str, quoted: bool) -> None:
    ranges = holder.pop(key, None)
    if not ranges:
        return
    out: dict[str, Any] = {}
    for kind, items in ranges.items():
        if not items:
            continue  # N2
        by_name = {}
        for item in items:
            item = dict(item)
            name = item.pop("Name")
            if kind in ("IntegerParameterRanges", "ContinuousParameterRanges"):
                item["MinValue"], item["MaxValue"] = Decimal(item["MinValue"]), Decimal(item["MaxValue"])  # N3
                item.setdefault("ScalingType", "Auto")  # N4
            if kind == "CategoricalParameterRanges" and quoted:
                item["Values"] = [toolkit_value(v) for v in item["Values"]]  # N8
            by_name[name] = item
        out[kind] = by_name  # N2
    if out:
        holder[key] = out


def _definition_meaning(d: dict[str, Any], quoted: bool) -> None:
    d.pop("RoleArn", None)
    for flag in ("EnableManagedSpotTraining", "EnableNetworkIsolation", "EnableInterContainerTrafficEncryption"):
        d.setdefault(flag, False)  # N6
    tuning = d.get("HyperParameterTuningResourceConfig", {})
    if tuning and "InstanceConfigs" not in tuning and "AllocationStrategy" not in tuning:
        d["ResourceConfig"] = d.pop("HyperParameterTuningResourceConfig")  # N7
    if _one_instance(d):
        for channel in d.get("InputDataConfig", []):
            channel.get("DataSource", {}).get("S3DataSource", {}).setdefault("S3DataDistributionType",
                                                                           "FullyReplicated")  # N9
    statics = d.pop("StaticHyperParameters", {})
    if quoted:
        statics = {k: toolkit_value(v) for k, v in statics.items() if k not in SDK_BOOKKEEPING}  # N8
    if statics:
        d["StaticHyperParameters"] = statics


@pytest.mark.parametrize("change", [
    lambda r: r["TrainingJobDefinition"]["StaticHyperParameters"].update(num_round="101"),
    lambda r: r["TrainingJobDefinition"]["InputDataConfig"][0]["DataSource"]["S3DataSource"].update(S3Uri="s3://b/x"),
    lambda r: r["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"][0].update(
        MaxValue="1.5"),
    lambda r: r["HyperParameterTuningJobConfig"]["ParameterRanges"]["IntegerParameterRanges"][0].update(
        ScalingType="Logarithmic"),
    lambda r: r["TrainingJobDefinition"]["ResourceConfig"].update(VolumeSizeInGB=11),
    lambda r: r["TrainingJobDefinition"].update(EnableNetworkIsolation=True),
    lambda r: r.update(Tags=[{"Key": "team", "Value": "ml"}]),
    lambda r: r["TrainingJobDefinition"]["InputDataConfig"].reverse(),
], ids=["static", "uri", "bound", "scaling", "volume", "isolation", "tags", "channel-order"])
def test_meaning_still_tells_different_requests_apart(change: Any) -> None:
    source = json.loads((REAL / "01-examples-xgboost-direct-marketing.json").read_text())
    changed = copy.deepcopy(source)
    change(changed)
    assert meaning(changed) != meaning(source)


def _one_instance(d: dict[str, Any]) -> bool:
    resources = d.get("ResourceConfig") or d.get("HyperParameterTuningResourceConfig") or {}
    counts = [c.get("InstanceCount", 1) for c in resources.get("InstanceConfigs", [])] or [
        resources.get("InstanceCount", 1)]
    return all(c == 1 for c in counts)


def test_a_missing_distribution_is_forgiven_only_on_one_instance() -> None:
    source = json.loads((REAL / "04-examples-customer-churn.json").read_text())  # InstanceCount 2
    changed = copy.deepcopy(source)
    del changed["TrainingJobDefinition"]["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataDistributionType"]
    assert meaning(changed) != meaning(source)
    changed["TrainingJobDefinition"]["ResourceConfig"]["InstanceCount"] = 1
    source["TrainingJobDefinition"]["ResourceConfig"]["InstanceCount"] = 1
    assert meaning(changed) == meaning(source)
