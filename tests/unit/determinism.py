"""Outputs that must not depend on the process that computes them, and a way to compute them in another one.

A value recomputed in the same process cannot show the nondeterminism that matters here: iteration over a
set of strings, `hash()`, anything keyed on PYTHONHASHSEED changes only between processes (a retried Lambda,
the CLI beside the handler). So `digests()` runs here and in subprocesses with other hash seeds, and the
tests compare the digests. The inputs are chosen to expose ordering: many names, and values whose set order
differs from their listed order.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NAMES = [f"h{c}{i}" for c in "zyxwvu" for i in range(4)]


def _spec_doc() -> dict[str, Any]:
    from spec_factory import custom_spec

    doc = custom_spec(tags={n: "v" for n in NAMES[:8]}, environment={n.upper(): "1" for n in NAMES[:6]})
    doc["hyperparameters"] = {n: i for i, n in enumerate(NAMES[8:])}
    doc["ranges"]["opt"]["values"] = ["sgd", "adam", "rmsprop", "adagrad", "nadam", "ftrl", "lbfgs"]
    return doc


def request_json() -> str:
    from spec_factory import parse

    from amt_conductor.spec.render import render_request

    request = render_request(parse(_spec_doc()), region="us-east-1", role_arn="arn:aws:iam::123456789012:role/r",
                             output_bucket="b", round_no=2, parents=["p-r1-abcdef", "p-r2-abcdef"])
    return json.dumps(request)  # key order as rendered: it is what boto3 serializes


def report_files() -> str:
    from amt_conductor.runtime.reports import build_report, render_all

    desc = {"name": "churn-r1-abc123", "status": "Completed", "objective": {"metric": "auc", "type": "Maximize"},
            "parents": [], "consumed_seconds": 3723, "training_job_counters": {"Completed": 6},
            "objective_counters": {"Succeeded": 6}, "static_hyperparameters": {"num_round": "100"},
            "instance_count": 1, "best_training_job": None}
    jobs = [{"name": f"j-{i:03d}", "tuning_job": "j", "status": "Completed", "objective": 0.5 + i / 100,
             "created": f"2026-01-01T00:{i:02d}:00", "billable_seconds": 600,
             "hyperparameters": {n: str(i) for n in NAMES[i % 3::3]}} for i in range(6)]
    report = build_report(study="churn", round_no=1, run_id="r", goal="maximize", desc=desc, jobs=jobs,
                          parent_jobs=[])
    files = render_all(report, study_best={"objective": 0.9, "round": 1})
    return json.dumps({name: body.decode() for name, (body, _) in sorted(files.items())})


def execution_names() -> str:
    from amt_conductor.spec.naming import execution_name

    return json.dumps([execution_name(study, token) for study in ("churn", "fraud-random")
                       for token in ("schedule:2026-11-23T10:00Z", "amt-configs/configs/churn.yaml@v1", "")])


def digests() -> dict[str, str]:
    outputs = {"request_json": request_json(), "report_files": report_files(), "execution_names": execution_names()}
    return {k: hashlib.sha256(v.encode()).hexdigest() for k, v in outputs.items()}


def digests_in_subprocess(hash_seed: int) -> dict[str, str]:
    """`digests()` computed by a fresh interpreter with PYTHONHASHSEED=`hash_seed`."""
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed),
           "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT / "src"), str(ROOT)])}
    code = "import json, determinism; print(json.dumps(determinism.digests()))"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=HERE, capture_output=True, text=True,
                         check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))
