"""Issue 10: 300 generated studies (KMS, VPC, schedules and custom images among them) synthesize nag-clean,
and every template, role, policy and event pattern stays within AWS's limits, measured with references
resolved to their deployed length (`make bench` does the same at 1, 100 and 1,000 studies)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.scale import LIMITS, chars, deployed, generate_specs, measure

pytestmark = pytest.mark.infra
STUDIES = 300


@pytest.fixture(scope="module")
def scale(tmp_path_factory: pytest.TempPathFactory, synth_factory: Any) -> tuple[Any, dict[str, Path]]:
    configs = tmp_path_factory.mktemp("configs")
    generate_specs(configs, STUDIES)
    synth = synth_factory({"amt:configsDir": str(configs)})
    return synth, {p.name: p for p in (synth.outdir / "cdk.out").glob("*.template.json")}


def test_three_hundred_studies_synthesize_nag_clean(scale: tuple[Any, dict[str, Path]]) -> None:
    synth, _ = scale
    assert synth.nag_error is None, synth.nag_error[:3000]
    roles = [r for t in synth.all_templates() for r in t["Resources"].values() if r["Type"] == "AWS::IAM::Role"
             and str(r["Properties"].get("Path", "")).startswith("/amt/")]
    # One execution role per study, plus a launcher for each guarded (KMS + VPC) one: every 5th.
    assert len(roles) == STUDIES + STUDIES // 5
    schedules = [r for t in synth.nested.values() for r in t["Resources"].values() if r["Type"] == "AWS::Events::Rule"
                 and "-schedule-" in str(r["Properties"].get("Name", ""))]  # not the new-data rules
    assert len(schedules) == STUDIES // 3


def test_every_limit_holds_at_three_hundred_studies(scale: tuple[Any, dict[str, Path]]) -> None:
    _, templates = scale
    assert len(templates) >= 2  # the parent and the studies' nested stacks
    m = measure(templates)
    over = {f: m["max"][f] for f, fraction in m["fractions"].items() if fraction > 0.8}
    assert not over, over
    # Every figure was measured (a figure nobody measured would pass silently).
    assert set(m["fractions"]) == set(LIMITS) - {"managed_policy_chars"}


def test_the_functions_policies_do_not_grow_with_the_studies(scale: tuple[Any, dict[str, Path]],
                                                             synth: Any) -> None:
    big, _ = scale

    def sizes(s: Any) -> dict[str, int]:
        out: dict[str, int] = {}
        for lid, res in s.resources("AWS::IAM::Policy").items():
            out[lid] = chars(res["Properties"]["PolicyDocument"])
        return out

    # The deployment role also writes the artifacts bucket's code/ when configs/ ships source_dir code (the
    # repository's configs do, the generated ones do not): a constant, never more with more studies.
    deployment = "StorageConfigsDeploymentRoleDefaultPolicy"
    ours, theirs = sizes(synth), sizes(big)
    assert {k: v for k, v in theirs.items() if not k.startswith(deployment)} == \
        {k: v for k, v in ours.items() if not k.startswith(deployment)}
    assert [v for k, v in theirs.items() if k.startswith(deployment)] <= \
        [v for k, v in ours.items() if k.startswith(deployment)]


def test_deployed_length_resolves_references_to_their_longest_value() -> None:
    doc = {"Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::", {"Ref": "Bucket"}, "/*"]]}}
    assert deployed(doc) == {"Resource": "arn:aws-us-gov:s3:::" + "r" * 128 + "/*"}
    assert chars({"a": [1, 2]}) == len(json.dumps({"a": [1, 2]}, separators=(",", ":")))
