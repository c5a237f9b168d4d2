"""Worst-case cost and time of a round, from the spec alone."""

from __future__ import annotations

import math

from amt_conductor.spec.model import Spec

# Slack on top of the worst case before the workflow stops waiting for a job's event:
# SageMaker needs time to provision, upload and wind down, and warm start loads parents.
WAIT_SLACK_SECONDS = 3600
# A retried job provisions its instances again; without `resources.max_pending` to bound that wait,
# each retry is allowed this much on top (the first provisioning is inside WAIT_SLACK_SECONDS).
RETRY_PROVISIONING_SECONDS = 15 * 60
AUTOTUNE_MAX_RETRIES = 30  # RetryStrategy.MaximumRetryAttempts' maximum


def worst_case_instance_hours(spec: Spec) -> float:
    """Billable worst case: max_jobs x instance_count x max_runtime_per_job, in instance-hours; with several
    `instance_configs`, the largest instance_count (any job may land on it).

    Spot changes nothing here: billable time is training time, bounded by MaxRuntimeInSeconds; the time
    waiting for Spot capacity (the rest of MaxWaitTimeInSeconds) is not billed. Retries add nothing either:
    "When RetryStrategy is specified in the job request, MaxRuntimeInSeconds specifies the maximum time
    for all of the attempts in total" (API reference, StoppingCondition). The wall-clock worst case,
    which does include Spot waiting, is `job_wall_seconds` / `worst_case_round_seconds`.

    Multi-algorithm: max_jobs bounds the jobs of all definitions together (MaxNumberOfTrainingJobs is the
    tuning job's), so the worst case is max_jobs jobs of the costliest definition.
    """
    return spec.max_jobs_effective() * job_instance_hours(spec)


def job_instance_hours(spec: Spec) -> float:
    """Billable instance-hours of one training job at worst (the costliest definition's)."""
    return max(v.max_instance_count() * v.resources.max_runtime_per_job for v in spec.definitions()) / 3600


def job_wall_seconds(spec: Spec) -> int:
    """Longest one training job can take, launch to end: its runtime bound (spot: max_wait, which includes
    waiting for capacity), the wait for accelerated capacity (`max_pending`), and each retry's new wait; the
    longest definition's."""
    # Autotune may choose a RetryStrategy when the spec sets none: up to its maximum, 30.
    retries = spec.retry.max_attempts if spec.retry else (AUTOTUNE_MAX_RETRIES if spec.autotune else 0)
    longest = 0
    for view in spec.definitions():
        run = view.spot_max_wait() or view.resources.max_runtime_per_job
        pending = view.resources.max_pending
        longest = max(longest, run + (pending or 0) + retries * (pending or RETRY_PROVISIONING_SECONDS))
    return longest


def worst_case_round_seconds(spec: Spec) -> int:
    """Longest a round can run: waves of parallel jobs, capped by max_tuning_runtime."""
    per_job = job_wall_seconds(spec)
    waves = math.ceil(spec.max_jobs_effective() / spec.resources.max_parallel_jobs)
    seconds = waves * per_job
    if spec.resources.max_tuning_runtime is not None:
        seconds = min(seconds, spec.resources.max_tuning_runtime)
    return seconds


def wait_timeout_seconds(spec: Spec) -> int:
    """How long the workflow waits for a round's terminal event before giving up."""
    return worst_case_round_seconds(spec) + WAIT_SLACK_SECONDS


def rounds_within_budget(spec: Spec) -> int | None:
    """How many rounds the budget allows by worst case (None: no budget)."""
    if spec.budget is None:
        return None
    per_round = worst_case_instance_hours(spec)
    return int(spec.budget.max_instance_hours // per_round) if per_round > 0 else None
