"""Reviews in pull requests: `amt plan/diff --format markdown`, the pre-commit hook and the example
GitHub Actions workflow, each checked by a tool nobody here wrote (markdown-it's GFM tables,
pre-commit's manifest validator, the GitHub workflow JSON Schema shipped with check-jsonschema)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt
from spec_factory import custom_spec, setin, to_yaml

from amt_conductor.cli.main import main
from amt_conductor.spec.loader import load_spec

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def tables(markdown: str) -> list[list[list[str]]]:
    """Every table a GFM renderer sees in `markdown`: rows of cell texts (header row first)."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    out: list[list[list[str]]] = []
    row: list[str] = []
    for tok in tokens:
        if tok.type == "table_open":
            out.append([])
        elif tok.type == "tr_open":
            row = []
        elif tok.type == "inline" and out and tok.map is not None and _in_cell(tokens, tok):
            row.append("".join(c.content for c in tok.children or []))
        elif tok.type == "tr_close":
            out[-1].append(row)
    return out


def _in_cell(tokens: list, tok: object) -> bool:
    i = tokens.index(tok)
    return i > 0 and tokens[i - 1].type in ("th_open", "td_open")


def row_of(table: list[list[str]], first: str) -> list[str]:
    rows = [r for r in table if r and r[0] == first]
    assert len(rows) == 1, f"no single row {first!r} in {table}"
    return rows[0]


def write(path: Path, doc: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_yaml(doc))
    return path


# --- plan ---------------------------------------------------------------------------------------

def test_plan_markdown_has_one_table_per_study_with_its_worst_case(capsys: pytest.CaptureFixture[str]) -> None:
    configs = sorted((ROOT / "configs").glob("*.y*ml"))
    code, out, _ = run(capsys, "plan", "--format", "markdown", str(ROOT / "configs"))
    assert code == 0
    found = tables(out)
    assert len(found) == len(configs)
    spec = load_spec(ROOT / "configs" / "churn-xgb.yaml")
    r = spec.resources
    hours = r.max_jobs * r.instance_count * r.max_runtime_per_job / 3600  # type: ignore[operator]
    churn = next(t for t in found if row_of(t, "first job name")[1].startswith("churn-xgb-r1-"))
    assert row_of(churn, "worst case per round")[1].startswith(f"{hours:g} instance-hours")
    assert row_of(churn, "strategy")[1] == "bayesian"


def test_plan_markdown_bad_spec_still_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path / "bad.yaml", setin(custom_spec(), "resources.max_jobs", 0))
    code, out, err = run(capsys, "plan", "--format", "markdown", str(bad))
    assert code == 1
    assert f"{bad}: resources.max_jobs: " in err
    assert out == ""  # no empty comment when nothing was valid


@pytest.mark.parametrize("expires", ["0", "-5", "soon"])
def test_report_link_lifetime_must_be_positive(capsys: pytest.CaptureFixture[str], expires: str) -> None:
    with pytest.raises(SystemExit) as info:
        main(["report", "churn-xgb", "--stack", "AmtConductor", "--expires", expires])
    assert info.value.code == 2
    assert "--expires" in capsys.readouterr().err


# --- diff ---------------------------------------------------------------------------------------

