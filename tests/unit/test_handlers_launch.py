"""amt_conductor.handlers.launch: token stored first, the job created once, an existing job adopted."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import World, client_error, spec_doc

from amt_conductor.handlers import launch, prepare
from amt_conductor.runtime.sagemaker_ops import Transient


def prepared(w: World) -> dict[str, Any]:
    return w.call(prepare, {"source": w.put_spec(spec_doc()), "run_id": "run-1", "trigger": "s3"})


def test_launch_stores_the_token_then_creates_the_job(world: World) -> None:
    p = prepared(world)
    out = world.call(launch, {"token": "tok-1", "prepared": p})
    assert out == {"job_name": p["job_name"], "status": "InProgress", "adopted": False}
    assert world.sm.created == [p["job_name"]]
    token = world.rt.registry.token(p["job_name"])
    assert (token["token"], token["status"], token["inflight"]) == ("tok-1", "WAITING", "1")
    assert world.rt.registry.round("churn", 1)["status"] == "IN_PROGRESS"
    assert world.rt.registry.run("run-1")["current_job"] == p["job_name"]
    assert world.task_results() == []  # the job's event resumes the execution, not the launch


def test_a_running_job_with_the_same_name_is_adopted(world: World) -> None:
    p = prepared(world)
    world.call(launch, {"token": "tok-1", "prepared": p})
    world.sm.status[p["job_name"]] = ("InProgress", "")
    out = world.call(launch, {"token": "tok-2", "prepared": p})  # a retried Launch gets a new token
    assert out["adopted"] is True and out["status"] == "InProgress"
    assert world.sm.created == [p["job_name"]]
    assert world.rt.registry.token(p["job_name"])["token"] == "tok-2"
    assert world.task_results() == []


def test_an_adopted_job_that_already_ended_is_resumed_by_the_reconcilers_next_tick(world: World) -> None:
    # Launch runs inside the workflow and sends no task token (its role cannot name the state machine):
    # it leaves the token for the reconciler, whatever the quiet period.
    from amt_conductor.handlers import reconcile

    p = prepared(world)
    world.call(launch, {"token": "tok-1", "prepared": p})
    world.sm.status[p["job_name"]] = ("Failed", "ClientError: bad image")
    world.call(launch, {"token": "tok-2", "prepared": p})
    assert world.task_results() == []
    world.call(reconcile, {})
    [(method, call)] = world.task_results()
    assert method == "send_task_failure"
    assert (call["taskToken"], call["error"], call["cause"]) == ("tok-2", "TuningJobFailed", "ClientError: bad image")


@pytest.mark.parametrize("code", ["ThrottlingException", "ResourceLimitExceeded", "InternalFailure"])
def test_throttling_and_quota_errors_are_transient(world: World, code: str) -> None:
    p = prepared(world)
    world.sm.fail_create = [client_error(code, "try later")]
    with pytest.raises(Transient, match=code):
        world.call(launch, {"token": "tok-1", "prepared": p})
    assert world.rt.registry.token(p["job_name"])["status"] == "WAITING"  # stored before the create
    world.call(launch, {"token": "tok-2", "prepared": p})
    assert world.sm.created == [p["job_name"]]


def test_a_server_error_is_transient(world: World) -> None:
    p = prepared(world)
    world.sm.fail_create = [client_error("SomethingOdd", "boom", status=503)]
    with pytest.raises(Transient):
        world.call(launch, {"token": "tok-1", "prepared": p})


def test_a_rejected_request_is_not_transient(world: World) -> None:
    p = prepared(world)
    world.sm.fail_create = [client_error("ValidationException", "bad parents")]
    with pytest.raises(ClientError) as exc:
        world.call(launch, {"token": "tok-1", "prepared": p})
    assert not isinstance(exc.value, Transient)


def test_a_token_already_resumed_is_not_launched_again(world: World) -> None:
    p = prepared(world)
    world.call(launch, {"token": "tok-1", "prepared": p})
    world.rt.registry.claim_token(p["job_name"])
    out = world.call(launch, {"token": "tok-1", "prepared": p})
    assert out == {"job_name": p["job_name"], "status": "Resumed", "adopted": True}
    assert world.task_results() == [] and world.sm.created == [p["job_name"]]


def test_launch_log_lines_carry_the_study_job_round_and_run(world: World) -> None:
    """The correlation keys every later log line of the invocation carries (docs/operations.md, "Logs")."""
    from amt_conductor.runtime.observability import logger

    p = prepared(world)
    world.call(launch, {"token": "tok-1", "prepared": p})
    keys = logger.get_current_keys()
    assert (keys.get("study"), keys.get("job_name"), keys.get("round"), keys.get("run_id")) == (
        "churn", p["job_name"], 1, "run-1")


def test_no_handler_logs_the_task_token(world: World, capsys: pytest.CaptureFixture[str],
                                       caplog: pytest.LogCaptureFixture) -> None:
    """Issue 9, finding 4: the functions' logs are as readable as the state machine's; the token is not in them."""
    from amt_conductor.handlers import resume

    p = world.launch_round(world.put_spec(spec_doc()))
    world.call(resume, world.job_event(p["job_name"], "Completed"))
    # Every record with its extra fields (what Powertools writes as JSON), and whatever reached stdout.
    logged = capsys.readouterr().out + "\n".join(repr(vars(r)) for r in caplog.records)
    assert "created the tuning job" in logged and "resumed the execution" in logged  # the logs were captured
    assert f"token-{p['job_name']}" not in logged


def test_a_guarded_study_is_created_as_its_launcher_role(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # The launcher role's Denies hold the request to the reviewed spec's controls (spec.access): the create
    # must go through it, never through the launch function's own role.
    p = {**prepared(world), "launcher_role_arn": "arn:aws:iam::123456789012:role/amt/S/launch/churn.k.us-east-1"}
    used: list[tuple[str | None, str]] = []

    def as_role(role_arn: str | None, session_name: str) -> Any:
        used.append((role_arn, session_name))
        return world.sm

    monkeypatch.setattr(world.rt, "sagemaker_as", as_role)
    world.call(launch, {"token": "tok-1", "prepared": p})
    # The session is named after the job: CloudTrail's record of the create says which job it launched.
    assert used == [(p["launcher_role_arn"], f"amt-launch-{p['job_name']}")]
    assert world.sm.created == [p["job_name"]]


def test_the_launcher_session_uses_the_assumed_roles_credentials(world: World) -> None:
    client = world.rt.sagemaker_as("arn:aws:iam::123456789012:role/amt/S/launch/churn.k.us-east-1", "amt-launch-x")
    creds = client._request_signer._credentials
    assert creds.access_key != "testing" and creds.token  # STS's, not the function's own
    # All three of STS's: a temporary key id starts with ASIA (IAM's identifiers), and goes with its secret.
    assert creds.access_key.startswith("ASIA") and creds.secret_key and creds.secret_key != "testing"
    assert world.rt.sagemaker_as(None, "x") is world.rt.sagemaker


def test_a_retried_launch_after_the_round_ended_leaves_its_status_alone(world: World) -> None:
    """Step Functions gives a retried task a new token: the job is adopted, and a round already reported stays
    as it is (only a LAUNCHING round becomes IN_PROGRESS)."""
    p = prepared(world)
    world.call(launch, {"token": "tok-1", "prepared": p})
    world.rt.registry.claim_token(p["job_name"])
    world.rt.registry.set_round("churn", 1, "COMPLETED")
    out = world.call(launch, {"token": "tok-2", "prepared": p})
    assert out["adopted"] is True
    assert world.rt.registry.round("churn", 1)["status"] == "COMPLETED"


LAUNCHER = "arn:aws:iam::123456789012:role/amt/S/launch/churn.k.us-east-1"


def test_the_launcher_session_asks_sts_for_15_minutes_in_the_functions_region(world: World,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[dict[str, Any]] = []
    real = world.rt.client

    def client(service: str) -> Any:
        c = real(service)
        if service == "sts":
            c.meta.events.register("provide-client-params.sts.AssumeRole",
                                   lambda params, **_: sent.append(dict(params)))
        return c

    monkeypatch.setattr(world.rt, "client", client)
    world.rt.__dict__["region"] = "eu-west-1"  # not the environment's default: the client must be told
    monkeypatch.setenv("AWS_RETRY_MODE", "legacy")  # Lambda's botocore default, which ours must override
    name = "amt-launch-" + "x" * 80  # STS takes session names of at most 64 characters
    sm = world.rt.sagemaker_as(LAUNCHER, name)
    # The shortest session STS grants: the create is one call, and stolen credentials would expire soon.
    assert sent == [{"RoleArn": LAUNCHER, "RoleSessionName": name[:64], "DurationSeconds": 900}]
    assert sm.meta.region_name == "eu-west-1"
    # Ours are standard retries (with throttling back-off) everywhere, whatever the environment's default.
    assert sm.meta.config.retries == {"mode": "standard"}


def test_a_throttled_assume_role_is_transient_and_named(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    class Sts:
        def assume_role(self, **_: Any) -> Any:
            raise client_error("ThrottlingException", "Rate exceeded")

    monkeypatch.setattr(world.rt, "client", lambda service: Sts())
    with pytest.raises(Transient) as caught:
        world.rt.sagemaker_as(LAUNCHER, "amt-launch-x")
    assert str(caught.value) == f"AssumeRole {LAUNCHER}: ThrottlingException: Rate exceeded"
