"""amt_conductor.handlers.prepare: spec -> round number, budget check, warm-start parents, request."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from conftest import World, spec_doc

from amt_conductor.handlers import prepare
from amt_conductor.runtime.registry import RoundTaken
from amt_conductor.runtime.rounds import BudgetExhausted, SpecInvalid
from amt_conductor.spec.loader import parse_spec
from amt_conductor.spec.naming import job_name


def run(w: World, source: dict[str, Any], run_id: str = "run-1", **extra: Any) -> dict[str, Any]:
    return w.call(prepare, {"source": source, "run_id": run_id, "trigger": "s3", **extra})


def test_first_round_of_a_new_study(world: World) -> None:
    loc = world.put_spec(spec_doc())
    out = run(world, loc)
    name = job_name(parse_spec(yaml.safe_dump(spec_doc()), "x"), 1)
    assert out["job_name"] == name == out["request"]["HyperParameterTuningJobName"]
    assert (out["study"], out["round"], out["base_round"], out["run_id"]) == ("churn", 1, 1, "run-1")
    assert out["parents"] == [] and "WarmStartConfig" not in out["request"]
    assert out["timeout_seconds"] == 2 * 3600 + 3600  # 2 waves of 1h jobs + slack
    assert (out["worst_case_hours"], out["spent_hours"]) == (4.0, 0)
    assert out["spec_location"] == loc
    assert out["request"]["TrainingJobDefinition"]["RoleArn"].endswith("role/amt-sagemaker")
    item = world.rt.registry.round("churn", 1)
    assert item["status"] == "LAUNCHING" and item["job_name"] == name and item["run_id"] == "run-1"
    assert "spec_location" not in world.rt.registry.study("churn")  # an upload points the study nowhere


def test_a_retried_prepare_returns_the_same_round(world: World) -> None:
    loc = world.put_spec(spec_doc())
    assert run(world, loc) == run(world, loc)
    assert len(world.rt.registry.rounds("churn")) == 1


def test_a_retried_prepare_keeps_its_first_choice_of_parents(world: World) -> None:
    """The round's parents are recorded with it: a retry after another run's round completed (a better parent
    now) must not render a different request for the same job name."""
    doc = spec_doc(rounds={"max": 1})
    loc = world.put_spec(doc)
    spec = parse_spec(yaml.safe_dump(doc), "x")
    reg = world.rt.registry
    reg.claim_round("churn", 1, run_id="old-1", job_name=job_name(spec, 1), parents=[], spec_location=loc,
                    worst_case_hours=4.0)
    reg.set_round("churn", 1, "COMPLETED", best_objective=0.5)
    first = run(world, loc, "run-2")
    assert first["parents"] == [job_name(spec, 1)]
    reg.claim_round("churn", 3, run_id="other", job_name=job_name(spec, 3), parents=[], spec_location=loc,
                    worst_case_hours=4.0)
    reg.set_round("churn", 3, "COMPLETED", best_objective=0.9)
    assert run(world, loc, "run-2") == first
    assert run(world, loc, "run-4")["parents"] == [job_name(spec, 3), job_name(spec, 1)]  # a new run sees it


def test_next_run_continues_the_study_warm_started_from_its_best_rounds(world: World) -> None:
    loc = world.put_spec(spec_doc(rounds={"max": 1}))
    world.complete_round(world.launch_round(loc, "run-1"), [0.7, 0.8])
    out = run(world, loc, "run-2")
    assert out["round"] == 2 and out["base_round"] == 2
    assert out["parents"] == [world.rt.registry.round("churn", 1)["job_name"]]
    assert out["request"]["WarmStartConfig"]["WarmStartType"] == "IdenticalDataAndAlgorithm"


def test_later_rounds_take_the_round_from_the_input(world: World) -> None:
    loc = world.put_spec(spec_doc())
    first = world.launch_round(loc)
    report = world.complete_round(first, [0.7])
    out = world.call(prepare, report["next"])
    assert (out["round"], out["base_round"], out["spent_hours"]) == (2, 1, 4.0)
    assert out["parents"] == [first["job_name"]]


def test_incompatible_parents_are_dropped(world: World) -> None:
    old = world.put_spec(spec_doc(rounds={"max": 1}))
    world.complete_round(world.launch_round(old, "run-1"), [0.9])
    # A new static hyperparameter changes the set of names: SageMaker would refuse the warm start.
    new = world.put_spec(spec_doc(rounds={"max": 1}, hyperparameters={"num_round": 100, "gamma": 1}))
    out = run(world, new, "run-2")
    assert out["round"] == 2 and out["parents"] == []
    assert "WarmStartConfig" not in out["request"]


def test_an_incompatible_explicit_parent_is_the_users_error_not_a_silent_cold_start(world: World) -> None:
    old = world.put_spec(spec_doc(rounds={"max": 1}))
    parent = world.launch_round(old, "run-1")
    world.complete_round(parent, [0.9])
    doc = spec_doc(hyperparameters={"num_round": 100, "gamma": 1},
                   warm_start={"type": "transfer_learning", "parents": [parent["job_name"]]})
    with pytest.raises(SpecInvalid) as exc:
        run(world, world.put_spec(doc, key="configs/churn-v2.yaml"), "run-2")
    assert str(exc.value).startswith(f"configs/churn-v2.yaml: warm_start.parents: {parent['job_name']}: "
                                     "hyperparameters: the set of static + tunable names must stay the same")


def test_a_grid_study_never_warm_starts_from_its_lineage(world: World) -> None:
    grid = spec_doc(strategy="grid", rounds={"max": 1},
                    ranges={"booster": {"type": "categorical", "values": ["gbtree", "dart"]}})
    grid["resources"].pop("max_jobs", None)
    loc = world.put_spec(grid)
    world.complete_round(world.launch_round(loc, "run-1"), [0.8, 0.9])
    out = run(world, loc, "run-2")
    assert out["round"] == 2 and out["parents"] == [] and "WarmStartConfig" not in out["request"]


def test_explicit_parents_are_used_for_an_uploaded_spec(world: World) -> None:
    doc = spec_doc(warm_start={"type": "transfer_learning", "parents": ["legacy-tuning-job"]})
    out = run(world, world.put_spec(doc))
    assert out["parents"] == ["legacy-tuning-job"]
    assert out["request"]["WarmStartConfig"] == {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "legacy-tuning-job"}],
        "WarmStartType": "TransferLearning",
    }


def test_a_scheduled_run_runs_the_deployed_spec_not_the_last_upload(world: World) -> None:
    """Issue 9, finding 6: an upload runs its own version only; the schedule keeps running what was deployed."""
    world.put_deployed(spec_doc())
    uploaded = world.put_spec(spec_doc(rounds={"max": 1}, ranges={
        "eta": {"type": "continuous", "min": 0.2, "max": 0.3}, "max_depth": {"type": "integer", "min": 2, "max": 3}}))
    first = run(world, uploaded, "run-1")
    assert first["spec_location"] == uploaded
    out = world.call(prepare, {"input": {"study": "churn", "trigger": "schedule"}, "run_id": "run-2"})
    assert out["spec_location"]["key"] == "deployed/specs.json" and out["spec_location"]["study"] == "churn"
    ranges = out["request"]["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"]
    assert ranges[0]["MinValue"] == "0.01"  # the deployed range, not the upload's 0.2
    assert world.rt.registry.study("churn")["spec_location"] == out["spec_location"]  # the deployed one


def test_a_scheduled_run_of_a_study_that_was_not_deployed_fails_clearly(world: World) -> None:
    with pytest.raises(SpecInvalid) as exc:
        world.call(prepare, {"study": "ghost", "run_id": "run-1", "trigger": "schedule"})
    assert str(exc.value) == ("study ghost: no deployed spec; a schedule runs the spec deployed from configs/ "
                              "(cdk deploy)")


@pytest.mark.parametrize(("field", "value"), [
    ("image", "999999999999.dkr.ecr.us-east-1.amazonaws.com/mine:latest"),
    ("entry_point", "other.py"),
])
def test_an_upload_may_not_change_a_deployed_studys_code(world: World, field: str, value: str) -> None:
    """Issue 9, finding 2: code (image, entry point, code source) ships with `cdk deploy`, not with an upload."""
    world.put_deployed(spec_doc())
    changed = spec_doc()
    changed["algorithm"] = {**changed["algorithm"], field: value}
    if field == "entry_point":
        changed["algorithm"]["source"] = "s3://my-data-bucket/code/train.tar.gz"
    loc = world.put_spec(changed)
    with pytest.raises(SpecInvalid, match=rf"configs/churn.yaml: algorithm.{field}: differs from the deployed "
                                          r"spec of study churn .*code changes ship with `cdk deploy`"):
        run(world, loc)
    assert world.rt.registry.run("run-1") is None  # refused before anything is recorded


def test_every_code_change_of_an_upload_is_named_on_a_line_of_its_own(world: World) -> None:
    world.put_deployed(spec_doc())
    changed = spec_doc()
    changed["algorithm"] = {**changed["algorithm"], "image": "999999999999.dkr.ecr.us-east-1.amazonaws.com/mine:2",
                            "entry_point": "other.py", "source": "s3://my-data-bucket/code/train.tar.gz"}
    with pytest.raises(SpecInvalid) as exc:
        run(world, world.put_spec(changed))
    lines = str(exc.value).split("\n")
    assert [x.split(": ")[:2] for x in lines] == [["configs/churn.yaml", f"algorithm.{f}"]
                                                   for f in ("image", "entry_point", "source")]


def test_a_deployed_spec_that_no_longer_parses_is_a_spec_error_naming_the_field(world: World) -> None:
    bad = spec_doc()
    bad["resources"]["max_jobs"] = "many"
    world.put_deployed(bad)
    with pytest.raises(SpecInvalid, match=r"^configs/churn\.yaml: resources\.max_jobs: "):
        world.call(prepare, {"study": "churn", "run_id": "run-1", "trigger": "schedule"})


def test_an_uploaded_run_checks_its_code_once_at_its_start(world: World) -> None:
    """Later rounds of a run keep the spec version it started with, even when a deploy changes the study's code
    meanwhile: the run was checked against what was deployed when it started (the next run is checked anew)."""
    world.put_deployed(spec_doc())
    loc = world.put_spec(spec_doc())
    report = world.complete_round(world.launch_round(loc), [0.7])
    changed = spec_doc()
    changed["algorithm"] = {**changed["algorithm"], "image": "999999999999.dkr.ecr.us-east-1.amazonaws.com/mine:2"}
    world.put_deployed(changed)
    out = world.call(prepare, report["next"])
    assert out["round"] == 2 and out["spec_location"] == loc
    with pytest.raises(SpecInvalid, match=r"algorithm\.image: differs from the deployed spec"):
        run(world, loc, "run-2")


def test_prepare_log_lines_carry_the_study_run_round_and_job(world: World) -> None:
    from amt_conductor.runtime.observability import logger

    out = run(world, world.put_spec(spec_doc()), "run-7")
    keys = logger.get_current_keys()
    assert (keys.get("study"), keys.get("run_id"), keys.get("round"), keys.get("job_name")) == (
        "churn", "run-7", 1, out["job_name"])


def test_an_upload_may_change_what_is_not_code(world: World) -> None:
    world.put_deployed(spec_doc())
    loc = world.put_spec(spec_doc(rounds={"max": 1}, hyperparameters={"num_round": 50}))
    assert run(world, loc)["round"] == 1


def test_an_invalid_spec_names_file_and_field_and_records_nothing(world: World) -> None:
    bad = spec_doc()
    bad["ranges"]["eta"]["min"] = 0  # log scaling needs > 0
    with pytest.raises(SpecInvalid) as exc:
        run(world, world.put_spec(bad))
    assert str(exc.value) == "configs/churn.yaml: ranges.eta.min: must be > 0 for log scaling (got 0.0)"
    assert world.rt.registry.rounds("churn") == [] and world.rt.registry.run("run-1") is None


BASE = "arn:aws:iam::123456789012:role/amt/AmtConductor/"


def _deployed(world: World, prefixes: tuple[str, ...] = ()) -> None:
    from dataclasses import replace

    world.rt.settings = replace(world.rt.settings, role_arn_base=BASE, stack_key="k1", study_prefixes=prefixes,
                                kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/stack")


def test_a_deployed_study_runs_as_its_own_role_tagged_with_the_stack(world: World) -> None:
    _deployed(world)
    prepared = run(world, world.put_spec(spec_doc()))
    definition = prepared["request"]["TrainingJobDefinition"]
    assert definition["RoleArn"] == f"{BASE}open/churn.k1.us-east-1"
    assert prepared["launcher_role_arn"] is None
    assert {"Key": "amt:stack", "Value": "k1"} in prepared["request"]["Tags"]
    # Issue 9 item 7: outputs without kms_key_id are encrypted with the stack's key, not S3's managed key.
    assert definition["OutputDataConfig"]["KmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/stack"


def test_a_guarded_study_is_launched_through_its_launcher_role(world: World) -> None:
    _deployed(world)
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    prepared = run(world, world.put_spec(spec_doc(kms_key_id=key)))
    assert prepared["request"]["TrainingJobDefinition"]["RoleArn"] == f"{BASE}guarded/churn.k1.us-east-1"
    assert prepared["launcher_role_arn"] == f"{BASE}launch/churn.k1.us-east-1.launch"
    assert prepared["request"]["TrainingJobDefinition"]["OutputDataConfig"]["KmsKeyId"] == key


def test_a_study_under_a_context_prefix_runs_as_the_prefix_role(world: World) -> None:
    _deployed(world, prefixes=("team-a-", "chu"))
    prepared = run(world, world.put_spec(spec_doc()))
    assert prepared["request"]["TrainingJobDefinition"]["RoleArn"] == f"{BASE}open/chu.k1.us-east-1"


def test_a_missing_spec_object_is_a_spec_error(world: World) -> None:
    loc = {"bucket": "amt-configs", "key": "configs/gone.yaml", "version_id": None}
    with pytest.raises(SpecInvalid) as exc:
        run(world, loc)
    assert str(exc.value) == "configs/gone.yaml: cannot read the spec at s3://amt-configs/configs/gone.yaml: NoSuchKey"


def test_budget_stops_a_round_that_does_not_fit(world: World) -> None:
    loc = world.put_spec(spec_doc(budget={"max_instance_hours": 6}))  # 4 per round
    first = world.launch_round(loc)
    nxt = {"study": "churn", "round": 2, "run_id": "run-1", "source": loc, "trigger": "s3"}
    with pytest.raises(BudgetExhausted, match=r"budget.max_instance_hours: round 2 may use 4 .* 4 of 6"):
        world.call(prepare, nxt)
    assert world.rt.registry.round("churn", 2) is None
    assert first["round"] == 1


def test_overlapping_runs_cannot_share_a_round(world: World) -> None:
    loc = world.put_spec(spec_doc())
    run(world, loc, "run-1")
    with pytest.raises(RoundTaken):
        world.call(prepare, {"study": "churn", "round": 1, "run_id": "run-2", "source": loc})


def test_an_input_claiming_another_runs_id_cannot_get_its_round_or_token(world: World) -> None:
    """Issue 9, finding 5: the state machine sends the execution's own name as `run_id` beside the input;
    an execution whose input names a waiting run's id (and round) gets RoundTaken, and the waiting run's
    token stays where it was."""
    victim = world.launch_round(world.put_spec(spec_doc()), run_id="victim-run")
    forged = {"input": {"source": victim["spec_location"], "run_id": "victim-run", "round": victim["round"],
                        "trigger": "s3", "prepared": victim},
              "run_id": "attacker-run"}
    with pytest.raises(RoundTaken):
        world.call(prepare, forged)
    token = world.rt.registry.token(victim["job_name"])
    assert (token["token"], token["run_id"], token["status"]) == (f"token-{victim['job_name']}", "victim-run",
                                                                  "WAITING")
    assert world.rt.registry.run("attacker-run")["base_round"] == victim["round"] + 1


def test_the_wrapped_input_from_the_state_machine_is_prepared(world: World) -> None:
    loc = world.put_spec(spec_doc())
    out = world.call(prepare, {"input": {"source": loc, "trigger": "s3", "run_id": "ignored"}, "run_id": "exec-1"})
    assert out["run_id"] == "exec-1"
    assert world.rt.registry.run("exec-1") is not None and world.rt.registry.run("ignored") is None


def test_a_minimize_study_warm_starts_from_its_lowest_rounds(world: World) -> None:
    """Issue 14, item 2: for `goal: minimize` the best rounds are the lowest; with six completed rounds the
    five parents must leave out the highest (ranked as if maximizing, they would leave out the best)."""
    doc = spec_doc(objective={"metric": "validation:auc", "goal": "minimize"}, rounds={"max": 1})
    loc = world.put_spec(doc)
    spec = parse_spec(yaml.safe_dump(doc), "x")
    reg = world.rt.registry
    objectives = {1: 0.5, 2: 0.9, 3: 0.1, 4: 0.7, 5: 0.3, 6: 0.2}
    for round_no, objective in objectives.items():
        reg.claim_round("churn", round_no, run_id=f"old-{round_no}", job_name=job_name(spec, round_no), parents=[],
                        spec_location=loc, worst_case_hours=4.0)
        reg.set_round("churn", round_no, "COMPLETED", best_objective=objective)
    out = run(world, loc, "run-7")
    assert out["round"] == 7
    lowest_first = [3, 6, 5, 1, 4]  # 0.1, 0.2, 0.3, 0.5, 0.7
    assert out["parents"] == [job_name(spec, r) for r in lowest_first]


def test_a_scheduled_run_warm_starts_from_the_lineage_not_the_specs_explicit_parents(world: World) -> None:
    """Issue 14, item 3: explicit warm_start.parents apply to an uploaded run only (docs/architecture.md);
    a scheduled run of the same spec continues from the study's own best rounds."""
    doc = spec_doc(rounds={"max": 1}, warm_start={"type": "transfer_learning", "parents": ["legacy-tuning-job"]})
    world.put_deployed(doc)
    loc = world.put_spec(doc)
    first = world.launch_round(loc, "run-1")
    assert first["parents"] == ["legacy-tuning-job"]
    world.complete_round(first, [0.8])
    out = world.call(prepare, {"study": "churn", "run_id": "run-2", "trigger": "schedule"})
    assert out["round"] == 2 and out["parents"] == [first["job_name"]]


