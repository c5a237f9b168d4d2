"""The simulated SageMaker tuning service: moto keeps the job records, this decides what they say.

`moto_patches` calls in here when moto creates, describes, lists or stops a tuning job. Each job
follows its `TuningPlan` on the simulated clock: InProgress from creation, training jobs appear
and finish wave by wave, and at the plan's end it turns Completed (or Failed) and its
"SageMaker HyperParameter Tuning Job State Change" event is emitted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from amt_conductor.cli.simulate.clock import SimClock
from amt_conductor.cli.simulate.tuning import TrainingJob, TuningPlan, plan_tuning_job

TERMINAL = ("Completed", "Failed", "Stopped")
SIM_FAILURE = ("AlgorithmError: simulated failure injected by `amt simulate --fail-round {round}` "
               "(training exited with code 1)")


@dataclass
class SimJob:
    plan: TuningPlan
    round: int
    arn: str
    request: dict[str, Any]
    moto_job: Any
    events_sent: list[str] = field(default_factory=list)
    end_due: Any = None


@dataclass(frozen=True)
class AccountQuotas:
    """The simulated account's SageMaker limits (None: unlimited), enforced as AWS does at create time."""

    tuning_jobs: int | None = None
    instances: dict[str, int] = field(default_factory=dict)
    default_instances: int | None = None

    def instance_limit(self, instance_type: str) -> int | None:
        return self.instances.get(instance_type, self.default_instances)


class QuotaExceeded(Exception):
    """CreateHyperParameterTuningJob over the account's limits (surfaced as ResourceLimitExceeded)."""


