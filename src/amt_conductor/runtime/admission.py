"""Quota-aware admission: a round takes account capacity before its tuning job is created, or waits.

The workflow's Admit state calls `admit`: the round joins the queue and, if it is first in line and fits,
takes its capacity at once. Otherwise the execution parks in WaitInQueue (`park`: the queue entry keeps
its task token) and costs nothing while it waits: no Wait state, no polling. Whoever gives capacity back
wakes the queue (`release` then `pump`): the resume path when a job ends, the stop path, and the
reconciler on every tick as the backstop. `pump` admits queued rounds in order (FIFO by the run's
submission, earlier by `priority` steps) and sends each parked token its SendTaskSuccess.

Strict order per resource: a round that does not fit blocks later rounds of its instance type, and every
round needs a tuning-job slot, so nothing overtakes the head for the resource it waits on (no starvation).
The functions inside the workflow (Admit, RecordFailure) never send task tokens (their roles could not
name the state machine without a dependency cycle): Admit takes capacity only for itself, and a round
admitted before it parked is told so by `AlreadyAdmitted`, which the workflow catches into Launch.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from amt_conductor.contract import RegistrySchema as K
from amt_conductor.runtime.capacity import TUNING_JOBS, Capacity, Needs, QueueStatus, instances_key, order_key
from amt_conductor.runtime.observability import count, gauge, logger
from amt_conductor.runtime.sagemaker_ops import error_code, transient_errors

if TYPE_CHECKING:
    from amt_conductor.runtime.workflow import Runtime
    from amt_conductor.spec.model import Spec

STALE_TOKEN_CODES = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
MAX_PRIORITY = 10


class CapacityNeverFits(Exception):  # the class name is the Step Functions error type
    """The round needs more than the account's limit: it would wait forever."""


class AlreadyAdmitted(Exception):  # the class name is the Step Functions error type (caught into Launch)
    """The round was admitted between Admit and WaitInQueue: go on to Launch."""


class QueueEntryMissing(Exception):  # the class name is the Step Functions error type
    """The round's queue entry is gone and it holds no capacity (its run was stopped)."""


def queue_fields(spec: Spec, submitted_at: str) -> dict[str, Any]:
    """What Admit needs from Prepare: the round's needs, its priority and its run's submission time."""
    r = spec.resources
    return {"instance_type": r.instance_type, "instances": r.max_parallel_jobs * r.instance_count,
            "priority": spec.priority, "submitted_at": submitted_at}