# --- boundaries and paths the mutation run found untested (issue 14) ------------------------------------------

def test_a_round_that_fills_the_budget_exactly_runs(world: World) -> None:
    # "may not exceed": 4 + 4 of 8 instance-hours fits; the third round (8 + 4) does not.
    loc = world.put_spec(spec_doc(budget={"max_instance_hours": 8}))
    world.launch_round(loc)
    nxt = {"study": "churn", "round": 2, "run_id": "run-1", "source": loc, "trigger": "s3"}
    out = world.call(prepare, nxt)
    assert (out["round"], out["spent_hours"], out["worst_case_hours"]) == (2, 4.0, 4.0)
    # A retried Prepare of that round does not count the round against itself.
    assert world.call(prepare, nxt) == out
    with pytest.raises(BudgetExhausted, match=r"round 3 may use 4 instance-hours in the worst case; 8 of 8"):
        world.call(prepare, {**nxt, "round": 3})


def test_a_runs_budget_does_not_count_other_runs_rounds(world: World) -> None:
    loc = world.put_spec(spec_doc(rounds={"max": 1}, budget={"max_instance_hours": 4}))  # one round exactly
    world.complete_round(world.launch_round(loc, "run-1"), [0.8])
    out = run(world, loc, "run-2")
    assert (out["round"], out["spent_hours"]) == (2, 0)


