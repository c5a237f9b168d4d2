"""`triggers.new_data`: new objects under a study's channel prefixes start one run, once uploads pause.

Two inputs reach the start function. An "Object Created" event from the data bucket (EventBridge, where
the bucket sends them) only notes the newest upload time on the study. A per-study schedule runs the
check: when the bucket has never sent an event, the check lists the channel prefixes itself (the
fallback for buckets without EventBridge notifications); when the newest upload is at least
`quiet_period` old and no run was started for it yet, it claims that upload time in the registry
(conditional write) and starts a run named after it. A burst of uploads therefore starts one run,
after the burst; a duplicate event or check starts nothing.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from amt_conductor.runtime.observability import bind, count, logger
from amt_conductor.runtime.registry import iso
from amt_conductor.runtime.sagemaker_ops import error_code, transient_errors

if TYPE_CHECKING:
    from amt_conductor.runtime.workflow import Runtime

OBJECT_EVENT = "new-data-object"  # the data rule's input: {"study", "trigger", "time", "key"}
CHECK = "new-data-check"  # the schedule's input: {"study", "trigger", "quiet_seconds", "prefixes"}
NEW_DATA = "new-data"  # the trigger recorded on the run (amt_conductor.runtime.rounds reads it)
SCAN_PAGES = 10  # ListObjectsV2 pages (1,000 keys each) a check reads per prefix


def on_data(rt: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    """Dispatch the two inputs above."""
    study = str(event.get("study", ""))
    bind(study=study)
    if event.get("trigger") == OBJECT_EVENT:
        at = str(event.get("time") or iso(rt.registry.clock()))
        rt.registry.note_new_data(study, at, via_event=True)
        return {"noted": at, "started": False}
    return check(rt, study, quiet_seconds=int(event.get("quiet_seconds") or 3600),
                 prefixes=[str(p) for p in event.get("prefixes") or []])


def newest_object(s3: Any, prefixes: list[str]) -> str | None:
    """The newest LastModified under the s3:// prefixes (registry time format), or None."""
    newest: datetime | None = None
    for uri in prefixes:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        for _ in range(SCAN_PAGES):
            with transient_errors(f"ListObjectsV2 {uri}"):
                page = s3.list_objects_v2(**kwargs)
            for obj in page.get("Contents", []):
                if newest is None or obj["LastModified"] > newest:
                    newest = obj["LastModified"]
            if not page.get("IsTruncated"):
                break
            kwargs["ContinuationToken"] = page["NextContinuationToken"]
        else:
            logger.warning("prefix has more objects than one check reads; enable EventBridge notifications "
                           "on the bucket", extra={"prefix": uri})
    return iso(newest) if newest else None


def check(rt: Runtime, study: str, *, quiet_seconds: int, prefixes: list[str]) -> dict[str, Any]:
    """Start the study's run for its newest upload once that upload is `quiet_seconds` old (once per upload time)."""
    from amt_conductor.runtime.workflow import execution_arn
    from amt_conductor.spec.naming import execution_name

    # The run loads the study's deployed spec (as a scheduled run does), so the study need not have run yet.
    meta = rt.registry.study(study) or {}
    if not meta.get("data_events"):
        # No event from the bucket so far: it may not send EventBridge notifications; look for ourselves.
        try:
            found = newest_object(rt.s3, prefixes)
        except ClientError as err:
            logger.warning("cannot list the data prefixes", extra={"code": error_code(err), "prefixes": prefixes})
            found = None
        if found and (meta.get("data_seen_at") is not None or meta.get("data_baseline") is not None):
            rt.registry.note_new_data(study, found, via_event=False)
        elif found:
            # The first scan only learns what is there already: existing data is not new data.
            rt.registry.set_data_baseline(study, found)
            return {"started": False, "reason": "first look at the prefixes: baseline recorded"}
        meta = rt.registry.study(study) or {}
    last = meta.get("data_last_at")
    if not last or (meta.get("data_baseline") and last <= meta["data_baseline"]):
        return {"started": False, "reason": "no new data"}
    if meta.get("data_run_for") == last:
        return {"started": False, "reason": f"a run already started for the upload at {last}"}
    now = rt.registry.clock()
    if iso(now - timedelta(seconds=quiet_seconds)) < last:
        return {"started": False, "reason": f"uploads not quiet for {quiet_seconds} s yet (last at {last})"}
    if not rt.registry.claim_data_run(study, last):
        return {"started": False, "reason": "another check claimed this upload"}
    name = execution_name(study, f"data:{last}")
    bind(run_id=name)
    try:
        with transient_errors("StartExecution"):
            resp = rt.sfn.start_execution(stateMachineArn=rt.settings.state_machine_arn, name=name,
                                          input=json.dumps({"study": study, "trigger": NEW_DATA}))
    except ClientError as err:
        if error_code(err) != "ExecutionAlreadyExists":
            raise
        return {"execution_arn": execution_arn(rt.settings.state_machine_arn, name), "started": False}
    count("RunsStarted", study=study)
    logger.info("started a run for new data", extra={"last_upload": last, "execution_arn": resp["executionArn"]})
    return {"execution_arn": resp["executionArn"], "started": True}
