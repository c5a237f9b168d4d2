"""IAM for S3 https:// URLs (issue 8, bug 2): the execution role reads and writes the bucket and prefix the URL
names, path-style or virtual-hosted, exactly as for the s3:// URI of the same objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_cdk import App, Environment, Stack

from amt_conductor.cdk.roles import read_data_statements, write_output_statements
from amt_conductor.cdk.study_scope import study_access
from amt_conductor.spec.loader import parse_spec


def _statements(data_uri: str, output_uri: str) -> list[dict[str, Any]]:
    doc = yaml.safe_load((Path(__file__).resolve().parents[2] / "configs" / "churn-xgb.yaml").read_text())
    doc["data"] = {"train": {"uri": data_uri}}
    doc["output_uri"] = output_uri
    access = study_access(parse_spec(yaml.safe_dump(doc), "churn-xgb.yaml"))
    stack = Stack(App(builtin_cloud_formation_validation=False), "Throwaway",
                  env=Environment(account="123456789012", region="us-east-1"))
    built = read_data_statements(stack, access.data) + write_output_statements(stack, access, "arn:aws:s3:::art")
    return [stack.resolve(s.to_statement_json()) for s in built]


def _flat(value: Any) -> str:
    """A resolved ARN (Fn::Join over the partition) as text, the partition written `aws`."""
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(p if isinstance(p, str) else "aws" for p in parts)
    return str(value)


@pytest.mark.parametrize(("data", "output"), [
    ("https://s3-us-west-2.amazonaws.com/sample-files/datasets/tabular/",
     "https://out-bucket.s3.us-west-2.amazonaws.com/tuning/run/"),
    ("s3://sample-files/datasets/tabular/", "s3://out-bucket/tuning/run/"),
])
def test_https_urls_scope_iam_like_the_s3_uris_of_the_same_objects(data: str, output: str) -> None:
    by_sid = {s["Sid"]: s for s in _statements(data, output)}

    assert _flat(by_sid["ReadData0"]["Resource"]) == "arn:aws:s3:::sample-files/datasets/tabular/*"
    assert _flat(by_sid["ListData0"]["Resource"]) == "arn:aws:s3:::sample-files"
    assert by_sid["ListData0"]["Condition"] == {"StringLike": {"s3:prefix": ["datasets/tabular/*"]}}
    assert _flat(by_sid["WriteOwnOutput"]["Resource"]) == "arn:aws:s3:::out-bucket/tuning/run/*"