def _padded(size: int) -> str:
    body = yaml.safe_dump(spec_doc(), sort_keys=False) + "#"
    return body + "x" * (size - len(body.encode()) - 1) + "\n"


def test_a_spec_of_exactly_the_size_limit_is_read_and_a_byte_more_is_refused(world: World) -> None:
    from amt_conductor.spec.loader import MAX_SPEC_BYTES

    assert len(_padded(MAX_SPEC_BYTES).encode()) == MAX_SPEC_BYTES
    assert run(world, world.put_spec(_padded(MAX_SPEC_BYTES)))["round"] == 1
    big = world.put_spec(_padded(MAX_SPEC_BYTES + 1), key="configs/big.yaml")
    with pytest.raises(SpecInvalid) as exc:
        run(world, big, "run-2")
    assert str(exc.value) == f"configs/big.yaml: file is larger than {MAX_SPEC_BYTES:,} bytes"


def test_an_unreadable_spec_version_names_the_version(world: World) -> None:
    loc = {**world.put_spec(spec_doc()), "version_id": "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY"}
    with pytest.raises(SpecInvalid, match=r"^configs/churn.yaml: cannot read the spec at "
                                          r"s3://amt-configs/configs/churn.yaml \(version 3HL4kqtJlcpXroDTDmJ-"):
        run(world, loc)


