"""Metrics checked before launch: examples read as SageMaker reads a log, logs scanned line by line, and
built-in algorithms' objectives against AWS's documented tunable metrics."""

from __future__ import annotations

import copy
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest
from spec_factory import DELETE, builtin_spec, custom_spec, errors_of, only_error, parse, setin

from amt_conductor.spec.images import algorithms, catalog_info, versions
from amt_conductor.spec.metrics import example_problem, log_lines, metric_warnings, scan
from amt_conductor.spec.model import MetricDefinition
from amt_conductor.spec.naming import job_name
from amt_conductor.spec.plan import make_plan

ROOT = Path(__file__).resolve().parents[2]
CATALOG = json.loads((ROOT / "src" / "amt_conductor" / "spec" / "data" / "builtin_metrics.json").read_text())
AWS_TABLES = Path(__file__).parent / "data" / "aws_tuning_metric_tables.txt"

# AWS's own example ("Define metrics and environment variables", custom algorithm): four regexes and the
# log line they are written for, with the values the page says they capture.
AWS_LINE = ("GAN_loss=0.138318;  Scaled_reg=2.654134; disc:[-0.017371,0.102429] real 93.3% gen 0.0% "
            "disc-combined=0.000000; disc_train_loss=1.374587;  Loss = 16.020744;  Iteration 0 took 0.704s;  "
            "Elapsed=0s")
AWS_METRICS = {"ganloss": ("GAN_loss=(.*?);", 0.138318), "disc-combined": ("disc-combined=(.*?);", 0.0),
               "discloss": ("disc_train_loss=(.*?);", 1.374587), "loss": ("Loss = (.*?);", 16.020744)}


def with_example(regex: str, example: str, name: str = "val:loss") -> dict[str, object]:
    return setin(custom_spec(), "algorithm.metrics", [{"name": name, "regex": regex, "example": example}])


# --- examples --------------------------------------------------------------------------------

def test_aws_documented_regexes_read_their_documented_values() -> None:
    metrics = [MetricDefinition(name=n, regex=r, example=AWS_LINE) for n, (r, _) in AWS_METRICS.items()]
    assert all(example_problem(m) is None for m in metrics)
    found = scan(metrics, [AWS_LINE])
    assert {s.name: s.values for s in found} == {n: [v] for n, (_, v) in AWS_METRICS.items()}


def test_a_matching_example_is_valid() -> None:
    parse(with_example("val_loss=([0-9.]+)", "epoch 3 train_loss=0.61 val_loss=0.512"))


def test_an_example_the_regex_does_not_match_is_an_error_naming_the_metric() -> None:
    doc = with_example("val_loss=([0-9.]+)", "epoch 3 validation loss 0.512")
    setin(doc, "algorithm.metrics", [{"name": "train:loss", "regex": "loss=([0-9.]+)"},
                                     *doc["algorithm"]["metrics"]])  # type: ignore[index]
    err = only_error(doc)
    assert err.path == "algorithm.metrics.1.regex"
    assert err.message.startswith("'val:loss' does not match its example 'epoch 3 validation loss 0.512'")


def test_a_group_that_captures_nothing_is_an_error() -> None:
    # The regex from aws/sagemaker-python-sdk#3932: a lazy group with nothing after it takes no characters.
    err = only_error(with_example("F1=(.*?)", "Validation F1=0.8731", name="val:loss"))
    assert err.path == "algorithm.metrics.0.regex"
    assert "captures nothing" in err.message


def test_an_optional_group_that_did_not_take_part_is_an_error() -> None:
    assert "captures nothing" in only_error(with_example(r"loss=(\d+)?x", "loss=x")).message


@pytest.mark.parametrize(("regex", "example", "captured"), [
    ("cat=(.*?);", "canary=1.01; cat=dog;", "'dog'"),  # aws/sagemaker-python-sdk#3208: no metric from text
    (r"val_loss=(\S+)", "val_loss=nan", "'nan'"),
    (r"loss: (\w+)", "loss: diverged", "'diverged'"),
])
def test_text_instead_of_a_number_is_an_error(regex: str, example: str, captured: str) -> None:
    err = only_error(with_example(regex, example))
    assert err.message == f"'val:loss' captures {captured} from its example, not a number"


def test_a_capture_that_cuts_a_number_short_is_an_error() -> None:
    # huggingface/notebooks#61: this regex reads 4.5 from a learning rate of 4.5e-05.
    regex = r"'learning_rate': ([0-9]+(.|e\-)[0-9]+),?"
    err = only_error(with_example(regex, "{'loss': 0.3412, 'learning_rate': 4.5e-05, 'epoch': 1.0}"))
    assert "captures '4.5' from its example but the number goes on ('4.5e-05')" in err.message


