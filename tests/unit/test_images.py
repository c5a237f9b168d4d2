"""Built-in images: the catalog agrees with the installed sagemaker SDK, is up to date, fails helpfully."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from amt_conductor.spec import images
from amt_conductor.spec.images import ImageError, check_builtin, resolve_image

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "src" / "amt_conductor" / "spec" / "data" / "image_catalog.json"
CPU_GPU = ("ml.m5.xlarge", "ml.p3.2xlarge")
# Framework images also differ by family: p4d gets a tag suffix on some versions, p2 is refused on others.
FRAMEWORK_INSTANCES = ("ml.c5.2xlarge", "ml.g5.xlarge", "ml.p4d.24xlarge", "ml.p2.xlarge")
SPREAD = 6


def _load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_image_catalog", ROOT / "scripts" / "build_image_catalog.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def builder() -> ModuleType:
    pytest.importorskip("sagemaker.core.image_uris")
    return _load_builder()


@pytest.fixture(scope="module")
def sdk(builder: ModuleType) -> Iterator[Any]:
    with builder.fast_sdk() as iu:
        yield iu


def _catalog() -> dict[str, Any]:
    catalog: dict[str, Any] = json.loads(CATALOG.read_text(encoding="utf-8"))
    return catalog


def _spread(regions: list[str], n: int) -> list[str]:
    """n regions evenly across the sorted list, always including both ends."""
    if len(regions) <= n:
        return regions
    return sorted({regions[round(i * (len(regions) - 1) / (n - 1))] for i in range(n)})


Case = tuple[str, str, str, "str | None", "str | None"]


def _bases(entry: dict[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    """(base framework as a spec may give it, its entry); Hugging Face versions have one per base."""
    if "by_base" not in entry:
        return [(None, entry)]
    given = [(b, entry["by_base"][b]) for b in entry["by_base"]]
    given += [(alias, entry["by_base"][full]) for alias, full in entry.get("base_aliases", {}).items()]
    return given


def _cases(name: str) -> Iterator[Case]:
    """(version, region, instance type, py_version, base framework) to compare, including ones both sides
    must refuse."""
    catalog = _catalog()
    algo = catalog["algorithms"][name]
    all_regions = sorted({r for accounts in catalog["registries"] for r in accounts})
    framework = algo["kind"] == "framework"
    for version in algo["known"]:
        for base, entry in _bases(algo["versions"][algo.get("aliases", {}).get(version, version)]):
            leaves = list(entry["by_py"].values()) if "by_py" in entry else [entry]
            pys: list[str | None] = [None, *sorted(entry.get("by_py", {})), *entry.get("py_versions", [])]
            if framework:
                pys.append("py99")
            for leaf in leaves:
                available = sorted(catalog["registries"][leaf["registry"]])
                regions = available if name == "xgboost" else _spread(available, SPREAD)
                missing = [*[r for r in all_regions if r not in available][:1], "xx-nowhere-1"]
                for py in pys:
                    for instance_type in CPU_GPU:
                        for region in regions + missing:
                            yield version, region, instance_type, py, base
                    for instance_type in FRAMEWORK_INSTANCES if framework else ():
                        yield version, available[0], instance_type, py, base
        if name == "huggingface":
            yield version, "us-east-1", "ml.g5.xlarge", None, "pytorch9.9"  # an unknown base: both refuse


def _sdk_outcome(sdk: Any, name: str, version: str, region: str, instance_type: str, py: str | None,
                 base: str | None) -> str:
    try:
        return str(sdk.retrieve(name, region, version, image_scope="training", instance_type=instance_type,
                                py_version=py, base_framework_version=base))
    except ValueError:
        return "refused"


def _our_outcome(name: str, version: str, region: str, instance_type: str, py: str | None, base: str | None) -> str:
    try:
        return resolve_image(name, version, region, instance_type=instance_type, py_version=py, base_framework=base)
    except ImageError:
        return "refused"


@pytest.mark.parametrize("name", images.algorithms())
def test_resolution_agrees_with_the_sdk(sdk: Any, name: str) -> None:
    cases = list(dict.fromkeys(_cases(name)))
    mismatches = []
    for case in cases:
        ours, theirs = _our_outcome(name, *case), _sdk_outcome(sdk, name, *case)
        if ours != theirs:
            mismatches.append(f"{name} {case}: ours {ours}, sdk {theirs}")
    assert not mismatches, f"{len(mismatches)} of {len(cases)} differ:\n" + "\n".join(mismatches[:10])
    assert any(not _our_outcome(name, *c).startswith("refused") for c in cases)


@pytest.mark.parametrize("name", images.algorithms())
def test_versions_are_the_sdks(sdk: Any, name: str) -> None:
    assert set(images.versions(name)) == set(sdk.list_versions(name, image_scope="training"))


def test_catalog_is_up_to_date(builder: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "image_catalog.json"
    assert builder.main(["--output", str(out)]) == 0
    fresh, committed = json.loads(out.read_text()), _catalog()
    assert fresh == committed, (
        f"src/amt_conductor/spec/data/image_catalog.json is stale (built from {committed['source']['package']} "
        f"{committed['source']['version']}, installed {fresh['source']['version']}); run `make catalog`"
    )


def test_catalog_is_compact_and_commercial_only() -> None:
    catalog = _catalog()
    assert CATALOG.stat().st_size < 200_000
    regions = {r for accounts in catalog["registries"] for r in accounts}
    assert not {r for r in regions if r.startswith(("cn-", "us-gov-", "us-iso", "eusc-", "eu-isoe-"))}
    assert {"cn-north-1", "us-gov-west-1"} <= set(catalog["other_partition_regions"])
    maps = [json.dumps(m, sort_keys=True) for m in catalog["registries"]]
    assert len(maps) == len(set(maps)), "each region -> account map is stored once"


def test_catalog_info_names_the_sdk() -> None:
    info = images.catalog_info()
    assert info["sdk_package"] == "sagemaker-core" and info["sdk_version"] == _catalog()["source"]["version"]
    assert info["algorithms"] == len(images.algorithms()) >= 20
    assert info["frameworks"] == ["huggingface", "mxnet", "pytorch", "tensorflow"]
    assert info["excluded"] == []


def test_known_image_without_the_sdk() -> None:
    assert resolve_image("xgboost", "1.7-1", "us-east-1") == (
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1")
    assert check_builtin("xgboost", "1.7-1") is None
    assert check_builtin("kmeans", None) is None  # a single version needs none


def test_unknown_algorithm_suggests_the_closest() -> None:
    problem = check_builtin("xgbost", "1.7-1")
    assert problem is not None and "did you mean 'xgboost'" in problem
    # rules.py routes a message mentioning "version" to algorithm.version; this one is about the name.
    assert "version" not in problem
    with pytest.raises(ImageError, match="did you mean 'linear-learner'"):
        resolve_image("linear_learner", "1", "us-east-1")


def test_hugging_face_needs_a_base_framework() -> None:
    with pytest.raises(ImageError, match=r"needs base_framework, one of pytorch2\.1"):
        resolve_image("huggingface", "4.36", "us-east-1", "ml.g5.xlarge", "py310")
    with pytest.raises(ImageError, match="only for huggingface"):
        resolve_image("pytorch", "2.1", "us-east-1", "ml.g5.xlarge", "py310", base_framework="pytorch2.1")


def test_unknown_version_lists_the_known_ones() -> None:
    # The expectation comes from the sagemaker SDK's own image config, not from our catalog: a catalog refresh
    # changes both sides alike, and a version the message leaves out (or invents) still fails the test.
    sdk = pytest.importorskip("sagemaker.core.image_uris")
    config = json.loads((Path(sdk.__file__).parent / "image_uri_config" / "xgboost.json").read_text())["training"]
    newest = max(config["versions"], key=_version_key)
    typo = f"{newest}x"
    problem = check_builtin("xgboost", typo)
    assert problem is not None
    head, _, known = problem.partition(" known: ")
    assert head == f"xgboost has no version {typo!r}; did you mean {newest!r}?"
    listed, _, aliases = known.removesuffix(")").partition(" (aliases: ")
    assert listed.split(", ") == sorted(config["versions"], key=_version_key)  # in version order, not as text
    assert set(aliases.split(", ")) == set(config["version_aliases"])
    assert check_builtin("kmeans", "2") is not None


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.replace("-", ".").split("."))


def test_version_required_when_several() -> None:
    problem = check_builtin("xgboost", None)
    assert problem is not None and problem.startswith("xgboost needs a version; known: 0.90-1")
    with pytest.raises(ImageError, match="needs a version"):
        resolve_image("pytorch", None, "us-east-1")


def test_unknown_region_lists_the_available_ones() -> None:
    with pytest.raises(ImageError, match=r"xgboost 1.7-1 is not available in region xx-1; available: af-south-1,"):
        resolve_image("xgboost", "1.7-1", "xx-1")
    with pytest.raises(ImageError, match="outside the commercial AWS partition"):
        resolve_image("xgboost", "1.7-1", "cn-north-1")


def test_framework_processor_follows_the_instance_family() -> None:
    cpu = resolve_image("pytorch", "2.1", "us-east-1", instance_type="ml.m5.xlarge")
    assert cpu == "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310"
    assert resolve_image("pytorch", "2.1", "us-east-1", instance_type="ml.g5.xlarge").endswith(":2.1-gpu-py310")
    assert resolve_image("pytorch", "2.1", "us-east-1", instance_type="ml.p4d.24xlarge").endswith(
        ":2.1-gpu-py310")
    with pytest.raises(ImageError, match=r"sklearn 1.2-1 has no gpu image .* cpu images only"):
        resolve_image("sklearn", "1.2-1", "us-east-1", instance_type="ml.p3.2xlarge")


def test_framework_py_version_required_when_several() -> None:
    with pytest.raises(ImageError, match=r"pytorch 1.8 needs py_version, one of py3, py36 \(none given\)"):
        resolve_image("pytorch", "1.8", "us-east-1")
    assert resolve_image("pytorch", "1.8", "us-east-1", py_version="py36").endswith(":1.8-cpu-py36")


@pytest.mark.parametrize(("instance_type", "reason"), [
    ("ml.trn1.32xlarge", "Trainium"),
    ("ml.inf2.xlarge", "Inferentia"),
    ("ml.c7g.xlarge", "Graviton"),
    ("m5.xlarge", "not a SageMaker instance type"),
])
def test_unsupported_instance_types(instance_type: str, reason: str) -> None:
    with pytest.raises(ImageError, match=reason):
        resolve_image("pytorch", "2.1", "us-east-1", instance_type=instance_type)


def test_imports_with_the_standard_library_only() -> None:
    code = (
        "import sys; sys.path.insert(0, 'src'); import amt_conductor.spec.images as m; "
        "assert m._catalog.cache_info().currsize == 0, 'catalog read at import'; "
        "print(m.resolve_image('xgboost', '1.7-1', 'eu-west-1')); "
        "assert not {'sagemaker', 'pydantic', 'yaml', 'boto3'} & set(sys.modules), 'non-stdlib import'"
    )
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == resolve_image("xgboost", "1.7-1", "eu-west-1")
