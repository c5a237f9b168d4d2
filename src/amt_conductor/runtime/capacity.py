"""Account capacity in the registry: counters of what is in use, holds per tuning job, and the queue.

Items (same table as `amt_conductor.runtime.registry`):

| pk | sk | what |
|---|---|---|
| `QUOTA` | `tuning-jobs` / `instances#<type>` | `used`: concurrent tuning jobs / training instances our runs hold |
| `HOLDS` | `<job name>` | what a round holds: `instance_type`, `instances`, `run_id`, `acquired_at` |
| `QUEUE` | `<order>#<job name>` | a round waiting for capacity: `needs`, `token` (once parked), QUEUED -> ADMITTED |

Taking and giving back capacity are single DynamoDB transactions over the hold and the counters, each
conditional on the hold (absent to take, present to give back), so a retried or duplicated call changes
the counters once. Reads grow with what is queued or held, never with history.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from amt_conductor.contract import RegistrySchema as K

if TYPE_CHECKING:
    from amt_conductor.runtime.registry import Registry

QUOTA_PK, HOLDS_PK, QUEUE_PK = "QUOTA", "HOLDS", "QUEUE"
TUNING_JOBS = "tuning-jobs"
# One priority point moves a round ahead of rounds submitted up to this much later: priorities reorder
# the queue, but a round waiting longer than (max priority x this) goes before any newcomer (no starvation).
PRIORITY_STEP_S = 3600
ORDER_DIGITS = 12


class QueueStatus:
    QUEUED = "QUEUED"
    ADMITTED = "ADMITTED"


def instances_key(instance_type: str) -> str:
    return f"instances#{instance_type}"


def order_key(submitted_epoch: float, priority: int, job_name: str) -> str:
    """The queue's sort key: submission time, earlier by `priority` steps; the job name breaks ties."""
    return f"{max(0, int(submitted_epoch) - priority * PRIORITY_STEP_S):0{ORDER_DIGITS}d}#{job_name}"


@dataclass(frozen=True)
class Needs:
    """What one round takes while its tuning job runs."""

    instance_type: str
    instances: int  # max_parallel_jobs x instance_count

    def as_item(self) -> dict[str, Any]:
        return {"instance_type": self.instance_type, "instances": self.instances}

    @classmethod
    def of(cls, item: dict[str, Any]) -> Needs:
        return cls(str(item["instance_type"]), int(item["instances"]))