@pytest.mark.parametrize("value", ["0.5", "-1.25", "+3", "1e-05", "4.5E+10", ".5", "7.", " 0.5 "])
def test_numbers_sagemaker_reads(value: str) -> None:
    parse(with_example(r"loss=([^;]+);", f"step 9 loss={value};"))


def test_the_xgboost_containers_own_regex_reads_its_log_line() -> None:
    # aws/sagemaker-xgboost-container algorithm_mode/metrics.py; CloudWatch shows the tab as #011.
    regex = ".*\\[[0-9]+\\].*#011validation-auc:(\\S+)"
    parse(with_example(regex, "[12]#011train-auc:0.93114#011validation-auc:0.90211"))


def test_an_example_must_be_one_line() -> None:
    err = only_error(with_example("loss=([0-9.]+)", "epoch 1\nloss=0.5"))
    assert err.path == "algorithm.metrics.0.example"
    assert "one log line" in err.message


def test_examples_leave_existing_job_names_alone() -> None:
    # Job names hash the spec: a study that gives no example keeps the name it had before the field existed
    # (study-r1-17e4d1 is this spec's name on the commit before metrics[].example), so an upgrade relaunches nothing.
    assert job_name(parse(custom_spec()), 1) == "study-r1-17e4d1"
    assert job_name(parse(with_example("val_loss=([0-9.]+)", "val_loss=0.5")), 1) != "study-r1-17e4d1"


# --- logs ------------------------------------------------------------------------------------

METRICS = [MetricDefinition(name="val:loss", regex=r"val_loss=([0-9.]+)"),
           MetricDefinition(name="state", regex=r"state=(\w+)"),
           MetricDefinition(name="split", regex=r"loss:\s*([0-9.]+)")]


def test_scan_reads_each_line_on_its_own() -> None:
    log = ("epoch 1 val_loss=0.9\nno metrics here\nepoch 2 val_loss=0.7 (best val_loss=0.7)\n"
           "state=warmup\nstate=3\nloss:\n0.5\nepoch 3 val_loss=0.6\n")
    loss, state, split = scan(METRICS, log.splitlines())
    assert loss.values == [0.9, 0.7, 0.6]  # the first match of a line counts once
    assert (loss.first, loss.last) == (0.9, 0.6)
    assert state.values == [3.0] and state.not_numbers == ["warmup"]
    assert split.values == []  # a value on the next line is never read


def test_log_files_text_and_cloudwatch_json(tmp_path: Path) -> None:
    text = tmp_path / "train.log"
    text.write_bytes(b"epoch 1 val_loss=0.9\r\nepoch 2 val_loss=0.8\r\n")
    events = tmp_path / "events.json"
    events.write_text(json.dumps({"events": [{"timestamp": 1, "message": "epoch 3 val_loss=0.7"},
                                             {"timestamp": 2, "message": "a\nepoch 4 val_loss=0.6"}],
                                  "nextForwardToken": "f/1"}))
    assert list(log_lines(text)) == ["epoch 1 val_loss=0.9", "epoch 2 val_loss=0.8"]
    assert scan(METRICS[:1], [*log_lines(text), *log_lines(events)])[0].values == [0.9, 0.8, 0.7, 0.6]


def test_a_log_that_is_json_but_not_cloudwatch_is_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"val_loss=0.5": 1}\n')
    assert scan(METRICS[:1], log_lines(path))[0].values == [0.5]


# --- built-in algorithms ---------------------------------------------------------------------

def _aws_tables() -> dict[str, dict[str, str]]:
    tables: dict[str, dict[str, str]] = defaultdict(dict)
    for line in AWS_TABLES.read_text().splitlines():
        if line and not line.startswith("#"):
            page, metric, direction = line.split()
            tables[page][metric] = direction
    return tables


def test_catalog_transcribes_the_aws_tables() -> None:
    tables = _aws_tables()
    for name, entry in CATALOG["algorithms"].items():
        page = re.search(r"/([\w-]+)\.html$", entry["source"])
        assert page, entry["source"]
        assert entry["metrics"] == tables.pop(page[1]), name
    assert not tables, f"tables not in the catalog: {sorted(tables)}"


def test_catalog_covers_every_builtin_algorithm() -> None:
    frameworks = set(catalog_info()["frameworks"])
    sections = [set(CATALOG[k]) for k in ("algorithms", "no_tuning_metrics", "user_metrics")]
    assert sum(len(s) for s in sections) == len(set().union(*sections))  # no algorithm in two sections
    assert set().union(*sections) == set(algorithms()) - frameworks


