"""algorithm.source_dir: a folder becomes the same sourcedir.tar.gz every time, its digest names the jobs, and
rendering points the SDK's script-mode hyperparameters at the archive the stack ships."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from spec_factory import SOURCE, custom_spec, errors_of, setin, to_yaml

from amt_conductor.cli.main import main
from amt_conductor.spec.errors import SpecError
from amt_conductor.spec.loader import load_spec, parse_spec
from amt_conductor.spec.metrics import log_lines, scan
from amt_conductor.spec.naming import job_name
from amt_conductor.spec.plan import make_plan
from amt_conductor.spec.render import render_request
from amt_conductor.spec.scriptmode import CODE_CHANNEL_ARCHIVE, script_hyperparameters
from amt_conductor.spec.sourcedir import build_archive, deployable_spec, digest

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "configs" / "digits-pytorch.yaml"
ROLE = "arn:aws:iam::111122223333:role/tuner"


def code_folder(root: Path) -> Path:
    folder = root / "code"
    (folder / "lib").mkdir(parents=True)
    (folder / "train.py").write_text("print('epoch 1 val_loss=0.5')\n")
    (folder / "lib" / "model.py").write_text("WIDTH = 8\n")
    (folder / "run.sh").write_text("#!/bin/sh\npython train.py\n")
    (folder / "run.sh").chmod(0o755)
    return folder


def study(root: Path, *, network: dict[str, object] | None = None, **algorithm: object) -> Path:
    if not (root / "code").exists():
        code_folder(root)
    doc = custom_spec(**({"network": network} if network else {}))
    setin(doc, "algorithm", {"builtin": "pytorch", "version": "2.5", "py_version": "py311", "entry_point": "train.py",
                             "source_dir": "code", "metrics": doc["algorithm"]["metrics"], **algorithm})
    path = root / "study.yaml"
    path.write_text(to_yaml(doc))
    return path


# --- the archive -----------------------------------------------------------------------------

def test_the_same_files_give_the_same_archive(tmp_path: Path) -> None:
    folder = code_folder(tmp_path)
    first = build_archive(folder)
    copy = tmp_path / "elsewhere"
    shutil.copytree(folder, copy)  # new inodes, new mtimes
    os.utime(copy / "train.py", (1_000_000, 1_000_000))
    (copy / "__pycache__").mkdir()
    (copy / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"\x00bytecode")
    assert build_archive(copy) == first == build_archive(folder)


def test_a_changed_file_changes_the_archive(tmp_path: Path) -> None:
    folder = code_folder(tmp_path)
    before = digest(build_archive(folder))
    (folder / "lib" / "model.py").write_text("WIDTH = 16\n")
    assert digest(build_archive(folder)) != before
    (folder / "lib" / "model.py").write_text("WIDTH = 8\n")
    assert digest(build_archive(folder)) == before
    (folder / "extra.txt").write_text("")
    assert digest(build_archive(folder)) != before


def test_archive_layout_is_the_sdks(tmp_path: Path) -> None:
    archive = build_archive(code_folder(tmp_path))
    assert archive[4:8] == b"\x00\x00\x00\x00"  # gzip header mtime
    assert gzip.GzipFile(fileobj=io.BytesIO(archive)).name == ""
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        members = tar.getmembers()
        # The entry point sits at the archive's root, where the training toolkit looks for it.
        assert [m.name for m in members] == ["lib/model.py", "run.sh", "train.py"]
        assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
        assert {m.name: m.mode for m in members} == {"lib/model.py": 0o644, "run.sh": 0o755, "train.py": 0o644}
        extracted = tar.extractfile("train.py")
        assert extracted is not None and extracted.read() == b"print('epoch 1 val_loss=0.5')\n"


# --- the spec --------------------------------------------------------------------------------

def test_loading_writes_the_digest_and_a_changed_file_renames_the_jobs(tmp_path: Path) -> None:
    folder = code_folder(tmp_path)
    spec = load_spec(study(tmp_path))
    assert spec.algorithm.source_sha256 == digest(build_archive(folder))
    (folder / "train.py").write_text("print('epoch 1 val_loss=0.4')\n")
    changed = load_spec(study(tmp_path))
    assert job_name(changed, 1) != job_name(spec, 1)


def test_plan_names_the_code_and_its_digest(tmp_path: Path) -> None:
    spec = load_spec(study(tmp_path))
    assert spec.algorithm.source_sha256 is not None
    (line,) = [line for line in make_plan(spec).lines() if line.startswith("code")]
    sha = spec.algorithm.source_sha256[:12]
    assert line.split(maxsplit=1)[1] == f"train.py in code (sourcedir.tar.gz sha256 {sha}..., shipped by cdk deploy)"


def test_render_points_the_sdks_hyperparameters_at_the_shipped_archive(tmp_path: Path) -> None:
    spec = load_spec(study(tmp_path))
    uri = f"s3://artifacts/code/study/{spec.algorithm.source_sha256}/sourcedir.tar.gz"
    request = render_request(spec, region="eu-west-1", role_arn=ROLE, output_bucket="artifacts")
    static = request["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static == {"batch_size": "64", **script_hyperparameters("train.py", uri, "eu-west-1", isolated=False)}
    assert json.loads(static["sagemaker_submit_directory"]) == uri


def test_isolated_jobs_get_the_archive_as_the_code_channel(tmp_path: Path) -> None:
    spec = load_spec(study(tmp_path, network={"isolation": True}))
    definition = render_request(spec, region="us-east-1", role_arn=ROLE, output_bucket="a")["TrainingJobDefinition"]
    code = definition["InputDataConfig"][-1]
    assert code["ChannelName"] == "code"
    assert code["DataSource"]["S3DataSource"]["S3Uri"] == \
        f"s3://a/code/study/{spec.algorithm.source_sha256}/sourcedir.tar.gz"
    assert json.loads(definition["StaticHyperParameters"]["sagemaker_submit_directory"]) == CODE_CHANNEL_ARCHIVE


def test_the_deployed_form_names_the_same_jobs_without_the_folder(tmp_path: Path) -> None:
    path = study(tmp_path)
    deployed = parse_spec(deployable_spec(path), "configs/study.yaml")  # no folder at hand, as in Lambda
    assert job_name(deployed, 1) == job_name(load_spec(path), 1)
    assert deployable_spec(ROOT / "configs" / "churn-xgb.yaml") == (ROOT / "configs" / "churn-xgb.yaml").read_bytes()


@pytest.mark.parametrize(("change", "path", "part"), [
    ({"source_dir": "missing"}, "algorithm.source_dir", "no folder 'missing' next to the spec"),
    ({"entry_point": "nope.py"}, "algorithm.entry_point", "'nope.py' is not a file in source_dir 'code'"),
    ({"source": "s3://bucket/code/sourcedir.tar.gz"}, "algorithm.source_dir", "give one of source"),
    ({"source_dir": "/abs/code"}, "algorithm.source_dir", "a folder relative to the spec file"),
    ({"source_sha256": "0" * 64}, "algorithm.source_sha256", "does not match the archive of source_dir"),
])
def test_source_dir_problems(tmp_path: Path, change: dict[str, object], path: str, part: str) -> None:
    code_folder(tmp_path)
    with pytest.raises(SpecError) as info:
        load_spec(study(tmp_path, **change))
    assert [e.path for e in info.value.errors] == [path]
    assert part in info.value.errors[0].message


def test_a_spec_read_without_its_folder_is_refused() -> None:
    doc = custom_spec()
    setin(doc, "algorithm", {"builtin": "pytorch", "version": "2.5", "py_version": "py311", "entry_point": "train.py",
                             "source_dir": "code", "metrics": doc["algorithm"]["metrics"]})
    (err,) = errors_of(doc)
    assert err.path == "algorithm.source_dir" and "ships its code with cdk deploy" in err.format(SOURCE)


def test_submit_says_code_ships_with_cdk_deploy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code_folder(tmp_path)
    path = study(tmp_path)
    assert main(["submit", str(path), "--stack", "AmtConductor", "--region", "us-east-1"]) == 1
    assert capsys.readouterr().err.strip() == (f"{path}: algorithm.source_dir: code from a folder ships with "
                                               "`cdk deploy`: put the spec in configs/ and deploy; an uploaded spec "
                                               "names no folder")


# --- the example -----------------------------------------------------------------------------

def test_the_example_script_prints_what_its_regexes_read(tmp_path: Path) -> None:
    spec = load_spec(DIGITS)
    assert spec.algorithm.source_dir is not None and spec.algorithm.entry_point is not None
    script = (DIGITS.parent / spec.algorithm.source_dir / spec.algorithm.entry_point).resolve()
    out = subprocess.run([sys.executable, str(script), "--epochs", "3"], capture_output=True, text=True, check=True,
                         env={"PATH": os.environ.get("PATH", "")}).stdout
    log = tmp_path / "train.log"
    log.write_text(out)
    found = {s.name: s for s in scan(spec.algorithm.metrics, log_lines(log))}
    assert {name: len(s.values) for name, s in found.items()} == {m.name: 3 for m in spec.algorithm.metrics}
    assert found[spec.objective.metric].not_numbers == []
