"""The `amt` CLI: exit codes 0 / 1 / 2, one `FILE: field.path: message` line per error, and each
command's output as its users read it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from spec_factory import custom_spec, setin, to_yaml

from amt_conductor.cli.main import main
from amt_conductor.spec.loader import load_spec
from amt_conductor.spec.render import render_request
from amt_conductor.spec.yamlsafe import SpecLoader

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs").glob("*.y*ml"))
ROLE = "arn:aws:iam::111122223333:role/tuner"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    assert info.value.code == 2
    return capsys.readouterr().err


def write(tmp_path: Path, doc: dict[str, object], name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(to_yaml(doc))
    return path


# --- validate -------------------------------------------------------------------------------

def test_validate_examples_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "validate", str(ROOT / "configs"))
    assert code == 0
    assert [line.split(":")[0] for line in out.splitlines()] == [str(p) for p in CONFIGS]
    assert all(": ok (" in line for line in out.splitlines())
    assert f"{len(CONFIGS)} of {len(CONFIGS)}" in err


def test_validate_one_line_per_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = custom_spec(hyperparameters={"lr": 0.1}, spot={"max_wait": "2h"})
    path = write(tmp_path, setin(doc, "resources.max_parallel_jobs", 20))
    code, out, err = run(capsys, "validate", str(path))
    assert code == 1
    lines = [line for line in err.splitlines() if line.startswith(str(path))]
    assert len(lines) == 3
    for line in lines:
        assert re.fullmatch(rf"{re.escape(str(path))}: [A-Za-z0-9_.:\-]+: \S.*", line), line
    assert {line.split(": ")[1] for line in lines} == {"hyperparameters.lr", "spot.max_wait",
                                                      "resources.max_parallel_jobs"}
    assert out == ""


def test_validate_mixed_files_reports_bad_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, custom_spec(name="bad", strategy="genetic"), "bad.yaml")
    code, out, err = run(capsys, "validate", str(CONFIGS[0]), str(bad))
    assert code == 1
    assert out.startswith(f"{CONFIGS[0]}: ok")
    assert f"{bad}: strategy: " in err
    assert "1 of 2" in err


@pytest.mark.parametrize("argv", [[], ["validate"], ["frobnicate"], ["validate", "--nope", "x"],
                                  ["render"], ["diff", "one"]])
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert "usage:" in usage_error(capsys, *argv)


# --- render ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_render_prints_the_request(capsys: pytest.CaptureFixture[str], path: Path) -> None:
    code, out, _ = run(capsys, "render", str(path), "--region", "eu-west-1", "--role-arn", ROLE,
                       "--output-bucket", "my-bucket")
    assert code == 0
    expected = render_request(load_spec(path), region="eu-west-1", role_arn=ROLE, output_bucket="my-bucket")
    assert json.loads(out) == expected


def test_render_round_and_parents(capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "configs" / "churn-xgb.yaml"
    role, bucket = "arn:aws:iam::210987654321:role/tuning-runs", "team-ml-artifacts"
    code, out, _ = run(capsys, "render", str(path), "--region", "us-west-2", "--round", "2",
                       "--parents", "churn-xgb-r1-aaaaaa, churn-xgb-r0-bbbbbb", "--role-arn", role,
                       "--output-bucket", bucket)
    assert code == 0
    request = json.loads(out)
    parents = ["churn-xgb-r1-aaaaaa", "churn-xgb-r0-bbbbbb"]
    assert request == render_request(load_spec(path), region="us-west-2", round_no=2, parents=parents,
                                     role_arn=role, output_bucket=bucket)
    assert request["TrainingJobDefinition"]["RoleArn"] == role
    assert request["HyperParameterTuningJobName"].startswith("churn-xgb-r2-")


def test_render_placeholder_note_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "render", str(CONFIGS[0]), "--region", "us-east-1")
    assert code == 0
    json.loads(out)
    assert "placeholder" in err


@pytest.mark.parametrize("value", ["0", "-1"])
def test_render_round_below_one_is_a_usage_error(capsys: pytest.CaptureFixture[str], value: str) -> None:
    assert "--round" in usage_error(capsys, "render", str(CONFIGS[0]), "--round", value)


def test_render_invalid_spec_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, custom_spec(ranges={}))
    code, out, err = run(capsys, "render", str(path))
    assert (code, out) == (1, "")
    assert err.strip() == f"{path}: ranges: at least one hyperparameter range is needed to tune (or autotune: true)"


def test_render_unknown_region_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "render", str(ROOT / "configs" / "churn-xgb.yaml"), "--region", "xx-nowhere-1")
    assert (code, out) == (1, "")
    [line] = [x for x in err.splitlines() if not x.startswith("note:")]
    assert line.startswith(f"{ROOT / 'configs' / 'churn-xgb.yaml'}: algorithm: ")


# --- plan -----------------------------------------------------------------------------------

def test_plan_shows_job_name_and_worst_case(capsys: pytest.CaptureFixture[str]) -> None:
    from amt_conductor.spec.naming import job_name

    path = ROOT / "configs" / "churn-xgb.yaml"
    code, out, _ = run(capsys, "plan", str(path))
    assert code == 0
    assert job_name(load_spec(path), 1) in out
    assert re.search(r"worst case, billed\s+20 instance-hours", out)  # 20 jobs x 1 instance x 1h
    assert re.search(r"worst case, wall clock\s+10h per round, 1h per job", out)  # 10 waves of 2


def test_plan_warns_about_bayesian_parallelism(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, setin(custom_spec(), "resources.max_parallel_jobs", 8))
    code, out, _ = run(capsys, "plan", str(path))
    assert code == 0
    assert re.search(r"^warning: max_parallel_jobs 8 .*Bayesian", out, re.M)


def test_plan_bad_spec_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    code, out, err = run(capsys, "plan", str(CONFIGS[0]), str(bad))
    assert code == 1
    assert f"== {CONFIGS[0]}" in out
    assert err.strip() == f"{bad}: expected a mapping of fields, got a list"


# --- schema ---------------------------------------------------------------------------------

def test_schema_validates_the_examples(capsys: pytest.CaptureFixture[str]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    code, out, _ = run(capsys, "schema")
    assert code == 0
    schema = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert {"name", "objective", "strategy", "data", "resources"} <= set(schema["required"])
    # algorithm and ranges, unless a multi-algorithm spec's `algorithms` replaces them
    assert not {"algorithm", "ranges"} & set(schema["required"])
    assert schema["anyOf"] == [{"required": ["algorithm", "ranges"]}, {"required": ["algorithms"]}]
    validator = jsonschema.Draft202012Validator(schema)
    for path in CONFIGS:
        doc = yaml.load(path.read_text(), Loader=SpecLoader)
        assert [e.message for e in validator.iter_errors(doc)] == [], path
        for key in [*schema["required"], "algorithm", "ranges"]:
            assert not validator.is_valid({k: v for k, v in doc.items() if k != key}), (path, key)
    assert not validator.is_valid({**doc, "nmae": "x"})


# --- diff -----------------------------------------------------------------------------------

def test_diff_compatible_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    parent, child = ROOT / "configs" / "churn-xgb.yaml", ROOT / "configs" / "churn-xgb-transfer.yaml"
    code, out, _ = run(capsys, "diff", str(parent), str(child))
    assert code == 0
    assert "verdict: compatible" in out
    assert "data.train.uri: " in out


def test_diff_incompatible_exit_1_names_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parent = write(tmp_path, custom_spec(), "parent.yaml")
    child = write(tmp_path, custom_spec(hyperparameters={"batch_size": 64, "dropout": 0.2}), "child.yaml")
    code, out, _ = run(capsys, "diff", str(parent), str(child))
    assert code == 1
    assert f"{child}: hyperparameters: " in out
    assert "added dropout" in out


def test_diff_type_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parent = write(tmp_path, custom_spec(), "parent.yaml")
    child = write(tmp_path, setin(custom_spec(), "data.train.uri", "s3://example-bucket/v2/"), "child.yaml")
    assert run(capsys, "diff", str(parent), str(child))[0] == 1
    assert run(capsys, "diff", str(parent), str(child), "--type", "transfer_learning")[0] == 0


def test_diff_bad_spec_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.yaml"
    code, _, err = run(capsys, "diff", str(CONFIGS[0]), str(missing))
    assert code == 1
    assert err.strip().startswith(f"{missing}: ")


# --- the console script ---------------------------------------------------------------------

def test_console_script(tmp_path: Path) -> None:
    amt = Path(sys.executable).parent / "amt"
    if not amt.exists():
        pytest.skip("the amt console script is not installed in this environment")
    ok = subprocess.run([str(amt), "validate", str(ROOT / "configs")], capture_output=True, text=True,
                        timeout=60, check=False)
    assert ok.returncode == 0, ok.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\x00\x01binary")
    failed = subprocess.run([str(amt), "validate", str(bad)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    assert failed.stderr.splitlines()[0] == f"{bad}: binary file: a spec is YAML or JSON text"


@pytest.mark.parametrize(("flag", "value"), [
    ("--role-arn", "notarn"), ("--role-arn", "arn:aws:iam::123:role/x"), ("--output-bucket", "Bad_Bucket!"),
    ("--output-bucket", "a"), ("--region", "mars"), ("--parents", "a,b,c,d,e,f"), ("--parents", "a_b"),
])
def test_render_refuses_arguments_sagemaker_would_reject(capsys: pytest.CaptureFixture[str], flag: str,
                                                         value: str) -> None:
    err = usage_error(capsys, "render", str(ROOT / "configs" / "churn-xgb.yaml"), flag, value)
    assert f"argument {flag}:" in err


def test_rendered_request_with_given_arguments_passes_botocore(capsys: pytest.CaptureFixture[str]) -> None:
    import botocore.session
    from botocore.validate import ParamValidator

    code, out, _ = run(capsys, "render", str(ROOT / "configs" / "churn-xgb.yaml"), "--region", "ap-southeast-2",
                       "--role-arn", "arn:aws:iam::111122223333:role/team/amt-exec", "--output-bucket", "my.bucket-1",
                       "--round", "3", "--parents", "churn-xgb-r1-abcdef,churn-xgb-r2-abcdef")
    assert code == 0
    request = json.loads(out)
    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model(
        "CreateHyperParameterTuningJob").input_shape
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()
    assert ".ap-southeast-2." in request["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"]