def test_diff_markdown_of_two_files_names_cost_verdict_and_request_fields(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = write(tmp_path / "old.yaml", custom_spec())
    doc = setin(custom_spec(), "resources.max_jobs", 20)
    setin(doc, "ranges.lr.max", 0.2)
    setin(doc, "ranges.opt.values", ["sgd", "a|b"])  # a pipe must not split a table cell
    new = write(tmp_path / "new.yaml", doc)
    code, out, _ = run(capsys, "diff", "--format", "markdown", str(old), str(new))
    assert code == 0
    summary, study, fields = tables(out)
    header, row = summary
    assert header == ["study", "change", "worst case per round", "warm start"]
    # custom_spec's study is named "study": 10, then 20 jobs x 1 instance x 1 h
    assert row[:3] == ["study", "changed", "10 → 20 instance-hours"]
    assert "accepted" in row[3]
    assert row_of(study, "worst case per round")[1:] == ["10 instance-hours", "20 instance-hours"]
    changed = {r[0]: r[1:] for r in fields[1:]}
    assert changed["HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs"] == ["10", "20"]
    assert changed["HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges.lr.MaxValue"] == [
        '"0.1"', '"0.2"']
    assert changed["HyperParameterTuningJobConfig.ParameterRanges.CategoricalParameterRanges.opt.Values"] == [
        '["sgd", "adam"]', '["sgd", "a|b"]']
    # only what changed: the round and study tags, the role and the unchanged ranges are not listed
    assert not any(k.startswith(("Tags", "TrainingJobDefinition.RoleArn")) for k in changed)
    assert not any(".depth." in k for k in changed)
    assert all(len(r) == 3 for r in fields)


def test_diff_markdown_of_folders_pairs_studies_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, head = tmp_path / "base", tmp_path / "head"
    write(base / "a.yaml", custom_spec(name="alpha"))
    write(base / "b.yaml", custom_spec(name="beta"))
    write(base / "same.yaml", custom_spec(name="same"))
    write(head / "renamed-file.yaml", custom_spec(name="alpha", hyperparameters={"batch_size": 64, "dropout": 0.2}))
    write(head / "c.yaml", custom_spec(name="gamma"))
    write(head / "same.yaml", custom_spec(name="same"))
    code, out, _ = run(capsys, "diff", "--format", "markdown", str(base), str(head))
    assert code == 1  # alpha's new version cannot warm-start from the old one
    summary = tables(out)[0]
    rows = {r[0]: r[1:] for r in summary[1:]}
    assert set(rows) == {"alpha", "beta", "gamma"}  # 'same' did not change
    assert rows["alpha"][0] == "changed" and "refused" in rows["alpha"][2]
    assert rows["beta"][0] == "removed"
    assert rows["gamma"][0] == "added"
    assert "hyperparameters: the set of static + tunable names must stay the same" in out


def test_diff_against_a_folder_with_no_spec_yet_lists_every_study_as_added(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "base").mkdir()
    write(tmp_path / "head" / "a.yaml", custom_spec(name="alpha"))
    code, out, _ = run(capsys, "diff", "--format", "markdown", str(tmp_path / "base"), str(tmp_path / "head"))
    assert code == 0
    assert {r[0]: r[1] for r in tables(out)[0][1:]} == {"alpha": "added"}


def test_diff_markdown_with_no_change_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write(tmp_path / "a" / "s.yaml", custom_spec())
    b = write(tmp_path / "b" / "s.yaml", custom_spec())
    code, out, _ = run(capsys, "diff", "--format", "markdown", str(a), str(b))
    assert code == 0
    assert "No study changes." in out
    assert tables(out) == []


def test_diff_reports_invalid_specs_on_both_sides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = write(tmp_path / "old.yaml", setin(custom_spec(), "resources.max_jobs", 0))
    new = write(tmp_path / "new.yaml", setin(custom_spec(), "resources.max_parallel_jobs", 0))
    code, _, err = run(capsys, "diff", "--format", "markdown", str(old), str(new))
    assert code == 1
    assert f"{old}: resources.max_jobs: " in err
    assert f"{new}: resources.max_parallel_jobs: " in err


def test_diff_text_of_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "base" / "a.yaml", custom_spec(name="alpha"))
    write(tmp_path / "head" / "a.yaml", setin(custom_spec(name="alpha"), "data.train.uri", "s3://example-bucket/v2/"))
    write(tmp_path / "head" / "g.yaml", custom_spec(name="gamma"))
    code, out, _ = run(capsys, "diff", str(tmp_path / "base"), str(tmp_path / "head"))
    assert code == 1  # new data needs transfer_learning
    assert f"{tmp_path / 'head' / 'a.yaml'}: data: changed" in out
    assert f"gamma: added ({tmp_path / 'head' / 'g.yaml'})" in out


# --- --version, pre-commit, GitHub Actions ------------------------------------------------------

def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"amt {version('amt-conductor')}"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(rf'^version = "{re.escape(version("amt-conductor"))}"$', pyproject, re.M)
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(r"^## ", changelog, re.M), "CHANGELOG.md has a section per release"


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        found = shutil.which(name)
        assert found, f"{name} is a dev dependency (pyproject [dev]) and must be installed"
        return found
    return str(path)


def test_pre_commit_manifest_is_valid_and_its_hook_validates_configs() -> None:
    manifest = ROOT / ".pre-commit-hooks.yaml"
    checked = subprocess.run([_tool("pre-commit"), "validate-manifest", str(manifest)], capture_output=True,
                             text=True, timeout=120, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    (hook,) = yaml.safe_load(manifest.read_text())
    files = [p for p in (ROOT / "configs").rglob("*")
             if p.is_file() and re.search(hook["files"], p.relative_to(ROOT).as_posix())]
    assert len(files) == len(list((ROOT / "configs").glob("*.y*ml")))
    argv = shlex.split(hook["entry"])
    assert argv[0] == "amt"
    ran = subprocess.run([_tool("amt"), *argv[1:], *map(str, files)], capture_output=True, text=True,
                         timeout=120, check=False, cwd=ROOT)
    assert ran.returncode == 0, ran.stderr


def test_pre_commit_validator_rejects_a_broken_manifest(tmp_path: Path) -> None:
    broken = tmp_path / ".pre-commit-hooks.yaml"
    broken.write_text("- id: amt-validate\n  entry: amt validate\n")  # no name, no language
    checked = subprocess.run([_tool("pre-commit"), "validate-manifest", str(broken)], capture_output=True,
                             text=True, timeout=120, check=False)
    assert checked.returncode != 0


@pytest.mark.parametrize("broken", [False, True])
def test_github_actions_example_matches_the_workflow_schema(tmp_path: Path, broken: bool) -> None:
    workflow = ROOT / "docs" / "examples" / "github-actions-review.yml"
    text = workflow.read_text()
    doc = yaml.safe_load(text)
    steps = "\n".join(s.get("run", "") for s in doc["jobs"]["review"]["steps"])
    for command in ("amt validate", "amt plan --format markdown", "amt diff --format markdown", "cdk diff"):
        assert command in steps
    assert doc[True]["pull_request"]["paths"] == ["configs/**"]  # YAML 1.1 reads `on` as true
    if broken:
        text = text.replace("runs-on: ubuntu-latest", "runs-on: [1, 2]\n    runs_on_typo: x")
    target = tmp_path / "wf.yml"
    target.write_text(text)
    checked = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                              str(target)], capture_output=True, text=True, timeout=120, check=False)
    assert (checked.returncode != 0) is broken, checked.stdout + checked.stderr