def _epoch(iso_time: str) -> float:
    return datetime.strptime(iso_time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def _entry_key(p: dict[str, Any]) -> str:
    q = p["queue"]
    return order_key(_epoch(q["submitted_at"]), int(q.get("priority") or 0), p["job_name"])


def admit(rt: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    """Admit state (`{"prepared"}`): queue the round; take its capacity now if it is first in line and
    fits. WaitInQueue (`{"token", "prepared"}`): park the token until a pump admits the round."""
    p = event["prepared"]
    cap = Capacity(rt.registry)
    sk, job = _entry_key(p), str(p["job_name"])
    if event.get("token"):
        return _park(rt, cap, sk, job, str(event["token"]))
    needs = Needs(str(p["queue"]["instance_type"]), int(p["queue"]["instances"]))
    quotas = rt.settings.quotas
    limit = quotas.instance_limit(needs.instance_type)
    if needs.instances > limit or quotas.tuning_jobs < 1:
        raise CapacityNeverFits(
            f"{p.get('spec_location', {}).get('key', p['study'])}: resources.max_parallel_jobs: the round needs "
            f"{needs.instances} {needs.instance_type} instances at once (max_parallel_jobs x instance_count) but the "
            f"account allows {limit}; lower resources.max_parallel_jobs or raise the quota (amt:quotaInstances, "
            f"then cdk deploy)")
    if cap.hold(job) is not None:  # a retried Admit of a round already admitted
        return {"admitted": True, "job_name": job}
    entry = cap.enqueue(sk, {"job_name": job, "study": p["study"], "round": int(p["round"]),
                             "run_id": p["run_id"], "needs": needs.as_item(),
                             "priority": int(p["queue"].get("priority") or 0),
                             "submitted_at": p["queue"]["submitted_at"]})
    rt.registry.set_run_job(str(p["run_id"]), job_name=job, round_no=int(p["round"]), queue_key=sk)
    if entry.get("status") == QueueStatus.ADMITTED:
        cap.drop(sk)
        return {"admitted": True, "job_name": job}
    head = next(cap.queue(page_size=1), None)
    if head is not None and head[K.SK] == sk and cap.acquire(head, tuning_limit=quotas.tuning_jobs,
                                                             instance_limit=limit):
        cap.drop(sk)
        logger.info("admitted at once", extra={"instances": needs.instances, "instance_type": needs.instance_type})
        return {"admitted": True, "job_name": job}
    position = queue_position(cap, sk)
    count("RoundsQueued", study=p["study"])
    logger.info("queued for capacity", extra={"position": position})
    return {"admitted": False, "job_name": job, "position": position}


def _park(rt: Runtime, cap: Capacity, sk: str, job: str, token: str) -> dict[str, Any]:
    if cap.park(sk, token) is not None:
        logger.info("waiting in the queue for capacity")
        return {"parked": True}
    if cap.hold(job) is not None:
        cap.drop(sk)
        raise AlreadyAdmitted(f"{job}: admitted before it parked")
    raise QueueEntryMissing(f"{job}: no queue entry and no capacity held (was the run stopped?)")


def queue_position(cap: Capacity, sk: str) -> int:
    """1-based place in the queue (entries admitted but not yet woken count as ahead: they leave at once)."""
    return cap.count_before(sk) + 1


def pump(rt: Runtime, cap: Capacity | None = None) -> int:
    """Admit queued rounds in order while capacity lasts and wake their executions; returns how many.
    Stops reading the queue once no tuning-job slot is left."""
    cap = cap or Capacity(rt.registry)
    quotas = rt.settings.quotas
    used = cap.used()
    admitted = 0
    blocked: set[str] = set()
    for e in cap.queue():
        if e.get("status") == QueueStatus.ADMITTED:
            if e.get("token"):
                _wake(rt, cap, e)  # admitted earlier, its wake-up not delivered yet
            continue
        if used.get(TUNING_JOBS, 0) >= quotas.tuning_jobs:
            break
        needs = Needs.of(e["needs"])
        ikey, limit = instances_key(needs.instance_type), quotas.instance_limit(needs.instance_type)
        if needs.instance_type in blocked:
            continue
        if used.get(ikey, 0) + needs.instances > limit:
            blocked.add(needs.instance_type)  # the head of this type waits; nothing behind it overtakes
            continue
        if cap.acquire(e, tuning_limit=quotas.tuning_jobs, instance_limit=limit):
            admitted += 1
            used[TUNING_JOBS] = used.get(TUNING_JOBS, 0) + 1
            used[ikey] = used.get(ikey, 0) + needs.instances
            if e.get("token"):
                _wake(rt, cap, e)
        else:
            used = cap.used()  # another pump moved first: go on from the counters as they are
    return admitted


def _wake(rt: Runtime, cap: Capacity, entry: dict[str, Any]) -> None:
    waited = max(0.0, rt.registry.clock().timestamp() - _epoch(str(entry.get("enqueued_at"))))
    try:
        with transient_errors("SendTaskSuccess"):
            rt.sfn.send_task_success(taskToken=entry["token"], output=json.dumps(
                {"admitted": True, "job_name": entry["job_name"], "waited_s": round(waited)}))
    except ClientError as err:
        if error_code(err) not in STALE_TOKEN_CODES:
            raise
        # Nobody waits any more (the execution was stopped or timed out): give the capacity back.
        logger.info("queued round's execution is gone; releasing", extra={"job_name": entry["job_name"]})
        cap.release(str(entry["job_name"]))
    cap.drop(str(entry[K.SK]))
    gauge("QueueWaitSeconds", waited)  # no study dimension: one pump wakes rounds of many studies
    logger.info("admitted from the queue", extra={"job_name": entry["job_name"], "waited_s": round(waited)})


def release(rt: Runtime, job_name: str, *, wake: bool) -> bool:
    """Give back what the job holds (idempotent); with `wake`, admit whoever now fits."""
    cap = Capacity(rt.registry)
    released = cap.release(job_name)
    if released:
        logger.info("released capacity", extra={"job_name": job_name})
    if wake:
        pump(rt, cap)
    return released


def leave_queue(rt: Runtime, queue_key: str | None) -> None:
    """Drop a stopped or failed run's queue entry (if it is still there)."""
    if queue_key:
        Capacity(rt.registry).drop(queue_key)


def depth(cap: Capacity) -> int:
    """Rounds in the queue (a gauge for the dashboard): a COUNT query, however long the queue."""
    return cap.count_before()
