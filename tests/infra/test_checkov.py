"""checkov (3.3.30, in its own venv `.venv-scan`: it pins an old boto3) on every synthesized template:
no failed check, and every skipped one named next to its resource with a reason (issue 9, "Done when")."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.conftest import ROOT

pytestmark = pytest.mark.infra


def _checkov() -> Path:
    configured = os.environ.get("AMT_CHECKOV")
    path = Path(configured) if configured else ROOT / ".venv-scan" / "bin" / "checkov"
    if not path.exists():
        if configured:  # `make test` installed it: its absence is a failure, not a skip
            pytest.fail(f"{path}: checkov is not installed")
        pytest.skip("checkov is not installed (make test installs it into .venv-scan)")
    return path


def _scan(directory: Path) -> list[dict[str, Any]]:
    result = subprocess.run([str(_checkov()), "-d", str(directory), "--framework", "cloudformation",
                             "--compact", "--skip-download", "-o", "json"],
                            capture_output=True, text=True, timeout=300, check=False)
    reports = json.loads(result.stdout)
    return reports if isinstance(reports, list) else [reports]


def test_checkov_finds_nothing_unexplained(synth: Any) -> None:
    directory = synth.outdir / "cdk.out"
    assert list(directory.glob("*.nested.template.json")), "the studies' nested stacks must be scanned too"
    (report,) = _scan(directory)
    failed = [(f["check_id"], f["resource"], f["file_path"]) for f in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["parsing_errors"] == 0
    skipped = report["results"]["skipped_checks"]
    assert skipped, "expected the acknowledged skips (else the skip metadata is not read)"
    for check in skipped:
        assert len(check["check_result"]["suppress_comment"]) >= 30, check["check_id"]


def test_a_skip_is_written_next_to_its_resource(synth: Any) -> None:
    (bucket,) = [r for lid, r in synth.resources("AWS::S3::Bucket").items() if lid.startswith("StorageAccessLogs")]
    (skip,) = bucket["Metadata"]["checkov"]["skip"]
    assert skip["id"] == "CKV_AWS_18" and "access-log destination" in skip["comment"]