class SimSageMaker:
    """Tuning jobs of one simulation, in creation order."""

    def __init__(self, clock: SimClock, *, account: str, region: str, job_duration_s: float,
                 fail_round: int | None, emit: Callable[[dict[str, Any]], None],
                 duplicate_events: bool = False, lose_events: bool = False) -> None:
        self.clock = clock
        self.lose_events = lose_events
        self.account, self.region = account, region
        self.job_duration_s = job_duration_s
        self.fail_round = fail_round
        self.emit = emit
        self.duplicate_events = duplicate_events
        self.jobs: dict[str, SimJob] = {}
        self.on_launch: Callable[[SimJob], None] | None = None
        self.on_finish: Callable[[SimJob], None] | None = None
        self.quotas = AccountQuotas()
        self.refused = 0  # creates refused with ResourceLimitExceeded

    def check_quota(self, config: dict[str, Any], definition: dict[str, Any]) -> None:
        """Refuse a tuning job the account has no room for, with SageMaker's own wording."""
        running = [j for j in self.jobs.values() if self.status(j) not in TERMINAL]
        q = self.quotas
        if q.tuning_jobs is not None and len(running) + 1 > q.tuning_jobs:
            self.refused += 1
            raise QuotaExceeded(f"The account-level service limit 'Number of concurrent hyperparameter tuning jobs' "
                                f"is {q.tuning_jobs} jobs, with current utilization of {len(running)} jobs and a "
                                "request delta of 1 jobs.")
        resources = definition.get("ResourceConfig") or {}
        itype = str(resources.get("InstanceType", ""))
        limit = q.instance_limit(itype)
        if limit is None:
            return
        need = int((config.get("ResourceLimits") or {}).get("MaxParallelTrainingJobs") or 1) * int(
            resources.get("InstanceCount") or 1)
        in_use = sum(_instances(j.request) for j in running
                     if ((j.request.get("TrainingJobDefinition") or {}).get("ResourceConfig") or {}).get(
                         "InstanceType") == itype)
        if in_use + need > limit:
            self.refused += 1
            raise QuotaExceeded(f"The account-level service limit '{itype} for training job usage' is {limit} "
                                f"Instances, with current utilization of {in_use} Instances and a request delta "
                                f"of {need} Instances.")

    # --- moto hooks ---------------------------------------------------------------------------

    def created(self, moto_job: Any) -> None:
        """A tuning job was just created in moto: plan it and start it."""
        request = {
            "HyperParameterTuningJobName": moto_job.hyper_parameter_tuning_job_name,
            "HyperParameterTuningJobConfig": moto_job.hyper_parameter_tuning_job_config,
            "TrainingJobDefinition": moto_job.training_job_definition,
            "TrainingJobDefinitions": moto_job.training_job_definitions,
            "WarmStartConfig": moto_job.warm_start_config,
        }
        rnd = len(self.jobs) + 1
        parents = [p["HyperParameterTuningJobName"] for p in
                   (moto_job.warm_start_config or {}).get("ParentHyperParameterTuningJobs") or []]
        parent_best = []
        for parent in parents:
            found = self.jobs.get(parent)
            best = found.plan.best(found.plan.training_jobs) if found else None
            if best is not None:
                parent_best.append((best.hyperparameters, best.objective))
        fail = SIM_FAILURE.format(round=rnd) if self.fail_round == rnd else None
        plan = plan_tuning_job(request, created_s=self.clock.now, duration_s=self.job_duration_s,
                               parent_best=parent_best, fail_reason=fail)
        job = SimJob(plan, rnd, moto_job.arn, request, moto_job)
        self.jobs[plan.name] = job
        self.refresh(moto_job)
        if self.on_launch:
            self.on_launch(job)
        # SageMaker announces the new job too; EventBridge rules decide whether anyone hears it.
        self.clock.schedule(1, lambda: self._send_event(job), f"{plan.name} InProgress event")
        job.end_due = self.clock.schedule(plan.end_s - self.clock.now, lambda: self._finish(job),
                                          f"{plan.name} ends")

    def refresh(self, moto_job: Any) -> None:
        """Bring moto's record of the job up to the simulated present."""
        job = self.jobs.get(moto_job.hyper_parameter_tuning_job_name)
        if job is None:
            return
        plan, now = job.plan, self.clock.now
        visible = self._visible(job)
        status = self.status(job)
        counters = {"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0}
        objectives = {"Succeeded": 0, "Pending": 0, "Failed": 0}
        for _tj, tj_status in visible:
            key = {"Failed": "NonRetryableError"}.get(tj_status, tj_status)
            counters[key] += 1
            objectives[{"Completed": "Succeeded", "InProgress": "Pending"}.get(tj_status, "Failed")] += 1
        best = plan.best([tj for tj, st in visible if st == "Completed"])
        m = moto_job
        m.hyper_parameter_tuning_job_status = status
        m.creation_time = self.clock.datetime(plan.created_s)
        m.last_modified_time = self.clock.datetime(min(now, self._end(job)))
        m.hyper_parameter_tuning_end_time = self.clock.datetime(self._end(job)) if status in TERMINAL else None
        m.training_job_status_counters = counters
        m.objective_status_counters = objectives
        m.best_training_job = self.summary(job, best, "Completed") if best else None
        m.OverallBestTrainingJob = self._overall_best(job, best) if plan.warm_start_type == \
            "IdenticalDataAndAlgorithm" else None
        m.failure_reason = plan.failure_reason if status == "Failed" else None
        m.tuning_job_completion_details = {"NumberOfTrainingJobsObjectiveNotImproving": 0}
        m.consumed_resources = {"RuntimeInSeconds": int(min(now, self._end(job)) - plan.created_s)}

    def list_training_jobs(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        """ListTrainingJobsForHyperParameterTuningJob, with its filters, sort orders and pages."""
        job = self.jobs.get(name)
        if job is None:
            raise KeyError(name)
        rows = [(tj, st) for tj, st in self._visible(job)
                if not params.get("StatusEquals") or st == params["StatusEquals"]]
        sort_by = params.get("SortBy") or "Name"
        if sort_by == "FinalObjectiveMetricValue":
            rows = [r for r in rows if r[1] == "Completed"]  # jobs without a value are omitted
            rows.sort(key=lambda r: r[0].objective)
        elif sort_by == "CreationTime":
            rows.sort(key=lambda r: (r[0].start_s, r[0].index))
        elif sort_by == "Status":
            rows.sort(key=lambda r: (r[1], r[0].name))
        else:
            rows.sort(key=lambda r: r[0].name)
        if params.get("SortOrder") == "Descending":
            rows.reverse()
        start = int(params.get("NextToken") or 0)
        size = int(params.get("MaxResults") or 10)
        page = rows[start:start + size]
        out: dict[str, Any] = {"TrainingJobSummaries": [self.summary(job, tj, st) for tj, st in page]}
        if start + size < len(rows):
            out["NextToken"] = str(start + size)
        return out

    def describe_training_job(self, name: str) -> dict[str, Any] | None:
        for job in self.jobs.values():
            for tj, st in self._visible(job):
                if tj.name == name:
                    definition: dict[str, Any] = job.request.get("TrainingJobDefinition") or next(
                        (d for d in job.request.get("TrainingJobDefinitions") or []
                         if d.get("DefinitionName") == tj.definition), {})
                    static = dict(definition.get("StaticHyperParameters") or {})
                    return {
                        "TrainingJobName": tj.name,
                        "TrainingJobArn": self._training_arn(tj.name),
                        "TuningJobArn": job.arn,
                        "TrainingJobStatus": st,
                        "SecondaryStatus": st,
                        "HyperParameters": {**static, **tj.hyperparameters,
                                            "_tuning_objective_metric": job.plan.metric},
                        "AlgorithmSpecification": definition.get("AlgorithmSpecification", {}),
                        "RoleArn": definition.get("RoleArn", ""),
                        "OutputDataConfig": definition.get("OutputDataConfig", {}),
                        "ResourceConfig": definition.get("ResourceConfig", {}),
                        "StoppingCondition": definition.get("StoppingCondition", {}),
                        "CreationTime": self.clock.datetime(tj.start_s),
                        "TrainingStartTime": self.clock.datetime(tj.start_s),
                        **({"TrainingEndTime": self.clock.datetime(tj.end_s)} if st != "InProgress" else {}),
                        # Where SageMaker writes a job's model: <S3OutputPath>/<training job>/output/model.tar.gz
                        **({"ModelArtifacts": {"S3ModelArtifacts": _model_artifact(definition, tj.name)}}
                           if st == "Completed" else {}),
                        **({"FailureReason": tj.failure_reason} if tj.failure_reason else {}),
                        **({"FinalMetricDataList": [{"MetricName": job.plan.metric, "Value": tj.objective,
                                                     "Timestamp": self.clock.datetime(tj.end_s)}]}
                           if st == "Completed" else {}),
                    }
        return None

    def stop(self, name: str) -> None:
        """StopHyperParameterTuningJob: running training jobs stop now, the job ends Stopped."""
        job = self.jobs[name]
        if self.status(job) in TERMINAL:
            return
        job.plan.stopped_s = self.clock.now
        self.clock.cancel(job.end_due)
        self.refresh(job.moto_job)
        self.clock.schedule(0, lambda: self._finish(job), f"{name} stopped")

    # --- state at the simulated present -------------------------------------------------------

    def status(self, job: SimJob) -> str:
        plan = job.plan
        if plan.stopped_s is not None:
            return "Stopped"
        return plan.final_status if self.clock.now >= plan.end_s else "InProgress"

    def _end(self, job: SimJob) -> float:
        stopped = job.plan.stopped_s
        return stopped if stopped is not None else job.plan.end_s

    def _visible(self, job: SimJob) -> list[tuple[TrainingJob, str]]:
        now, stopped = self.clock.now, job.plan.stopped_s
        rows = []
        for tj in job.plan.training_jobs:
            if tj.start_s > now or (stopped is not None and tj.start_s > stopped):
                continue
            if stopped is not None and tj.end_s > stopped:
                rows.append((tj, "Stopped"))
            else:
                rows.append((tj, tj.status if tj.end_s <= now else "InProgress"))
        return rows

    def _overall_best(self, job: SimJob, best: TrainingJob | None) -> dict[str, Any] | None:
        candidates = [(job, best)] if best else []
        for parent in job.plan.parents:
            found = self.jobs.get(parent)
            if found is not None:
                pb = found.plan.best(found.plan.training_jobs)
                if pb is not None:
                    candidates.append((found, pb))
        if not candidates:
            return None
        goal = job.plan.goal
        owner, winner = sorted(candidates, key=lambda c: -c[1].objective if goal == "Maximize"
                               else c[1].objective)[0]
        return self.summary(owner, winner, "Completed")

    def summary(self, job: SimJob, tj: TrainingJob, status: str) -> dict[str, Any]:
        """A HyperParameterTrainingJobSummary."""
        out: dict[str, Any] = {
            "TrainingJobName": tj.name,
            "TrainingJobArn": self._training_arn(tj.name),
            "TuningJobName": job.plan.name,
            "CreationTime": self.clock.datetime(tj.start_s),
            "TrainingStartTime": self.clock.datetime(tj.start_s),
            "TrainingJobStatus": status,
            "TunedHyperParameters": dict(tj.hyperparameters),
            "ObjectiveStatus": {"Completed": "Succeeded", "InProgress": "Pending"}.get(status, "Failed"),
        }
        if tj.definition is not None:
            out["TrainingJobDefinitionName"] = tj.definition
        if status != "InProgress":
            end = tj.end_s if job.plan.stopped_s is None else min(tj.end_s, job.plan.stopped_s)
            out["TrainingEndTime"] = self.clock.datetime(end)
        if status == "Completed":
            out["FinalHyperParameterTuningJobObjectiveMetric"] = {
                "Type": job.plan.goal, "MetricName": job.plan.metric, "Value": tj.objective}
        if tj.failure_reason and status == "Failed":
            out["FailureReason"] = tj.failure_reason
        return out

    def _training_arn(self, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:training-job/{name}"

    # --- events -------------------------------------------------------------------------------

    def _finish(self, job: SimJob) -> None:
        self.refresh(job.moto_job)
        if self.on_finish:
            self.on_finish(job)
        if self.lose_events:
            return  # the event never arrives: only the reconciler can notice the job ended
        self._send_event(job)
        if self.duplicate_events:
            self._send_event(job)  # SageMaker may send several events for one change: expected

    def _send_event(self, job: SimJob) -> None:
        self.refresh(job.moto_job)
        self.emit(self.state_change_event(job))

    def state_change_event(self, job: SimJob) -> dict[str, Any]:
        """"SageMaker HyperParameter Tuning Job State Change", shaped as EventBridge delivers it."""
        m = job.moto_job
        job.events_sent.append(m.hyper_parameter_tuning_job_status)
        seq = f"{job.plan.name}/{len(job.events_sent)}"
        event_id = hashlib.sha256(seq.encode()).hexdigest()
        definition = job.request.get("TrainingJobDefinition") or {}
        return {
            "version": "0",
            "id": f"{event_id[:8]}-{event_id[8:12]}-{event_id[12:16]}-{event_id[16:20]}-{event_id[20:32]}",
            "detail-type": "SageMaker HyperParameter Tuning Job State Change",
            "source": "aws.sagemaker",
            "account": self.account,
            "time": self.clock.datetime().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [job.arn],
            "detail": {
                "HyperParameterTuningJobName": job.plan.name,
                "HyperParameterTuningJobArn": job.arn,
                "TrainingJobDefinition": {k: definition[k] for k in (
                    "StaticHyperParameters", "AlgorithmSpecification", "RoleArn", "InputDataConfig",
                    "VpcConfig", "OutputDataConfig", "ResourceConfig", "StoppingCondition") if k in definition},
                "HyperParameterTuningJobStatus": m.hyper_parameter_tuning_job_status,
                "CreationTime": _millis(m.creation_time),
                "LastModifiedTime": _millis(m.last_modified_time),
                "TrainingJobStatusCounters": dict(m.training_job_status_counters),
                "ObjectiveStatusCounters": dict(m.objective_status_counters),
                "Tags": {t["Key"]: t["Value"] for t in (m.tags or [])},
            },
        }


def _model_artifact(definition: dict[str, Any], training_job: str) -> str:
    output = str((definition.get("OutputDataConfig") or {}).get("S3OutputPath", "")).rstrip("/")
    return f"{output}/{training_job}/output/model.tar.gz"


def _instances(request: dict[str, Any]) -> int:
    definition = request.get("TrainingJobDefinition") or {}
    limits = (request.get("HyperParameterTuningJobConfig") or {}).get("ResourceLimits") or {}
    return int(limits.get("MaxParallelTrainingJobs") or 1) * int(
        (definition.get("ResourceConfig") or {}).get("InstanceCount") or 1)


def _millis(value: datetime) -> str:
    return str(int(value.timestamp() * 1000))
