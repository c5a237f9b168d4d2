"""The registry: studies, rounds, runs and task tokens in one DynamoDB table.

Item layout (docs/architecture.md): `STUDY#<name>`/`META`, `STUDY#<name>`/`ROUND#<nnnn>`,
`JOB#<job name>`/`TOKEN`, `RUN#<run id>`/`META`. Every write is idempotent: a retried
handler repeats the same conditional write and reads back the same outcome.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from amt_conductor.contract import RegistrySchema as K

ROUND_DIGITS = 4
MAX_LINEAGE_PARENTS = 5  # SageMaker's limit on warm-start parents


class RoundStatus:
    LAUNCHING = "LAUNCHING"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"


class TokenStatus:
    WAITING = "WAITING"
    RESUMED = "RESUMED"
    ABANDONED = "ABANDONED"


class RunStatus:
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"
    TIMED_OUT = "TIMED_OUT"


class RoundTaken(Exception):
    """The round number is already claimed by another run of the same study."""


def study_key(study: str) -> dict[str, str]:
    return {K.PK: f"STUDY#{study}", K.SK: "META"}


def round_key(study: str, round_no: int) -> dict[str, str]:
    return {K.PK: f"STUDY#{study}", K.SK: f"ROUND#{round_no:0{ROUND_DIGITS}d}"}


def token_key(job_name: str) -> dict[str, str]:
    return {K.PK: f"JOB#{job_name}", K.SK: "TOKEN"}


def run_key(run_id: str) -> dict[str, str]:
    return {K.PK: f"RUN#{run_id}", K.SK: "META"}


def iso(ts: datetime) -> str:
    """The registry's timestamp format: fixed width UTC, so strings sort as times (GSI sort key)."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def better(goal: str, a: float | None, b: float | None) -> bool:
    """True when objective `a` beats `b` for `goal` (maximize|minimize); anything beats None."""
    if a is None:
        return False
    if b is None:
        return True
    return a > b if goal == "maximize" else a < b


def rank_rounds(rounds: list[dict[str, Any]], goal: str, *, limit: int = MAX_LINEAGE_PARENTS,
                exclude: int | None = None) -> list[dict[str, Any]]:
    """Completed rounds with an objective, best first (ties: the later round), at most `limit`."""
    done = [r for r in rounds if r.get("status") == RoundStatus.COMPLETED
            and r.get("best_objective") is not None and r.get("round") != exclude]
    sign = -1.0 if goal == "maximize" else 1.0
    done.sort(key=lambda r: (sign * float(r["best_objective"]), -int(r["round"])))
    return done[:limit]


def _to_dynamo(value: Any) -> Any:
    # DynamoDB numbers must be Decimals and cannot be NaN/inf; None drops out of maps.
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    raise TypeError(f"cannot store {type(value).__name__} in the registry")


def _from_dynamo(value: Any) -> Any:
    # Back to plain JSON types: state passed between Step Functions states must be JSON.
    if isinstance(value, Decimal):
        # "1" comes back as int, "1.0" as float: a stored objective keeps its type.
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_from_dynamo(v) for v in value]
    return value


# Attribute names conditions may refer to (some are DynamoDB reserved words).
_CONDITION_NAMES = {"#status": "status", "#token": "token", "#run": "run_id", "#best": "best_objective",
                    "#latest": "latest_round", "#pk": K.PK, "#dlast": "data_last_at", "#drun": "data_run_for"}


