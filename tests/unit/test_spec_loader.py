"""Bad input never ends in a traceback: each case is one line naming the file, and exit 1 from `amt`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spec_factory import custom_spec, errors_of, to_yaml

from amt_conductor.cli.main import main
from amt_conductor.spec.errors import SpecError
from amt_conductor.spec.loader import MAX_SPEC_BYTES, load_spec, load_specs

VALID = to_yaml(custom_spec())


def cli_errors(capsys: pytest.CaptureFixture[str], *paths: Path) -> list[str]:
    """Run `amt validate` and return the error lines; asserts exit 1 and no traceback."""
    code = main(["validate", *map(str, paths)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in out + err
    return [line for line in err.splitlines() if not line.endswith("spec(s) valid")]


def one_error(capsys: pytest.CaptureFixture[str], path: Path) -> str:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    [line] = info.value.lines()
    assert cli_errors(capsys, path) == [line]
    assert line.startswith(f"{path}: ")
    return line


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


def test_valid_yaml_file(tmp_path: Path) -> None:
    assert load_spec(write(tmp_path, "s.yaml", VALID)).name == "study"


def test_malformed_yaml_names_line_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = VALID.replace("  max_jobs: 10\n", "  max_jobs: [10\n")
    line = one_error(capsys, write(tmp_path, "s.yaml", text))
    assert "invalid YAML at line " in line and ", column " in line


def test_malformed_yaml_line_is_the_bad_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_error(capsys, write(tmp_path, "s.yaml", "name: a\nobjective: b: c\n"))
    assert "line 2, column 13" in line


def test_tab_indentation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "invalid YAML" in one_error(capsys, write(tmp_path, "s.yaml", "name: a\n\tstrategy: grid\n"))


def test_wrong_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = VALID.replace("  max_jobs: 10\n", "  max_jobs: many\n")
    line = one_error(capsys, write(tmp_path, "s.yaml", text))
    assert line.startswith(f"{tmp_path / 's.yaml'}: resources.max_jobs: ")
    assert "'many'" in line


def test_wrong_type_for_a_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = VALID.split("resources:")[0] + "resources: 4\n"
    line = one_error(capsys, write(tmp_path, "s.yaml", text))
    assert ": resources: " in line


@pytest.mark.parametrize("content", ["", "   \n\n", "# only a comment\n", "---\n", "~\n"])
def test_empty_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str) -> None:
    assert "empty" in one_error(capsys, write(tmp_path, "s.yaml", content))


@pytest.mark.parametrize(("content", "kind"), [("- a\n- b\n", "a list"), ("hello\n", "a string"),
                                                ("42\n", "a number")])
def test_top_level_not_a_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str,
                                 kind: str) -> None:
    line = one_error(capsys, write(tmp_path, "s.yaml", content))
    assert "mapping" in line and kind in line


def test_folder_with_no_specs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("not a spec")
    [line] = cli_errors(capsys, tmp_path)
    assert line.startswith(f"{tmp_path}: ")
    assert "no spec files" in line


def test_binary_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = bytes(range(256)) * 4
    assert "binary" in one_error(capsys, write(tmp_path, "s.yaml", data))


def test_ten_megabyte_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = write(tmp_path, "big.yaml", b"a: b\n" * (10 * 1024 * 1024 // 5))
    line = one_error(capsys, p)
    assert f"{p.stat().st_size:,} bytes" in line
    assert f"{MAX_SPEC_BYTES:,}" in line


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_endless_device_is_read_bounded(capsys: pytest.CaptureFixture[str]) -> None:
    # A device reports size 0 and never ends: reading must stop at the limit.
    [line] = cli_errors(capsys, Path("/dev/zero"))
    assert line.startswith("/dev/zero: more than ")


def test_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = VALID.replace("name: study", "name: st\xfcdy").encode("latin-1")
    line = one_error(capsys, write(tmp_path, "s.yaml", data))
    assert "UTF-8" in line


def test_utf8_bom_is_fine(tmp_path: Path) -> None:
    assert load_spec(write(tmp_path, "s.yaml", b"\xef\xbb\xbf" + VALID.encode())).name == "study"


def test_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.yaml"
    [line] = cli_errors(capsys, missing)
    assert line == f"{missing}: no such file or folder"
    with pytest.raises(SpecError) as info:
        load_spec(missing)
    assert info.value.lines()[0].startswith(f"{missing}: cannot read")


def test_json_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = write(tmp_path, "s.json", json.dumps(custom_spec(), indent=2))
    assert load_spec(p).name == "study"
    assert main(["validate", str(p)]) == 0
    assert f"{p}: ok" in capsys.readouterr().out


def test_malformed_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = json.dumps(custom_spec(), indent=2)[:-3]
    line = one_error(capsys, write(tmp_path, "s.json", text))
    assert "invalid JSON at line" in line and "column" in line


def test_json_duplicate_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = json.dumps(custom_spec()).replace('"max_jobs": 10', '"max_jobs": 10, "max_jobs": 20')
    line = one_error(capsys, write(tmp_path, "s.json", text))
    assert ": resources.max_jobs: written twice" in line


def test_json_wrong_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = custom_spec()
    doc["ranges"]["depth"]["min"] = 2.5
    line = one_error(capsys, write(tmp_path, "s.json", json.dumps(doc)))
    assert ": ranges.depth.min: " in line


def test_yaml_file_written_as_json_is_read(tmp_path: Path) -> None:
    assert load_spec(write(tmp_path, "s.yaml", json.dumps(custom_spec()))).name == "study"


@pytest.mark.parametrize("text", ["a: " + "[" * 1000 + "]" * 1000, '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}",
                                  "a: !!int abc\n", "{a: 1}: 2\n", "a: !!timestamp x\n"])
@pytest.mark.parametrize("suffix", ["yaml", "json"])
def test_pathological_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, suffix: str) -> None:
    one_error(capsys, write(tmp_path, f"s.{suffix}", text))


def test_same_study_name_twice_in_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = write(tmp_path, "a.yaml", VALID), write(tmp_path, "b.yaml", VALID)
    good, bad = load_specs([tmp_path])
    assert [p for p, _ in good] == [first]
    [err] = bad
    [line] = err.lines()
    assert line.startswith(f"{second}: name: ")
    assert "'study'" in line and str(first) in line
    assert cli_errors(capsys, tmp_path) == [line]


def test_one_bad_file_does_not_hide_the_others(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "a.yaml", VALID)
    bad = write(tmp_path, "b.yaml", "- nope\n")
    write(tmp_path, "c.yml", VALID.replace("name: study", "name: other"))
    good, errors = load_specs([tmp_path])
    assert sorted(s.name for _, s in good) == ["other", "study"]
    assert [e.source for e in errors] == [str(bad)]


def test_folders_are_searched_recursively_for_spec_suffixes(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "x.YAML", VALID)
    write(tmp_path, "README.md", "# not a spec")
    good, bad = load_specs([tmp_path])
    assert (len(good), bad) == (1, [])


def test_a_typo_does_not_hide_the_other_problems_of_the_file() -> None:
    # The typo'd key is read as the field it probably meant, so the cross-field rules still run; the
    # "required" line the typo itself causes is not repeated.
    doc = custom_spec(budget={"max_instance_hours": 1})
    doc["resources"]["max_paralel_jobs"] = doc["resources"].pop("max_parallel_jobs")
    doc["ranges"]["lr"]["min"] = 0  # log scaling needs > 0
    errors = errors_of(doc)
    assert [e.path for e in errors] == ["resources.max_paralel_jobs", "ranges.lr.min", "budget.max_instance_hours"]
    assert "did you mean 'max_parallel_jobs'" in errors[0].message


def test_a_wrong_type_is_reported_on_its_own_before_the_rules() -> None:
    doc = custom_spec()
    doc["resources"]["max_jobs"] = "many"
    doc["ranges"]["lr"]["min"] = 0
    assert [e.path for e in errors_of(doc)] == ["resources.max_jobs"]


def test_a_typo_inside_a_range_is_read_as_meant_for_the_rules() -> None:
    doc = custom_spec()
    doc["ranges"]["lr"]["scale"] = doc["ranges"]["lr"].pop("scaling")  # log
    doc["ranges"]["lr"]["min"] = 0
    assert [(e.path, e.message) for e in errors_of(doc)] == [
        ("ranges.lr.scale", "unknown field (did you mean 'scaling'?)"),
        ("ranges.lr.min", "must be > 0 for log scaling (got 0.0)"),
    ]
