"""Training images of built-in algorithms and frameworks, resolved offline (stdlib only, Lambda-safe).

The data is `data/image_catalog.json`, derived from the sagemaker SDK's image URI config by
`scripts/build_image_catalog.py` (`make catalog`); resolution matches
`sagemaker.core.image_uris.retrieve(name, region, version, image_scope="training", instance_type=...,
py_version=...)`, which tests/unit/test_images.py checks against the installed SDK.

Covered: SageMaker's first-party algorithms (xgboost, linear-learner, kmeans, ..., sklearn) and the
pytorch, tensorflow, mxnet and huggingface framework images (cpu/gpu from the instance family: ml.p*/ml.g*
are gpu). A huggingface image is chosen by transformers version *and* base framework (`pytorch2.1`, the
SDK's `base_framework_version`), and its tag carries the base framework as given, as the SDK builds it.
Left out, each with a clear error:
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
REFERENCE_REGION = "us-east-1"  # carries every built-in image
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


_BASE = re.compile(r"^(pytorch|tensorflow)(\d[\d.]*)$")


def _by_base(label: str, entry: dict[str, Any], base_framework: str | None) -> dict[str, Any]:
    """The entry of a Hugging Face version for `base_framework` (e.g. pytorch2.1)."""
    aliases: dict[str, str] = entry.get("base_aliases", {})
    known = ", ".join([*sorted(aliases), *sorted(entry["by_base"])])
    if base_framework is None:
        raise ImageError(f"{label} needs base_framework, one of {known}")
    full = aliases.get(base_framework, base_framework)
    if full not in entry["by_base"] or not _BASE.match(base_framework):
        raise ImageError(f"{label} has no base_framework {base_framework!r}; known: {known}")
    found: dict[str, Any] = entry["by_base"][full]
    return found


def resolve_image(
    name: str,
    version: str | None,
    region: str,
    instance_type: str = "ml.m5.xlarge",
    py_version: str | None = None,
    base_framework: str | None = None,
) -> str:
    """The ECR training image URI of `name` `version` in `region`; raises ImageError saying what would work."""
    return _resolve(name, version, region, instance_type, py_version, base_framework)[0]


def builtin_repository(name: str, version: str | None, instance_type: str = "ml.m5.xlarge",
                       py_version: str | None = None, base_framework: str | None = None) -> tuple[int, str]:
    """(registry index, repository) of a built-in image: the repository is the same in every region, the
    registry (AWS's account per region, `registry_accounts`) is not. Raises ImageError."""
    leaf = _resolve(name, version, REFERENCE_REGION, instance_type, py_version, base_framework)[1]
    return int(leaf["registry"]), str(leaf["repository"])


def all_builtin_repositories() -> list[tuple[int, str]]:
    """Every (registry index, repository) the catalog knows, sorted."""
    out: set[tuple[int, str]] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "registry" in node and "repository" in node:
                out.add((int(node["registry"]), str(node["repository"])))
            for value in node.values():
                walk(value)

    walk(_catalog()["algorithms"])
    return sorted(out)


def registry_accounts(registry: int) -> dict[str, str]:
    """AWS's image account per region for a registry index of the catalog."""
    return dict(_catalog()["registries"][registry])


def _resolve(name: str, version: str | None, region: str, instance_type: str, py_version: str | None,
             base_framework: str | None) -> tuple[str, dict[str, Any]]:
    catalog = _catalog()
    algo = _algorithm(name)
    requested = _version(name, algo, version)
    full_version = algo.get("aliases", {}).get(requested, requested)
    entry: dict[str, Any] = algo["versions"][full_version]
    label = f"{name} {requested}"
    family = _family(instance_type)
    tag_prefix = None
    if "by_base" in entry:
        entry = _by_base(label, entry, base_framework)
        # The SDK tags with the base framework's version as given (2.1 for pytorch2.1) and the full release.
        base_match = _BASE.match(base_framework or "")
        assert base_match is not None
        tag_prefix = f"{base_match[2]}-transformers{full_version}"
    elif base_framework is not None:
        raise ImageError(f"base_framework is only for huggingface (got {base_framework!r} for {name})")

    if "by_py" in entry:
        py = _py_version(label, sorted(entry["by_py"]), py_version)
        assert py is not None
        leaf: dict[str, Any] = entry["by_py"][py]
    else:
        leaf = entry
        py = _py_version(label, leaf.get("py_versions", []), py_version)

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
    tag = "-".join(x for x in (tag_prefix or leaf.get("tag_prefix", requested), tag_processor, py, container_version)
                   if x)
    if family == "p4d" and tag in algo.get("p4d_tag_suffix", {}):
        tag = f"{tag}-{algo['p4d_tag_suffix'][tag]}"
    return _URI.format(account=accounts[region], region=region, domain=catalog["domain"],
                       repository=leaf["repository"], tag=tag), leaf


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
