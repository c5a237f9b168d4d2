"""Multi-algorithm tuning (`algorithms:`): up to 10 named definitions render as TrainingJobDefinitions the way
the SageMaker Python SDK renders them; validation names problems where they were written; the budget and
the wait cover the costliest definition."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from spec_factory import custom_spec, errors_of, only_error, parse, setin
from test_render import assert_valid_request, input_shape, render

from amt_conductor.spec.budget import job_wall_seconds, worst_case_instance_hours
from amt_conductor.spec.plan import make_plan

XGB = {"name": "xgb", "algorithm": {"builtin": "xgboost", "version": "1.7-1"},
       "hyperparameters": {"num_round": 100},
       "ranges": {"eta": {"type": "continuous", "min": 0.01, "max": 0.3, "scaling": "log"}},
       "objective": {"metric": "validation:auc", "goal": "maximize"}}
LINEAR = {"name": "linear", "algorithm": {"builtin": "linear-learner", "version": "1"},
          "hyperparameters": {"predictor_type": "binary_classifier"},
          "ranges": {"learning_rate": {"type": "continuous", "min": 0.0001, "max": 1.0, "scaling": "log"}},
          "objective": {"metric": "validation:roc_auc_score", "goal": "maximize"},
          "resources": {"instance_type": "ml.c5.2xlarge", "instance_count": 2, "max_runtime_per_job": "2h"}}


def multi_spec(*definitions: dict[str, Any], **top: Any) -> dict[str, Any]:
    doc = custom_spec(**top)
    for field in ("algorithm", "hyperparameters", "ranges"):
        del doc[field]
    doc["objective"] = {"metric": "validation:auc", "goal": "maximize"}
    doc["algorithms"] = copy.deepcopy(list(definitions or (XGB, LINEAR)))
    return doc


def request_of(doc: dict[str, Any]) -> dict[str, Any]:
    request = render(parse(doc))
    assert_valid_request(request)
    return request


def test_definitions_render_as_training_job_definitions() -> None:
    request = request_of(multi_spec())
    assert "TrainingJobDefinition" not in request
    config = request["HyperParameterTuningJobConfig"]
    assert "ParameterRanges" not in config and "HyperParameterTuningJobObjective" not in config
    xgb, linear = request["TrainingJobDefinitions"]
    assert (xgb["DefinitionName"], linear["DefinitionName"]) == ("xgb", "linear")
    assert xgb["TuningObjective"] == {"Type": "Maximize", "MetricName": "validation:auc"}
    assert linear["TuningObjective"] == {"Type": "Maximize", "MetricName": "validation:roc_auc_score"}
    assert [r["Name"] for r in xgb["HyperParameterRanges"]["ContinuousParameterRanges"]] == ["eta"]
    assert xgb["StaticHyperParameters"] == {"num_round": "100"}
    assert "sagemaker-xgboost" in xgb["AlgorithmSpecification"]["TrainingImage"]
    assert "linear-learner" in linear["AlgorithmSpecification"]["TrainingImage"]


def test_definition_overrides_and_study_defaults() -> None:
    xgb, linear = request_of(multi_spec())["TrainingJobDefinitions"]
    assert xgb["ResourceConfig"] == {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}
    assert linear["ResourceConfig"] == {"InstanceType": "ml.c5.2xlarge", "InstanceCount": 2, "VolumeSizeInGB": 30}
    assert (xgb["StoppingCondition"]["MaxRuntimeInSeconds"], linear["StoppingCondition"]["MaxRuntimeInSeconds"]) \
        == (3600, 7200)
    assert xgb["InputDataConfig"] == linear["InputDataConfig"]


def test_a_definition_may_bring_its_own_data_and_instance_choices() -> None:
    own = {**XGB, "data": {"train": {"uri": "s3://example-bucket/xgb/train/"}},
           "resources": {"instance_configs": [{"instance_type": "ml.m5.2xlarge"}, {"instance_type": "ml.m5.xlarge"}]}}
    xgb, linear = request_of(multi_spec(own, LINEAR))["TrainingJobDefinitions"]
    assert xgb["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://example-bucket/xgb/train/"
    assert "ResourceConfig" not in xgb and len(xgb["HyperParameterTuningResourceConfig"]["InstanceConfigs"]) == 2
    assert linear["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://example-bucket/train/"


def test_up_to_botocore_s_number_of_definitions() -> None:
    limit = input_shape().members["TrainingJobDefinitions"].metadata["max"]
    many = [{**XGB, "name": f"xgb-{i}"} for i in range(limit)]
    assert not errors_of(multi_spec(*many))
    assert only_error(multi_spec(*many, {**XGB, "name": "one-more"})).path == "algorithms"


@pytest.mark.parametrize(("change", "path"), [
    (lambda d: setin(d, "algorithms.1.ranges.learning_rate.min", 0), "algorithms.1.ranges.learning_rate.min"),
    (lambda d: setin(d, "algorithms.0.algorithm.version", "9.9"), "algorithms.0.algorithm.version"),
    (lambda d: setin(d, "algorithms.1.name", "xgb"), "algorithms.1.name"),
    (lambda d: setin(d, "algorithms.0.name", "bad_name"), "algorithms.0.name"),
    (lambda d: setin(d, "algorithms.1.objective.goal", "minimize"), "algorithms.1.objective.goal"),
    (lambda d: setin(d, "algorithms.1.hyperparameters.sagemaker_program", "x.py"),
     "algorithms.1.hyperparameters.sagemaker_program"),
    (lambda d: setin(d, "algorithm", {"builtin": "xgboost", "version": "1.7-1"}), "algorithm"),
    (lambda d: setin(d, "strategy", "grid"), "strategy"),
])
def test_problems_are_named_where_they_were_written(change: Any, path: str) -> None:
    assert only_error(change(multi_spec())).path == path


def test_a_shared_problem_is_reported_once_at_the_study_field() -> None:
    doc = multi_spec(XGB, {**LINEAR, "resources": None})
    doc["algorithms"][1].pop("resources")
    doc["spot"] = {"enabled": True, "max_wait": "30m"}  # shorter than the shared 1 h runtime
    assert [e.path for e in errors_of(doc)] == ["spot.max_wait"]


def test_budget_is_max_jobs_of_the_costliest_definition() -> None:
    # 10 jobs in all; linear's job is 2 instances x 2 h = 4 instance-hours, xgb's 1 x 1 h.
    spec = parse(multi_spec())
    assert worst_case_instance_hours(spec) == 40
    assert job_wall_seconds(spec) == 7200
    over = multi_spec(budget={"max_instance_hours": 39})
    error = only_error(over)
    assert (error.path, error.message) == ("budget.max_instance_hours", "one round may bill 40 instance-hours in "
                                           "the worst case (max_jobs 10 x instance_count 2 x max_runtime_per_job 2h "
                                           "of the costliest definition), more than the budget of 39")


def test_plan_describes_every_definition() -> None:
    plan = make_plan(parse(multi_spec()))
    assert "xgb:" in plan.search_space and "linear:" in plan.search_space
    assert plan.dimensions == 2


def test_environment_counts_once_per_definition() -> None:
    env = {f"V{i}": "1" for i in range(25)}
    assert only_error(multi_spec(environment=env)).path == "environment"
    assert not errors_of(multi_spec(environment={f"V{i}": "1" for i in range(24)}))


def test_execution_role_scope_covers_every_definition() -> None:
    from amt_conductor.cdk.study_scope import study_access

    own = {**XGB, "data": {"train": {"uri": "s3://other-bucket/xgb/"}}}
    access = study_access(parse(multi_spec(own, LINEAR)))
    assert {loc.bucket for loc in access.data} == {"other-bucket", "example-bucket"}
    assert {repo for _, repo in access.builtins} == {"sagemaker-xgboost", "linear-learner"}


# --- reports: the leaderboard grouped by definition --------------------------------------------

def _describe_response() -> dict[str, Any]:
    """A DescribeHyperParameterTuningJob response of a multi-algorithm job, from our own request."""
    request = request_of(multi_spec())
    return {**{k: request[k] for k in ("HyperParameterTuningJobName", "HyperParameterTuningJobConfig",
                                       "TrainingJobDefinitions")},
            "HyperParameterTuningJobArn": "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/x",
            "HyperParameterTuningJobStatus": "Completed",
            "TrainingJobStatusCounters": {"Completed": 3}, "ObjectiveStatusCounters": {"Succeeded": 3}}


def _summary(name: str, definition: str, value: float, **tuned: str) -> dict[str, Any]:
    return {"TrainingJobName": name, "TrainingJobDefinitionName": definition, "TrainingJobStatus": "Completed",
            "TunedHyperParameters": tuned, "CreationTime": None,
            "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "m", "Value": value}}


def test_report_groups_the_leaderboard_by_definition() -> None:
    from unittest.mock import MagicMock

    from amt_conductor.runtime.reports import build_report, render_markdown
    from amt_conductor.runtime.sagemaker_ops import describe, list_training_jobs

    sm = MagicMock()
    sm.describe_hyper_parameter_tuning_job.return_value = _describe_response()
    sm.list_training_jobs_for_hyper_parameter_tuning_job.return_value = {"TrainingJobSummaries": [
        _summary("j-001", "xgb", 0.91, eta="0.1"), _summary("j-002", "linear", 0.95, learning_rate="0.01"),
        _summary("j-003", "xgb", 0.93, eta="0.2")]}
    desc, jobs = describe(sm, "x"), list_training_jobs(sm, "x")
    assert desc["objective"]["type"] == "Maximize" and set(desc["definitions"]) == {"xgb", "linear"}
    assert desc["instance_count"] == 2
    report = build_report(study="study", round_no=1, run_id="r", goal="maximize", desc=desc, jobs=jobs,
                          parent_jobs=[])
    assert report["best"]["definition"] == "linear"
    assert report["best"]["hyperparameters"] == {"learning_rate": "0.01", "predictor_type": "binary_classifier"}
    assert [(r["name"], r["definition"]) for r in report["leaderboard"]] == [
        ("j-002", "linear"), ("j-003", "xgb"), ("j-001", "xgb")]
    markdown = render_markdown(report)
    linear, xgb = markdown.index("### linear (1 training jobs)"), markdown.index("### xgb (2 training jobs)")
    assert linear < xgb and "`j-003`" in markdown[xgb:] and "`j-003`" not in markdown[linear:xgb]


def test_schema_accepts_a_spec_without_top_level_algorithm() -> None:
    from amt_conductor.spec.model import json_schema

    schema = json_schema()
    assert "algorithms" in schema["properties"] and not {"algorithm", "ranges"} & set(schema["required"])
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(schema)
    doc = multi_spec()
    assert [e.message for e in validator.iter_errors(doc)] == []
    assert not validator.is_valid({k: v for k, v in doc.items() if k != "algorithms"})
    assert {"name", "algorithm", "ranges", "objective", "data", "resources"} <= set(
        schema["$defs"]["Definition"]["properties"])
