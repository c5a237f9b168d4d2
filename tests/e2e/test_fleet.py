"""Many studies at once under the account's quotas (issue 10, items 2 and 3): more studies than the quota
run to completion, none failed, and simulated SageMaker never has to refuse a launch."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from amt_conductor.cli.simulate.fleet import fleet_specs, run_fleet
from amt_conductor.cli.simulate.sagemaker import AccountQuotas
from amt_conductor.cli.simulate.template import PROJECT_ROOT, synthesize

pytestmark = pytest.mark.e2e
QUOTA = 2
STUDIES = 5


@pytest.fixture(scope="module")
def quota_template() -> dict[str, Any]:
    # The stack admits at most QUOTA tuning jobs at once; `fleet-*` studies are in its scope.
    return synthesize(context={"amt:quotaTuningJobs": QUOTA, "amt:studyPrefixes": ["fleet"]})


def small_specs(tmp_path: Any, count: int) -> list[tuple[str, bytes]]:
    doc = yaml.safe_load((PROJECT_ROOT / "configs" / "churn-xgb.yaml").read_text())
    doc["resources"].update(max_jobs=4, max_parallel_jobs=2)
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump(doc))
    return fleet_specs(base, count)


def test_more_studies_than_the_quota_all_complete_without_a_refused_launch(quota_template: dict[str, Any],
                                                                           tmp_path: Any) -> None:
    result = run_fleet(small_specs(tmp_path, STUDIES), template=quota_template,
                       quotas=AccountQuotas(tuning_jobs=QUOTA), job_duration_s=3600)

    assert result.handler_errors == []
    assert result.failure_reasons == []
    assert (result.submitted, result.succeeded, result.failed) == (STUDIES, STUDIES, 0)
    assert result.refused_creates == 0  # admission kept within the account's limit
    assert result.max_concurrent_jobs == QUOTA  # and used all of it
    # Five one-hour jobs, two at a time: three waves. Waking on release keeps the gaps to seconds.
    assert 3 * 3600 <= result.makespan_s <= 3 * 3600 * 1.1
    assert result.invocations["admit"] == STUDIES + (STUDIES - QUOTA)  # Admit, and WaitInQueue for the queued


def test_without_admission_the_account_refuses_what_does_not_fit(tmp_path: Any) -> None:
    """The simulator's SageMaker enforces the account's limit as AWS does (ResourceLimitExceeded), so the
    test above is not vacuous: a stack whose own quota is larger than the account's gets refusals."""
    template = synthesize(context={"amt:quotaTuningJobs": 100, "amt:studyPrefixes": ["fleet"]})
    result = run_fleet(small_specs(tmp_path, 3), template=template, quotas=AccountQuotas(tuning_jobs=1),
                       job_duration_s=600)
    assert result.refused_creates > 0
    assert result.max_concurrent_jobs == 1
