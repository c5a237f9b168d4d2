"""Training images of built-in algorithms and frameworks, resolved offline (stdlib only, Lambda-safe).

The data is `data/image_catalog.json`, derived from the sagemaker SDK's image URI config by
`scripts/build_image_catalog.py` (`make catalog`); resolution matches
`sagemaker.core.image_uris.retrieve(name, region, version, image_scope="training", instance_type=...,
py_version=...)`, which tests/unit/test_images.py checks against the installed SDK.

Covered: SageMaker's first-party algorithms (xgboost, linear-learner, kmeans, ..., sklearn) and the
pytorch, tensorflow and mxnet framework images (cpu/gpu from the instance family: ml.p*/ml.g* are gpu).
Left out, each with a clear error:
- huggingface: its images are keyed by transformers release *and* base framework (pytorch2.1.0), a
  coordinate that a builtin/version pair cannot carry; use a custom image URI.
- Inferentia/Trainium (ml.inf*, ml.trn*: neuron images) and Graviton (arm64) instance families.
- regions outside the commercial `aws` partition (China, GovCloud, ISO, European Sovereign Cloud).
Deliberately stricter than the SDK: a version is required whenever an algorithm has several (the SDK
would pick xgboost's legacy "1" image), and a version a single-version algorithm does not have is an
error rather than ignored.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from typing import Any

_INSTANCE = re.compile(r"^ml\.([a-z0-9-]+)\.\w+$")
_ARM64 = re.compile(r"^[a-z]+\d+g[a-z]*$")  # Graviton families: m6g, c7gn, r6gd, x2gd, g5g ...
_URI = "{account}.dkr.ecr.{region}.{domain}/{repository}:{tag}"


class ImageError(ValueError):
    """A built-in algorithm, version, region or instance type with no training image; says what would work."""


@functools.cache
def _catalog() -> dict[str, Any]:
    from importlib import resources  # ~10 ms; only paid by the first resolution, not by the import

    data = resources.files(__package__ or "amt").joinpath("data").joinpath("image_catalog.json")
    catalog: dict[str, Any] = json.loads(data.read_text(encoding="utf-8"))
    return catalog


def _algorithm(name: str) -> dict[str, Any]:
    catalog = _catalog()
    algos: dict[str, Any] = catalog["algorithms"]
    if name in algos:
        return dict(algos[name])
    if name in catalog["excluded"]:
        raise ImageError(f"{name} is not supported as a builtin: {catalog['excluded'][name]}")
    close = difflib.get_close_matches(name.lower(), list(algos) + list(catalog["excluded"]), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ImageError(f"unknown built-in algorithm {name!r}; {hint}known: {', '.join(sorted(algos))}")


def _known_versions(algo: dict[str, Any]) -> str:
    concrete = [v for v in algo["known"] if v in algo["versions"]]
    aliases = [v for v in algo["known"] if v not in algo["versions"]]
    return ", ".join(concrete) + (f" (aliases: {', '.join(aliases)})" if aliases else "")


def _version(name: str, algo: dict[str, Any], version: str | None) -> str:
    """The requested version (an alias stays an alias: the SDK tags images with it)."""
    if version is None:
        if len(algo["versions"]) == 1:
            return next(iter(algo["versions"]))
        raise ImageError(f"{name} needs a version; known: {_known_versions(algo)}")
    if version in algo["versions"] or version in algo.get("aliases", {}):
        return version
    close = difflib.get_close_matches(version, algo["known"], n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ImageError(f"{name} has no version {version!r}; {hint}known: {_known_versions(algo)}")


def _family(instance_type: str) -> str:
    match = _INSTANCE.match(instance_type)
    if not match:
        raise ImageError(f"{instance_type!r} is not a SageMaker instance type like 'ml.m5.xlarge'")
    family = match[1]
    if family.startswith(("inf", "trn")):
        raise ImageError(f"{instance_type}: Inferentia/Trainium (neuron) images are not supported; "
                         "use a custom image or a cpu/gpu instance type")
    if _ARM64.match(family):
        raise ImageError(f"{instance_type}: Graviton (arm64) instances have no training image here; "
                         "use an x86 instance type such as ml.m5.xlarge")
    return family


def _processor(family: str, processors: list[str] | None) -> str | None:
    if not processors:
        return None  # one image for every instance type
    if family in processors:
        return family
    return "gpu" if family[0] in ("g", "p") else "cpu"


def _py_version(label: str, available: list[str], py_version: str | None) -> str | None:
    if not available:
        return None  # the image has no Python version in its tag; a given one is ignored, as by the SDK
    if py_version is None and len(available) == 1:
        return available[0]
    if py_version not in available:
        got = f"got {py_version!r}" if py_version else "none given"
        raise ImageError(f"{label} needs py_version, one of {', '.join(available)} ({got})")
    return py_version


def check_builtin(name: str, version: str | None) -> str | None:
    """Region-independent check of a spec's builtin/version: the problem for a person, or None."""
    try:
        _version(name, _algorithm(name), version)
    except ImageError as exc:
        return str(exc)
    return None