def _builtin(name: str, metric: str, goal: str = "maximize") -> dict[str, object]:
    doc = builtin_spec()
    setin(doc, "objective", {"metric": metric, "goal": goal})
    setin(doc, "algorithm", {"builtin": name, "version": versions(name)[-1]})
    for channel in ("validation", "test"):
        setin(doc, f"data.{channel}", {"uri": f"s3://example-bucket/{channel}/"})
    return doc


def _misspell(metric: str) -> str:
    channel, name = metric.split(":", 1)
    return f"{channel}:{name[:-1]}" if len(name) > 3 else f"{channel}:{name}x"


@pytest.mark.parametrize("name", sorted(CATALOG["algorithms"]))
def test_each_builtin_accepts_its_metrics_and_corrects_a_misspelled_one(name: str) -> None:
    documented = CATALOG["algorithms"][name]["metrics"]
    for metric, direction in documented.items():
        parse(_builtin(name, metric, direction))
    metric = next(iter(documented))
    err = only_error(_builtin(name, _misspell(metric), documented[metric]))
    assert err.path == "objective.metric"
    assert f"did you mean {metric!r}?" in err.message
    assert CATALOG["algorithms"][name]["source"] in err.message


def test_a_metric_from_another_algorithm_is_refused() -> None:
    err = only_error(_builtin("kmeans", "validation:auc"))
    assert err.message.startswith("'validation:auc' is not a tunable metric of kmeans;")
    assert "test:msd, test:ssd" in err.message


def test_xgboost_accepts_the_metrics_its_container_registers() -> None:
    spec = parse(_builtin("xgboost", "validation:aucpr"))
    assert "registered by its container" in "\n".join(make_plan(spec).lines())


def test_a_goal_against_the_documented_direction_is_a_warning() -> None:
    spec = parse(_builtin("xgboost", "validation:rmse", "maximize"))
    assert metric_warnings(spec) == [
        "objective.goal: maximize validation:rmse, but AWS documents it as a metric to minimize "
        "(https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost-tuning.html)"]


def test_an_objective_on_a_missing_channel_is_a_warning() -> None:
    doc = setin(_builtin("kmeans", "test:msd", "minimize"), "data.test", DELETE)
    warnings = metric_warnings(parse(doc))
    assert len(warnings) == 1 and "on the 'test' channel, and data has none" in warnings[0]


def test_pca_cannot_be_tuned() -> None:
    doc = _builtin("pca", "test:loss", "minimize")
    assert [e.path for e in errors_of(doc)] == ["algorithm.builtin"]


def test_script_mode_objectives_are_the_scripts_not_the_algorithms() -> None:
    # xgboost with entry_point runs the user's script: its objective is a declared metric, not a built-in one.
    doc = _builtin("xgboost", "val:loss", "minimize")
    setin(doc, "algorithm.entry_point", "train.py")
    setin(doc, "algorithm.source", "s3://example-bucket/code/sourcedir.tar.gz")
    setin(doc, "algorithm.metrics", [{"name": "val:loss", "regex": "val_loss=([0-9.]+)", "example": "val_loss=0.3"}])
    assert metric_warnings(parse(doc)) == []
    sklearn = setin(copy.deepcopy(doc), "algorithm.builtin", "sklearn")
    setin(sklearn, "algorithm.version", versions("sklearn")[-1])
    parse(sklearn)


def test_an_unknown_builtin_is_reported_once() -> None:
    assert [e.path for e in errors_of(_builtin("xgboost", "val:oops"))] == ["objective.metric"]
    doc = setin(_builtin("xgboost", "val:oops"), "algorithm.builtin", "xgbost")
    assert [e.path for e in errors_of(doc)] == ["algorithm.builtin"]


# --- plan ------------------------------------------------------------------------------------

def test_plan_shows_each_regex_and_whether_it_was_checked() -> None:
    doc = with_example("val_loss=([0-9.]+)", "epoch 3 val_loss=0.5120")
    doc["algorithm"]["metrics"].append({"name": "train:loss", "regex": "train_loss=([0-9.]+)"})  # type: ignore[index]
    lines = make_plan(parse(doc)).lines()
    first = lines.index(next(line for line in lines if line.startswith("metrics")))
    assert lines[first].split()[1:4] == ["val:loss", "(objective)", "val_loss=([0-9.]+)"]
    assert lines[first].endswith("checked: reads 0.512 from 'epoch 3 val_loss=0.5120'")
    assert lines[first + 1].split()[:2] == ["train:loss", "train_loss=([0-9.]+)"]
    assert lines[first + 1].endswith("not checked (no example)")