def test_the_version_read_is_the_one_named(world: World) -> None:
    first = world.put_spec(spec_doc(hyperparameters={"num_round": 50}))
    world.put_spec(spec_doc(hyperparameters={"num_round": 70}))
    out = run(world, first)
    assert out["request"]["TrainingJobDefinition"]["StaticHyperParameters"]["num_round"] == "50"


def test_a_deployed_study_that_is_not_in_the_manifest_is_a_spec_error(world: World) -> None:
    from amt_conductor.contract import DEPLOYED_SPECS_KEY

    world.put_deployed(spec_doc())
    source = {"bucket": "amt-configs", "key": DEPLOYED_SPECS_KEY, "study": "ghost"}
    with pytest.raises(SpecInvalid) as exc:
        world.call(prepare, {"source": source, "run_id": "run-1", "trigger": "schedule"})
    assert str(exc.value) == f"study ghost: not in the deployed specs (s3://amt-configs/{DEPLOYED_SPECS_KEY})"


def test_prepare_needs_the_run_id(world: World) -> None:
    loc = world.put_spec(spec_doc())
    with pytest.raises(ValueError, match=r"^prepare needs run_id \(the execution name\)$"):
        world.call(prepare, {"source": loc, "trigger": "s3"})
    with pytest.raises(ValueError, match="prepare needs run_id"):
        world.call(prepare, {"input": {"source": loc, "run_id": "run-1"}})  # only the execution's own name counts