def _leaf(name: str, version: str | None, py_version: str | None) -> tuple[dict[str, Any], str, dict[str, Any],
                                                                        str | None]:
    """(algorithm, requested version, the catalog entry of its image, py version)."""
    algo = _algorithm(name)
    requested = _version(name, algo, version)
    entry: dict[str, Any] = algo["versions"][algo.get("aliases", {}).get(requested, requested)]
    label = f"{name} {requested}"
    if "by_py" in entry:
        py = _py_version(label, sorted(entry["by_py"]), py_version)
        assert py is not None
        return algo, requested, entry["by_py"][py], py
    return algo, requested, entry, _py_version(label, entry.get("py_versions", []), py_version)


def builtin_repository(name: str, version: str | None, py_version: str | None = None) -> tuple[int, str]:
    """(registry index, repository) of a built-in image: the repository is the same in every region,
    the registry (AWS's account per region, `registry_accounts`) is not. Raises ImageError."""
    _, _, leaf, _ = _leaf(name, version, py_version)
    return int(leaf["registry"]), str(leaf["repository"])


def all_builtin_repositories() -> list[tuple[int, str]]:
    """Every (registry index, repository) the catalog knows, sorted."""
    out: set[tuple[int, str]] = set()
    for algo in _catalog()["algorithms"].values():
        for entry in algo["versions"].values():
            for leaf in entry["by_py"].values() if "by_py" in entry else [entry]:
                out.add((int(leaf["registry"]), str(leaf["repository"])))
    return sorted(out)


def registry_accounts(registry: int) -> dict[str, str]:
    """AWS's image account per region for a registry index of the catalog."""
    return dict(_catalog()["registries"][registry])


def resolve_image(
    name: str,
    version: str | None,
    region: str,
    instance_type: str = "ml.m5.xlarge",
    py_version: str | None = None,
) -> str:
    """The ECR training image URI of `name` `version` in `region`; raises ImageError saying what would work."""
    catalog = _catalog()
    algo, requested, leaf, py = _leaf(name, version, py_version)
    label = f"{name} {requested}"
    family = _family(instance_type)

    processors = algo.get("processors") or leaf.get("processors")
    processor = _processor(family, processors)
    if processors and processor not in processors:
        raise ImageError(f"{label} has no {processor} image (for {instance_type}); "
                         f"it has {', '.join(processors)} images only")
    if family == "p2" and requested in algo.get("p2_unsupported", []):
        raise ImageError(f"{label} does not support ml.p2 instances (deprecated); use ml.p3 or newer")

    accounts: dict[str, str] = catalog["registries"][leaf["registry"]]
    if region not in accounts:
        if region in catalog["other_partition_regions"]:
            raise ImageError(f"{region} is outside the commercial AWS partition; the image catalog covers "
                             "aws regions only")
        raise ImageError(f"{label} is not available in region {region}; available: {', '.join(sorted(accounts))}")

    container_version = None
    if leaf.get("container_version"):
        if processor not in leaf["container_version"]:
            raise ImageError(f"{label} has no {processor} image (for {instance_type})")
        container_version = leaf["container_version"][processor]
    tag_processor = processor if leaf.get("processor_in_tag", True) else None
    tag = "-".join(x for x in (leaf.get("tag_prefix", requested), tag_processor, py, container_version) if x)
    if family == "p4d" and tag in algo.get("p4d_tag_suffix", {}):
        tag = f"{tag}-{algo['p4d_tag_suffix'][tag]}"
    return _URI.format(account=accounts[region], region=region, domain=catalog["domain"],
                       repository=leaf["repository"], tag=tag)


def is_framework(name: str) -> bool:
    """True for framework images (pytorch, tensorflow, mxnet), whose training image does not serve models."""
    return bool(_algorithm(name)["kind"] == "framework")


def algorithms() -> list[str]:
    """Names accepted as `builtin`, sorted."""
    return sorted(_catalog()["algorithms"])


def versions(name: str) -> list[str]:
    """Versions and aliases of `name`, oldest first (the SDK's order); raises ImageError for an unknown name."""
    return list(_algorithm(name)["known"])


def catalog_info() -> dict[str, Any]:
    """Where the catalog came from and what it holds: SDK package and version, counts, what is left out."""
    catalog = _catalog()
    algos = catalog["algorithms"].values()
    return {
        "sdk_package": catalog["source"]["package"],
        "sdk_version": catalog["source"]["version"],
        "scope": catalog["source"]["scope"],
        "partition": catalog["source"]["partition"],
        "algorithms": len(catalog["algorithms"]),
        "frameworks": sorted(n for n, a in catalog["algorithms"].items() if a["kind"] == "framework"),
        "versions": sum(len(a["versions"]) for a in algos),
        "aliases": sum(len(a.get("aliases", {})) for a in algos),
        "regions": len({r for accounts in catalog["registries"] for r in accounts}),
        "excluded": sorted(catalog["excluded"]),
    }