def _conditional_failed(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class Registry:
    """Data access over the registry table; `client` is a boto3 DynamoDB client."""

    def __init__(self, client: Any, table: str, clock: Callable[[], datetime] | None = None) -> None:
        self._ddb = client
        self._table = table
        self._clock = clock or (lambda: datetime.now(UTC))
        self._ser = TypeSerializer()
        self._de = TypeDeserializer()

    # -- low level -------------------------------------------------------------------------------

    def clock(self) -> datetime:
        """The registry's time (injectable for tests)."""
        return self._clock()

    def now(self) -> str:
        return iso(self._clock())

    def _enc(self, item: dict[str, Any]) -> dict[str, Any]:
        return {k: self._ser.serialize(v) for k, v in _to_dynamo(item).items()}

    def _dec(self, item: dict[str, Any] | None) -> dict[str, Any] | None:
        if not item:
            return None
        return _from_dynamo({k: self._de.deserialize(v) for k, v in item.items()})

    def get(self, key: dict[str, str]) -> dict[str, Any] | None:
        # Consistent reads: a retried handler must see what its first attempt wrote.
        resp = self._ddb.get_item(TableName=self._table, Key=self._enc(key), ConsistentRead=True)
        return self._dec(resp.get("Item"))

    def _update(self, key: dict[str, str], sets: dict[str, Any], *, condition: str | None = None,
                values: dict[str, Any] | None = None, removes: tuple[str, ...] = (),
                if_not_exists: tuple[str, ...] = (), return_new: bool = False) -> dict[str, Any] | None:
        """SET `sets` (None values are skipped), REMOVE `removes`; False-y return when the condition fails."""
        names: dict[str, str] = {}
        vals: dict[str, Any] = {}
        parts = []
        for i, (attr, value) in enumerate(sets.items()):
            if value is None:
                continue
            names[f"#s{i}"] = attr
            vals[f":s{i}"] = value
            expr = f"if_not_exists(#s{i}, :s{i})" if attr in if_not_exists else f":s{i}"
            parts.append(f"#s{i} = {expr}")
        update = "SET " + ", ".join(parts)
        if removes:
            for j, attr in enumerate(removes):
                names[f"#r{j}"] = attr
            update += " REMOVE " + ", ".join(f"#r{j}" for j in range(len(removes)))
        kwargs: dict[str, Any] = {"TableName": self._table, "Key": self._enc(key), "UpdateExpression": update,
                                  "ReturnValues": "ALL_NEW" if return_new else "NONE"}
        if condition:
            kwargs["ConditionExpression"] = condition
            names.update({p: attr for p, attr in _CONDITION_NAMES.items() if p in condition})
            vals.update(values or {})
        kwargs["ExpressionAttributeNames"] = names
        if vals:
            kwargs["ExpressionAttributeValues"] = self._enc(vals)
        try:
            resp = self._ddb.update_item(**kwargs)
        except ClientError as err:
            if condition and _conditional_failed(err):
                return None
            raise
        return self._dec(resp.get("Attributes")) if return_new else {}

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        kwargs["TableName"] = self._table
        while True:
            resp = self._ddb.query(**kwargs)
            for item in resp.get("Items", []):
                decoded = self._dec(item)
                if decoded:
                    yield decoded
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    # -- studies ---------------------------------------------------------------------------------

    def study(self, study: str) -> dict[str, Any] | None:
        """The study's META item: spec_location, goal, schedule, latest_round, best_* (None if unknown)."""
        return self.get(study_key(study))

    def put_study_spec(self, study: str, *, spec_location: dict[str, Any] | None, goal: str,
                       schedule: str | None) -> None:
        """Record the study; `spec_location` (the deployed spec a scheduled run loaded) is kept as it was
        when None (an upload never re-points the study)."""
        self._update(study_key(study), {"study": study, "spec_location": spec_location, "goal": goal,
                                        "schedule": schedule or "", "updated_at": self.now(),
                                        "latest_round": 0}, if_not_exists=("latest_round",))

    def update_study_best(self, study: str, *, goal: str, objective: float, training_job: str,
                          hyperparameters: dict[str, str], round_no: int, report_uri: str) -> bool:
        """Record a new best objective if it beats the stored one (direction-aware); True if it did."""
        op = ">" if goal == "maximize" else "<"
        done = self._update(
            study_key(study),
            {"best_objective": objective, "best_training_job": training_job,
             "best_hyperparameters": hyperparameters, "best_round": round_no, "updated_at": self.now()},
            condition=f"attribute_not_exists(#best) OR :v {op} #best", values={":v": objective},
        )
        self._update(study_key(study), {"last_report_uri": report_uri})
        return done is not None

    # -- runs ------------------------------------------------------------------------------------

    def run(self, run_id: str) -> dict[str, Any] | None:
        return self.get(run_key(run_id))

    def claim_run(self, run_id: str, *, study: str, trigger: str, spec_location: dict[str, Any]) -> dict[str, Any]:
        """Create the run with base round = study's latest round + 1, or return the existing run
        unchanged (so a retried first Prepare sees the same base round)."""
        existing = self.run(run_id)
        if existing:
            return existing
        meta = self.study(study) or {}
        item = {**run_key(run_id), "run_id": run_id, "study": study, "trigger": trigger,
                "base_round": int(meta.get("latest_round", 0)) + 1, "status": RunStatus.RUNNING,
                "spec_location": spec_location, "created_at": self.now(), "updated_at": self.now()}
        try:
            self._ddb.put_item(TableName=self._table, Item=self._enc(item),
                               ConditionExpression="attribute_not_exists(#pk)",
                               ExpressionAttributeNames={"#pk": K.PK})
        except ClientError as err:
            if not _conditional_failed(err):
                raise
            return self.run(run_id) or item
        return _from_dynamo(_to_dynamo(item))

    def set_run_job(self, run_id: str, *, job_name: str, round_no: int, queue_key: str | None = None) -> None:
        """Remember the run's in-flight job (what the stop handler stops) and its queue entry, if queued."""
        self._update(run_key(run_id), {"current_job": job_name, "current_round": round_no,
                                       "queue_key": queue_key, "updated_at": self.now()})

    def finish_run(self, run_id: str, status: str, *, reason: str | None = None,
                   error: str | None = None) -> bool:
        """Move a RUNNING run to `status`; True only for the call that did it (gate for notifying once)."""
        done = self._update(run_key(run_id), {"status": status, "failure_reason": reason, "error": error,
                                              "updated_at": self.now()},
                            condition="attribute_not_exists(#status) OR #status = :running",
                            values={":running": RunStatus.RUNNING})
        return done is not None

    def note_new_data(self, study: str, at: str, *, via_event: bool) -> None:
        """Remember the newest upload under the study's channels (`data_last_at` only moves forward);
        `via_event`: the bucket sends EventBridge notifications, so checks need not list the prefixes."""
        self._update(study_key(study), {"data_last_at": at, "data_seen_at": self.now()},
                     condition="attribute_not_exists(#dlast) OR #dlast < :at", values={":at": at})
        if via_event:
            self._update(study_key(study), {"data_events": True})

    def set_data_baseline(self, study: str, at: str) -> None:
        """What a first scan of the prefixes found: data that was there before is not new."""
        self._update(study_key(study), {"data_baseline": at}, if_not_exists=("data_baseline",))

    def claim_data_run(self, study: str, last_at: str) -> bool:
        """Claim the upload at `last_at` for one run (conditional: the newest is still that one, unclaimed)."""
        done = self._update(study_key(study), {"data_run_for": last_at},
                            condition="#dlast = :at AND (attribute_not_exists(#drun) OR #drun <> :at)",
                            values={":at": last_at})
        return done is not None

    def record_promotion(self, run_id: str, study: str, outcome: dict[str, Any]) -> dict[str, Any]:
        """Store the Promote outcome on the run (first write wins: a retry reads the first); a registered
        package also goes on the study (`amt best`). Returns the stored outcome."""
        stored = self._update(run_key(run_id), {"promotion": outcome, "package_arn": outcome.get("package_arn"),
                                                "updated_at": self.now()},
                              if_not_exists=("promotion", "package_arn"), return_new=True) or {}
        kept: dict[str, Any] = stored.get("promotion") or outcome
        if kept.get("registered"):
            cand = kept.get("candidate") or {}
            self._update(study_key(study), {"package_arn": kept.get("package_arn"),
                                            "package_training_job": cand.get("training_job"),
                                            "package_model_artifact": kept.get("model_artifact"),
                                            "updated_at": self.now()})
        return kept

    # -- rounds ----------------------------------------------------------------------------------

    def round(self, study: str, round_no: int) -> dict[str, Any] | None:
        return self.get(round_key(study, round_no))

    def claim_round(self, study: str, round_no: int, *, run_id: str, job_name: str, parents: list[str],
                    spec_location: dict[str, Any], worst_case_hours: float) -> dict[str, Any]:
        """Record round `round_no` as LAUNCHING for `run_id` (idempotent for that run); raises
        RoundTaken if another run holds it. `best_before` freezes the study's best at first claim,
        so a retried Report computes the same improvement."""
        meta = self.study(study) or {}
        item = self._update(
            round_key(study, round_no),
            {"study": study, "round": round_no, "run_id": run_id, "job_name": job_name, "parents": parents,
             "spec_location": spec_location, "worst_case_hours": worst_case_hours,
             "status": RoundStatus.LAUNCHING, "best_before": meta.get("best_objective"),
             "created_at": self.now(), "updated_at": self.now()},
            if_not_exists=("status", "best_before", "created_at"),
            condition="attribute_not_exists(#pk) OR #run = :run", values={":run": run_id}, return_new=True,
        )
        if item is None:
            other = self.round(study, round_no) or {}
            raise RoundTaken(f"study {study}: round {round_no} already belongs to run {other.get('run_id')} "
                             f"(job {other.get('job_name')}); runs of one study must not overlap")
        self._update(study_key(study), {"latest_round": round_no, "updated_at": self.now()},
                     condition="attribute_not_exists(#latest) OR #latest < :r", values={":r": round_no})
        return item

    def set_round(self, study: str, round_no: int, status: str, *, only_if: str | None = None,
                  **fields: Any) -> bool:
        """Set a round's status and result fields (report_uri, best_objective, failure_reason...);
        with `only_if`, only when the round is in that status. True if written."""
        sets = {"status": status, **fields, "updated_at": self.now()}
        if only_if is None:
            self._update(round_key(study, round_no), sets)
            return True
        return self._update(round_key(study, round_no), sets, condition="#status = :was",
                            values={":was": only_if}) is not None

    def rounds(self, study: str) -> list[dict[str, Any]]:
        """Every round of the study, oldest first."""
        return list(self._query(
            KeyConditionExpression="#pk = :pk AND begins_with(#sk, :round)",
            ExpressionAttributeNames={"#pk": K.PK, "#sk": K.SK},
            ExpressionAttributeValues=self._enc({":pk": f"STUDY#{study}", ":round": "ROUND#"}),
            ConsistentRead=True,
        ))

    # -- task tokens -----------------------------------------------------------------------------

    def token(self, job_name: str) -> dict[str, Any] | None:
        return self.get(token_key(job_name))

    def put_token(self, job_name: str, token: str, *, study: str, round_no: int, run_id: str) -> bool:
        """Store the task token as WAITING (listed in the `inflight` index). A new token replaces
        an older one (a retried Launch gets a fresh token); the same token, once resumed, is
        never re-armed. Returns False in that last case."""
        done = self._update(
            token_key(job_name),
            {"job_name": job_name, "token": token, "study": study, "round": round_no, "run_id": run_id,
             "status": TokenStatus.WAITING, K.INFLIGHT_PK: "1", K.INFLIGHT_SK: self.now()},
            condition="attribute_not_exists(#pk) OR #token <> :t OR #status = :waiting",
            values={":t": token, ":waiting": TokenStatus.WAITING},
        )
        return done is not None

    def claim_token(self, job_name: str) -> dict[str, Any] | None:
        """WAITING -> RESUMED, leaving the `inflight` index; returns the item (with `token`) only to
        the first caller, None to everyone else (duplicate events, jobs we did not start)."""
        return self._update(token_key(job_name), {"status": TokenStatus.RESUMED, "resumed_at": self.now()},
                            removes=(K.INFLIGHT_PK,), condition="#status = :waiting",
                            values={":waiting": TokenStatus.WAITING}, return_new=True)

    def release_token(self, job_name: str, token: str) -> None:
        """Undo a claim whose SendTask* call failed, so the next event or the reconciler retries it."""
        self._update(token_key(job_name), {"status": TokenStatus.WAITING, K.INFLIGHT_PK: "1",
                                           K.INFLIGHT_SK: self.now()},
                     condition="#token = :t AND #status = :resumed",
                     values={":t": token, ":resumed": TokenStatus.RESUMED})

    def abandon_token(self, job_name: str) -> bool:
        """WAITING -> ABANDONED (nobody will resume it: the run was stopped or failed)."""
        done = self._update(token_key(job_name), {"status": TokenStatus.ABANDONED, K.INFLIGHT_SK: self.now()},
                            removes=(K.INFLIGHT_PK,), condition="#status = :waiting",
                            values={":waiting": TokenStatus.WAITING})
        return done is not None

    def touch_token(self, job_name: str, at: datetime | None = None) -> None:
        """Mark a still-running job as checked, so the reconciler looks again only after the quiet period
        (`at` in the past: at its next tick)."""
        self._update(token_key(job_name), {K.INFLIGHT_SK: iso(at) if at else self.now()},
                     condition="#status = :waiting", values={":waiting": TokenStatus.WAITING})

    def quiet_tokens(self, older_than: datetime) -> list[dict[str, Any]]:
        """WAITING tokens not updated since `older_than` (from the sparse `inflight` index)."""
        return list(self._query(
            IndexName=K.INFLIGHT_INDEX,
            KeyConditionExpression="#i = :one AND #u < :cutoff",
            ExpressionAttributeNames={"#i": K.INFLIGHT_PK, "#u": K.INFLIGHT_SK},
            ExpressionAttributeValues=self._enc({":one": "1", ":cutoff": iso(older_than)}),
        ))

    def inflight_count(self) -> int:
        """How many tuning jobs workflows are waiting on (a gauge for the dashboard)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table, "IndexName": K.INFLIGHT_INDEX, "Select": "COUNT",
            "KeyConditionExpression": "#i = :one", "ExpressionAttributeNames": {"#i": K.INFLIGHT_PK},
            "ExpressionAttributeValues": self._enc({":one": "1"}),
        }
        total = 0
        while True:
            resp = self._ddb.query(**kwargs)
            total += int(resp.get("Count", 0))
            if "LastEvaluatedKey" not in resp:
                return total
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