def test_the_trigger_defaults_to_the_events_kind(world: World) -> None:
    world.put_deployed(spec_doc())
    loc = world.put_spec(spec_doc())
    assert world.call(prepare, {"source": loc, "run_id": "run-1"})["trigger"] == "s3"
    assert world.call(prepare, {"study": "churn", "run_id": "run-2"})["trigger"] == "schedule"


def test_a_new_data_run_warm_starts_its_lineage_with_transfer_learning(world: World) -> None:
    from amt_conductor.runtime.data_trigger import NEW_DATA

    loc = world.put_spec(spec_doc(rounds={"max": 1}))
    first = world.launch_round(loc, "run-1")
    world.complete_round(first, [0.8])
    out = run(world, loc, "run-2", trigger=NEW_DATA)
    assert out["parents"] == [first["job_name"]]
    assert out["request"]["WarmStartConfig"]["WarmStartType"] == "TransferLearning"


def test_a_new_data_run_keeps_a_parent_of_other_data_that_an_identical_data_start_would_drop(world: World) -> None:
    from amt_conductor.runtime.data_trigger import NEW_DATA

    first = world.launch_round(world.put_spec(spec_doc(rounds={"max": 1})), "run-1")
    world.complete_round(first, [0.8])
    moved = spec_doc(rounds={"max": 1})
    moved["data"] = {name: {**ch, "uri": ch["uri"].rstrip("/") + "-v2/"} for name, ch in moved["data"].items()}
    loc = world.put_spec(moved)
    assert run(world, loc, "run-2", trigger=NEW_DATA)["parents"] == [first["job_name"]]
    assert run(world, loc, "run-3")["parents"] == []  # identical data and algorithm: the data changed