class Capacity:
    """Data access for counters, holds and the queue (a view over the registry's table)."""

    def __init__(self, registry: Registry) -> None:
        self.reg = registry
        self.reads = 0  # queries and gets issued (the reconciler reports its per-tick cost)

    def _key(self, pk: str, sk: str) -> dict[str, Any]:
        return self.reg._enc({K.PK: pk, K.SK: sk})

    def _transact(self, items: list[dict[str, Any]]) -> bool:
        """One all-or-nothing write; False when a condition failed (someone else got there first)."""
        try:
            self.reg._ddb.transact_write_items(TransactItems=items)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                return False
            raise
        return True

    def _counter(self, sk: str, delta: int, limit: int | None) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self.reg._table, "Key": self._key(QUOTA_PK, sk),
            "UpdateExpression": "ADD #used :d SET #at = :now",
            "ExpressionAttributeNames": {"#used": "used", "#at": "updated_at"},
            "ExpressionAttributeValues": self.reg._enc({":d": delta, ":now": self.reg.now()}),
        }
        if limit is not None:  # taking: only while what is used leaves room for `delta` more
            update["ConditionExpression"] = "attribute_not_exists(#used) OR #used <= :max"
            update["ExpressionAttributeValues"] = self.reg._enc({":d": delta, ":now": self.reg.now(),
                                                                 ":max": limit - delta})
        return {"Update": update}

    # -- counters and holds ------------------------------------------------------------------------

    def used(self) -> dict[str, int]:
        """Every counter: {"tuning-jobs": n, "instances#ml.m5.xlarge": n, ...}."""
        self.reads += 1
        return {str(i[K.SK]): int(i.get("used") or 0) for i in self.reg._query(
            KeyConditionExpression="#pk = :pk", ExpressionAttributeNames={"#pk": K.PK},
            ExpressionAttributeValues=self.reg._enc({":pk": QUOTA_PK}), ConsistentRead=True)}

    def acquire(self, entry: dict[str, Any], *, tuning_limit: int, instance_limit: int) -> bool:
        """Take the capacity a queued round needs and mark its entry ADMITTED, in one transaction;
        False if it does not fit, or the entry is no longer QUEUED, or the job already holds capacity."""
        needs = Needs.of(entry["needs"])
        job = str(entry["job_name"])
        hold = {K.PK: HOLDS_PK, K.SK: job, "job_name": job, "run_id": entry.get("run_id"),
                "study": entry.get("study"), **needs.as_item(), "acquired_at": self.reg.now()}
        return self._transact([
            {"Put": {"TableName": self.reg._table, "Item": self.reg._enc(hold),
                     "ConditionExpression": "attribute_not_exists(#pk)", "ExpressionAttributeNames": {"#pk": K.PK}}},
            self._counter(TUNING_JOBS, 1, tuning_limit),
            self._counter(instances_key(needs.instance_type), needs.instances, instance_limit),
            {"Update": {"TableName": self.reg._table, "Key": self._key(QUEUE_PK, str(entry[K.SK])),
                        "UpdateExpression": "SET #status = :admitted, #at = :now",
                        "ConditionExpression": "#status = :queued",
                        "ExpressionAttributeNames": {"#status": "status", "#at": "admitted_at"},
                        "ExpressionAttributeValues": self.reg._enc({":admitted": QueueStatus.ADMITTED,
                                                                    ":queued": QueueStatus.QUEUED,
                                                                    ":now": self.reg.now()})}},
        ])

    def hold(self, job_name: str) -> dict[str, Any] | None:
        self.reads += 1
        return self.reg.get({K.PK: HOLDS_PK, K.SK: job_name})

    def holds(self) -> list[dict[str, Any]]:
        """Every hold: one per tuning job our runs have admitted and not yet given back."""
        self.reads += 1
        return list(self.reg._query(
            KeyConditionExpression="#pk = :pk", ExpressionAttributeNames={"#pk": K.PK},
            ExpressionAttributeValues=self.reg._enc({":pk": HOLDS_PK}), ConsistentRead=True))

    def release(self, job_name: str) -> bool:
        """Give back what `job_name` holds; True only for the call that did (idempotent)."""
        hold = self.hold(job_name)
        if hold is None:
            return False
        needs = Needs.of(hold)
        return self._transact([
            {"Delete": {"TableName": self.reg._table, "Key": self._key(HOLDS_PK, job_name),
                        "ConditionExpression": "attribute_exists(#pk)", "ExpressionAttributeNames": {"#pk": K.PK}}},
            self._counter(TUNING_JOBS, -1, None),
            self._counter(instances_key(needs.instance_type), -needs.instances, None),
        ])

    # -- the queue ---------------------------------------------------------------------------------

    def enqueue(self, sk: str, item: dict[str, Any]) -> dict[str, Any]:
        """Put the round in the queue once (a retried Admit finds its entry); returns the entry."""
        done = self.reg._update({K.PK: QUEUE_PK, K.SK: sk}, {**item, "status": QueueStatus.QUEUED,
                                                             "enqueued_at": self.reg.now()},
                                if_not_exists=("status", "enqueued_at"), return_new=True)
        return done or {}

    def park(self, sk: str, token: str) -> dict[str, Any] | None:
        """Store the waiting task token on a QUEUED entry; None if the entry is not QUEUED any more."""
        return self.reg._update({K.PK: QUEUE_PK, K.SK: sk}, {"token": token, "parked_at": self.reg.now()},
                                condition="#status = :queued", values={":queued": QueueStatus.QUEUED},
                                return_new=True)

    def entry(self, sk: str) -> dict[str, Any] | None:
        self.reads += 1
        return self.reg.get({K.PK: QUEUE_PK, K.SK: sk})

    def drop(self, sk: str) -> None:
        self.reg._ddb.delete_item(TableName=self.reg._table, Key=self._key(QUEUE_PK, sk))

    def count_before(self, sk: str | None = None) -> int:
        """Queue entries ahead of `sk` (all of them without): COUNT queries, one per 1 MB of entries."""
        cond, values = "#pk = :pk", {":pk": QUEUE_PK}
        if sk is not None:
            cond, values = "#pk = :pk AND #sk < :sk", {":pk": QUEUE_PK, ":sk": sk}
        kwargs: dict[str, Any] = {"TableName": self.reg._table, "KeyConditionExpression": cond, "Select": "COUNT",
                                  "ExpressionAttributeNames": {"#pk": K.PK, **({"#sk": K.SK} if sk else {})},
                                  "ExpressionAttributeValues": self.reg._enc(values), "ConsistentRead": True}
        total = 0
        while True:
            self.reads += 1
            resp = self.reg._ddb.query(**kwargs)
            total += int(resp.get("Count", 0))
            if "LastEvaluatedKey" not in resp:
                return total
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def queue(self, page_size: int = 25) -> Iterator[dict[str, Any]]:
        """Queued rounds in admission order, read a page at a time (callers stop early)."""
        kwargs: dict[str, Any] = {
            "TableName": self.reg._table, "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": K.PK}, "ConsistentRead": True, "Limit": page_size,
            "ExpressionAttributeValues": self.reg._enc({":pk": QUEUE_PK}),
        }
        while True:
            self.reads += 1
            resp = self.reg._ddb.query(**kwargs)
            for item in resp.get("Items", []):
                decoded = self.reg._dec(item)
                if decoded:
                    yield decoded
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
