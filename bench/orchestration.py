"""Orchestration cost per round: state transitions, Lambda invocations and SageMaker API calls for one
tuning round whose simulated job lasts 1 h and 24 h, for our event-driven workflow and for a 60 s
poll-loop baseline run through the same simulator on simulated time; and the SageMaker SDK's
`wait()` pattern, whose Describe calls follow from its 5 s interval. `ours_next_round`: what a second round
adds to a run (a two-round run less a one-round run)."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

from bench.common import ROOT, progress

DURATIONS_H = (1, 24)
POLL_INTERVAL_S = 60
SDK_WAIT_INTERVAL_S = 5  # sagemaker SDK: HyperparameterTuner.wait() describes the job every 5 s


def _one_round_spec(folder: Path) -> Path:
    """churn-xgb, one round per run (figures are per round), with runtimes that allow a day-long round:
    the workflow's wait timeout derives from them, and a 24 h job must not look lost."""
    import yaml

    doc = yaml.safe_load((ROOT / "configs" / "churn-xgb.yaml").read_text())
    doc["rounds"] = {"max": 1}
    doc["resources"].update(max_runtime_per_job="12h", max_tuning_runtime="2d")
    doc.pop("budget", None)
    doc.pop("promote", None)  # once per run, not per round: two transitions and one invocation at the end
    path = folder / "churn-xgb.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _figures(result: Any) -> dict[str, int]:
    return {"transitions": result.state_transitions, "lambda_invocations": result.lambda_invocations,
            "sagemaker_calls": result.sagemaker_calls}


def run() -> dict[str, Any]:
    from amt_conductor.cli.simulate import run_simulation
    from amt_conductor.cli.simulate.baseline import EVENT_TARGETS, poll_loop_definition, poll_loop_functions
    from amt_conductor.cli.simulate.template import synthesize

    progress("orchestration: synthesizing the app once")
    template = synthesize()
    out: dict[str, Any] = {"ours": {}, "poll_loop": {}, "sdk_wait": {}, "poll_interval_s": POLL_INTERVAL_S,
                           "sdk_wait_interval_s": SDK_WAIT_INTERVAL_S}
    with tempfile.TemporaryDirectory() as tmp:
        spec = _one_round_spec(Path(tmp))
        for hours in DURATIONS_H:
            key, seconds = f"{hours}h", hours * 3600
            progress(f"orchestration: our workflow, one round, {hours} h job")
            ours = run_simulation(spec, template=template, job_duration_s=seconds)
            if ours.status != "SUCCEEDED":
                raise RuntimeError(f"our workflow ended {ours.status}: {ours.error} {ours.cause}")
            out["ours"][key] = _figures(ours)
            if hours == DURATIONS_H[0]:
                progress("orchestration: our workflow, two rounds (the cost of a further round)")
                two = run_simulation(spec, template=template, job_duration_s=seconds, rounds=2)
                if two.status != "SUCCEEDED" or len(two.rounds) != 2:
                    raise RuntimeError(f"two rounds ended {two.status} after {len(two.rounds)}: {two.error}")
                out["ours_next_round"] = {k: v - out["ours"][key][k] for k, v in _figures(two).items()}
            progress(f"orchestration: poll loop ({POLL_INTERVAL_S} s), one round, {hours} h job"
                     + (" (minutes of wall time: the interpreter steps every state)" if hours > 1 else ""))
            poll = run_simulation(spec, template=template, job_duration_s=seconds,
                                  state_machine_definition=poll_loop_definition(POLL_INTERVAL_S),
                                  extra_functions=poll_loop_functions(), event_targets=EVENT_TARGETS,
                                  wall_timeout_s=1800)
            if poll.status != "SUCCEEDED":
                raise RuntimeError(f"the poll loop ended {poll.status}: {poll.error} {poll.cause}")
            out["poll_loop"][key] = _figures(poll)
            # One Describe per interval until the job ends, plus the one that sees it ended.
            out["sdk_wait"][key] = {"sagemaker_calls": math.ceil(seconds / SDK_WAIT_INTERVAL_S) + 1}
    return out