def test_an_explicit_parent_from_another_of_our_studies_is_checked_like_our_own(world: World) -> None:
    # Known by its token (the registry knows every job this stack launched), so its spec is compared.
    parent = world.launch_round(world.put_spec(spec_doc(rounds={"max": 1})), "run-1")
    world.complete_round(parent, [0.9])
    doc = spec_doc(name="churn-b", hyperparameters={"num_round": 100, "gamma": 1},
                   warm_start={"type": "transfer_learning", "parents": [parent["job_name"]]})
    with pytest.raises(SpecInvalid, match=rf"configs/churn-b.yaml: warm_start.parents: {parent['job_name']}: "
                                          "hyperparameters:"):
        run(world, world.put_spec(doc, key="configs/churn-b.yaml"), "run-2")
    compatible = spec_doc(name="churn-c", warm_start={"type": "transfer_learning", "parents": [parent["job_name"]]})
    out = run(world, world.put_spec(compatible, key="configs/churn-c.yaml"), "run-3")
    assert out["parents"] == [parent["job_name"]]


def test_a_lineage_parent_whose_spec_cannot_be_read_is_dropped(world: World) -> None:
    old = world.put_spec(spec_doc(rounds={"max": 1}))
    world.complete_round(world.launch_round(old, "run-1"), [0.9])
    world.s3.delete_object(Bucket=old["bucket"], Key=old["key"], VersionId=old["version_id"])
    new = world.put_spec(spec_doc(rounds={"max": 1}))
    out = run(world, new, "run-2")
    assert out["round"] == 2 and out["parents"] == []
    # The parents ranked below it are still judged: round 2 (worse than round 1) is kept.
    world.complete_round(world.launch_round(new, "run-2"), [0.5])
    out = run(world, world.put_spec(spec_doc(rounds={"max": 1})), "run-3")
    assert out["round"] == 3 and out["parents"] == [world.rt.registry.round("churn", 2)["job_name"]]


