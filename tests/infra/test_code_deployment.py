"""source_dir studies: cdk synth stages each study's deterministic archive for the artifacts bucket's code/
prefix, and deploys the resolved spec (archive digest written in) in place of the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from amt_conductor.spec.loader import load_spec, parse_spec
from amt_conductor.spec.naming import job_name
from amt_conductor.spec.sourcedir import build_archive, code_key, folder_of

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "configs" / "digits-pytorch.yaml"


def _staged(synth: Any, name: str) -> list[Path]:
    return sorted((synth.outdir / "cdk.out").glob(f"asset.*/**/{name}"))


def test_the_archive_is_staged_under_its_code_key(synth: Any) -> None:
    spec = load_spec(DIGITS)
    assert spec.algorithm.source_dir is not None and spec.algorithm.source_sha256 is not None
    (archive,) = _staged(synth, "sourcedir.tar.gz")
    assert archive.as_posix().endswith("/" + code_key(spec.name, spec.algorithm.source_sha256).removeprefix("code/"))
    assert archive.read_bytes() == build_archive(folder_of(DIGITS.parent, spec.algorithm.source_dir))
    synth.template.has_resource_properties("Custom::CDKBucketDeployment", {
        "DestinationBucketKeyPrefix": "code/", "Prune": False, "RetainOnDelete": True,
        "DestinationBucketName": {"Ref": next(k for k in synth.resources("AWS::S3::Bucket") if "Artifacts" in k)},
    })


def test_the_deployed_spec_names_the_same_jobs_without_its_folder(synth: Any) -> None:
    deployed = [p for p in _staged(synth, DIGITS.name)]
    assert len(deployed) == 1  # the resolved form only; the file itself is left out of the configs asset
    doc = json.loads(deployed[0].read_text())
    spec = parse_spec(deployed[0].read_bytes(), "configs/digits-pytorch.yaml")
    assert doc["algorithm"]["source_sha256"] == load_spec(DIGITS).algorithm.source_sha256
    assert job_name(spec, 1) == job_name(load_spec(DIGITS), 1)


def test_each_study_role_reads_only_its_own_code_archive(synth: Any) -> None:
    from infra.test_iam import STACK_KEY, _resources, _statements, _study_roles

    spec = load_spec(DIGITS)
    assert spec.algorithm.source_sha256 is not None
    roles = _study_roles(synth)
    reads = {name: [r for r in _resources(_statements(props), "s3:GetObject") if r.startswith("<ArtifactsBucketArn>")]
             for name, props in roles.items()}
    assert reads.pop(f"open/digits-pytorch.{STACK_KEY}.<AWS::Region>") == [
        f"<ArtifactsBucketArn>/{code_key(spec.name, spec.algorithm.source_sha256)}"]
    assert not any(reads.values()), reads  # no other study reads anything of the artifacts bucket