def test_lineage_parents_are_at_most_five_best_first(world: World) -> None:
    doc = spec_doc(rounds={"max": 1})
    loc = world.put_spec(doc)
    spec = parse_spec(yaml.safe_dump(doc), "x")
    reg = world.rt.registry
    for round_no, objective in {1: 0.5, 2: 0.9, 3: 0.1, 4: 0.7, 5: 0.3, 6: 0.2, 7: 0.8}.items():
        reg.claim_round("churn", round_no, run_id=f"old-{round_no}", job_name=job_name(spec, round_no), parents=[],
                        spec_location=loc, worst_case_hours=4.0)
        reg.set_round("churn", round_no, "COMPLETED", best_objective=objective)
    out = run(world, loc, "run-8")
    assert out["parents"] == [job_name(spec, r) for r in (2, 7, 4, 1, 5)]


def test_every_explicit_parent_is_kept_not_only_the_first_unknown_one(world: World) -> None:
    doc = spec_doc(warm_start={"type": "transfer_learning", "parents": ["legacy-job-a", "legacy-job-b"]})
    out = run(world, world.put_spec(doc))
    assert out["parents"] == ["legacy-job-a", "legacy-job-b"]


def test_each_lineage_parent_is_judged_by_its_own_spec(world: World) -> None:
    # Round 2 ran a spec with another static hyperparameter (incompatible with today's); round 1 ran today's.
    # Round 2 ranks first and is dropped; round 1 is compared with its own spec, not round 2's, and kept.
    today = spec_doc(rounds={"max": 1})
    first = world.launch_round(world.put_spec(today), "run-1")
    world.complete_round(first, [0.8])
    other = world.put_spec(spec_doc(rounds={"max": 1}, hyperparameters={"num_round": 100, "gamma": 1}))
    second = world.launch_round(other, "run-2")
    world.complete_round(second, [0.9])
    out = run(world, world.put_spec(today), "run-3")
    assert out["round"] == 3 and out["parents"] == [first["job_name"]]


@pytest.mark.parametrize("deployed", [False, True], ids=["uploaded", "deployed"])
def test_every_problem_of_an_invalid_spec_is_a_line_of_its_own(world: World, deployed: bool) -> None:
    bad = spec_doc()
    bad["resources"].update(max_jobs="many", max_parallel_jobs="two")
    with pytest.raises(SpecInvalid) as exc:
        if deployed:
            world.put_deployed(bad)
            world.call(prepare, {"study": "churn", "run_id": "run-1", "trigger": "schedule"})
        else:
            run(world, world.put_spec(bad))
    assert [line.split(": ")[:2] for line in str(exc.value).splitlines()] == [
        ["configs/churn.yaml", "resources.max_jobs"], ["configs/churn.yaml", "resources.max_parallel_jobs"]]


def test_every_problem_of_an_explicit_parent_is_a_line_of_its_own(world: World) -> None:
    parent = world.launch_round(world.put_spec(spec_doc(rounds={"max": 1})), "run-1")
    world.complete_round(parent, [0.9])
    doc = spec_doc(hyperparameters={"num_round": 100, "gamma": 1}, objective={"metric": "validation:auc",
                                                                               "goal": "minimize"},
                   warm_start={"type": "transfer_learning", "parents": [parent["job_name"]]})
    with pytest.raises(SpecInvalid) as exc:
        run(world, world.put_spec(doc, key="configs/churn-v2.yaml"), "run-2")
    head = f"configs/churn-v2.yaml: warm_start.parents: {parent['job_name']}: "
    assert [line.removeprefix(head).split(":")[0] for line in str(exc.value).splitlines()] == [
        "objective.goal", "hyperparameters"]
    assert all(line.startswith(head) for line in str(exc.value).splitlines())


def test_an_input_naming_a_deployed_study_without_a_key_names_the_study_in_its_errors(world: World) -> None:
    # The workflow's own inputs always carry the spec's key; a hand-started execution may name a deployed
    # study alone ({"source": {"study": ...}}), and its errors then name the study.
    parent = world.launch_round(world.put_spec(spec_doc(rounds={"max": 1})), "run-1")
    world.complete_round(parent, [0.9])
    world.put_deployed(spec_doc(hyperparameters={"num_round": 100, "gamma": 1},
                                warm_start={"type": "transfer_learning", "parents": [parent["job_name"]]}))
    with pytest.raises(SpecInvalid, match=rf"^churn: warm_start\.parents: {parent['job_name']}: hyperparameters: "):
        run(world, {"study": "churn"}, "run-2")
    world.put_deployed(spec_doc(promote={"model_package_group": "someone-elses"}))
    with pytest.raises(SpecInvalid, match=r"^churn: promote\.model_package_group: 'someone-elses' is not a group"):
        run(world, {"study": "churn"}, "run-3")


def test_a_throttled_spec_read_is_transient_and_names_the_object(world: World,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import client_error

    from amt_conductor.runtime.sagemaker_ops import Transient

    loc = world.put_spec(spec_doc())

    def slow_down(**kwargs: Any) -> Any:
        raise client_error("SlowDown", "Please reduce your request rate.", 503, "GetObject")

    monkeypatch.setattr(world.rt.s3, "get_object", slow_down)
    with pytest.raises(Transient) as exc:
        run(world, loc)
    assert str(exc.value) == "GetObject s3://amt-configs/configs/churn.yaml: SlowDown: Please reduce your request rate."


def test_the_study_record_keeps_the_specs_goal_and_schedule(world: World) -> None:
    # `amt best` reads the goal from the study's record.
    doc = spec_doc(objective={"metric": "validation:auc", "goal": "minimize"}, schedule="rate(7 days)")
    run(world, world.put_spec(doc))
    study = world.rt.registry.study("churn")
    assert (study["goal"], study["schedule"]) == ("minimize", "rate(7 days)")


def test_a_round_recorded_without_its_worst_case_hours_counts_as_none_spent(world: World) -> None:
    import boto3

    from amt_conductor.runtime.registry import round_key

    loc = world.put_spec(spec_doc(budget={"max_instance_hours": 4}))  # one round of 4 exactly
    world.launch_round(loc)
    # A round claimed by a release that did not record it: nothing known to count against the budget.
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(world.rt.settings.registry_table)
    table.update_item(Key=round_key("churn", 1), UpdateExpression="REMOVE worst_case_hours")
    out = world.call(prepare, {"study": "churn", "round": 2, "run_id": "run-1", "source": loc, "trigger": "s3"})
    assert (out["round"], out["spent_hours"]) == (2, 0)


def test_the_request_is_rendered_for_the_runtimes_region_role_and_artifacts_bucket(world: World) -> None:
    from amt_conductor.spec.render import render_request

    doc = spec_doc(algorithm={"builtin": "xgboost", "version": "1.7-1"})  # the image depends on the region
    out = run(world, world.put_spec(doc))
    expected = render_request(parse_spec(yaml.safe_dump(doc), "configs/churn.yaml"), region="us-east-1",
                              role_arn="arn:aws:iam::123456789012:role/amt-sagemaker", output_bucket="amt-artifacts")
    assert out["request"] == expected
    definition = out["request"]["TrainingJobDefinition"]
    assert ".us-east-1." in definition["AlgorithmSpecification"]["TrainingImage"]
    assert definition["OutputDataConfig"]["S3OutputPath"].startswith("s3://amt-artifacts/")
