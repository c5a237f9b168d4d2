"""Build src/amt_conductor/spec/data/image_catalog.json from the installed sagemaker SDK (`make catalog`).

The Lambda functions resolve built-in algorithm images offline with `amt_conductor.spec.images`, which cannot ship
the SDK. This script derives what that resolution needs from the SDK's own image URI data
(`sagemaker/core/image_uri_config/*.json`, training scope only, commercial `aws` partition only):

- every distinct region -> account map once, versions referring to it by index;
- per algorithm: versions with their repository, processors, Python versions and tag details,
  version aliases, and the SDK's ordering of versions;
- the SDK's instance-family quirks for framework GPU images (extra tag suffix on ml.p4d,
  versions refused on ml.p2), probed from `image_uris.retrieve` itself rather than copied.

Anything in the SDK data this script does not understand stops the build, so a new SDK cannot
silently produce a catalog that resolves differently. tests/unit/test_images.py checks that the
committed catalog matches the installed SDK.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.metadata
import json
import logging
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "src" / "amt_conductor" / "spec" / "data" / "image_catalog.json"
SDK_PACKAGE = "sagemaker-core"
FORMAT = 1
PARTITION = "aws"
DOMAIN = "amazonaws.com"

# SageMaker's first-party built-in algorithms (sklearn included: a SageMaker-maintained container).
ALGORITHMS = (
    "blazingtext", "factorization-machines", "forecasting-deepar", "image-classification", "ipinsights",
    "kmeans", "knn", "lda", "linear-learner", "ntm", "object-detection", "object2vec", "pca",
    "randomcutforest", "semantic-segmentation", "seq2seq", "sklearn", "xgboost",
)
FRAMEWORKS = ("huggingface", "mxnet", "pytorch", "tensorflow")
# Left out on purpose; amt_conductor.spec.images shows the reason when a spec names one of these.
EXCLUDED: dict[str, str] = {}

SUBTREE_KEYS = {"versions", "version_aliases", "processors", "scope"}
LEAF_KEYS = {"repository", "registries", "processors", "py_versions", "container_version", "tag_prefix",
             "processor_in_tag"}
PY_KEY = re.compile(r"^py\d+$")
# Hugging Face versions hold one entry per base framework (pytorch2.1.0), with aliases (pytorch2.1).
BASE_KEY = re.compile(r"^(pytorch|tensorflow)\d[\d.]*$")
# Instance types used to probe the SDK's family-specific behaviour of framework GPU images.
PROBE_GPU, PROBE_P4D, PROBE_P2 = "ml.p3.2xlarge", "ml.p4d.24xlarge", "ml.p2.xlarge"


def version_order(version: str) -> tuple[Any, ...]:
    """The SDK's list_versions order (PEP 440 first, then the rest), with the text breaking ties.

    The SDK sorts a set, so equal versions ('2.0' and '2.0.0') come out in hash order; the tie-break
    keeps the committed catalog identical from run to run.
    """
    from packaging.version import InvalidVersion, Version

    try:
        return (0, Version(version), version)
    except InvalidVersion:
        return (1, version, version)


class CatalogError(Exception):
    """The SDK data has a shape this script does not know how to carry into the catalog."""


@contextlib.contextmanager
def fast_sdk() -> Iterator[Any]:
    """The SDK's image_uris module, with botocore's endpoint data loaded once instead of per call.

    retrieve() rebuilds botocore's resolver on every call (~50 ms); caching it changes no result.
    """
    logging.getLogger("sagemaker").setLevel(logging.ERROR)
    import sagemaker.core.image_uris as iu
    from sagemaker.core import common_utils

    original = common_utils._botocore_resolver
    common_utils._botocore_resolver = functools.cache(original)
    try:
        yield iu
    finally:
        common_utils._botocore_resolver = original


def _training_subtree(iu: Any, name: str) -> dict[str, Any]:
    config = iu.config_for_framework(name)
    if "versions" in config:
        if "training" not in config.get("scope", ["training"]):
            raise CatalogError(f"{name}: no training scope (scopes: {config.get('scope')})")
        subtree = config
    elif "training" in config:
        subtree = config["training"]
    else:
        raise CatalogError(f"{name}: no training scope (keys: {sorted(config)})")
    unknown = set(subtree) - SUBTREE_KEYS
    if unknown:
        raise CatalogError(f"{name}: unsupported keys {sorted(unknown)} in the training config")
    return dict(subtree)


class _Builder:
    def __init__(self, iu: Any) -> None:
        import botocore.loaders
        import botocore.regions

        self.iu = iu
        self.resolver = botocore.regions.EndpointResolver(botocore.loaders.create_loader().load_data("endpoints"))
        self.registries: list[dict[str, str]] = []
        self._registry_index: dict[str, int] = {}
        self.other_regions: set[str] = set()
        self._commercial: dict[str, bool] = {}

    def is_commercial(self, region: str) -> bool:
        if region not in self._commercial:
            endpoint = self.resolver.construct_endpoint("ecr", region)
            ok = bool(endpoint) and endpoint.get("partition") == PARTITION
            if ok and endpoint["hostname"] != f"ecr.{region}.{DOMAIN}":
                raise CatalogError(f"{region}: unexpected ECR hostname {endpoint['hostname']}")
            self._commercial[region] = ok
        return self._commercial[region]

    def registry(self, accounts: dict[str, str]) -> int:
        kept = {r: a for r, a in sorted(accounts.items()) if self.is_commercial(r)}
        self.other_regions.update(r for r in accounts if r not in kept)
        key = json.dumps(kept, sort_keys=True)
        if key not in self._registry_index:
            self._registry_index[key] = len(self.registries)
            self.registries.append(kept)
        return self._registry_index[key]

    def leaf(self, cfg: dict[str, Any], where: str) -> dict[str, Any]:
        unknown = set(cfg) - LEAF_KEYS
        if unknown:
            raise CatalogError(f"{where}: unsupported keys {sorted(unknown)}")
        out: dict[str, Any] = {"repository": cfg["repository"], "registry": self.registry(cfg["registries"])}
        for key in sorted(LEAF_KEYS - {"repository", "registries"}):
            if key in cfg:
                out[key] = cfg[key]
        return out

    def version_entry(self, cfg: dict[str, Any], where: str) -> dict[str, Any]:
        if "repository" in cfg:
            return self.leaf(cfg, where)
        bases = {k: v for k, v in cfg.items() if k != "version_aliases"}
        if bases and all(BASE_KEY.match(k) for k in bases):
            out: dict[str, Any] = {"by_base": {b: self.version_entry(sub, f"{where}.{b}")
                                               for b, sub in sorted(bases.items())}}
            if cfg.get("version_aliases"):
                out["base_aliases"] = dict(sorted(cfg["version_aliases"].items()))
            return out
        if not cfg or not all(PY_KEY.match(k) for k in cfg):
            raise CatalogError(f"{where}: expected a repository or per-Python-version entries, got {sorted(cfg)}")
        return {"by_py": {py: self.leaf(sub, f"{where}.{py}") for py, sub in sorted(cfg.items())}}

    def algorithm(self, name: str, kind: str) -> dict[str, Any]:
        subtree = _training_subtree(self.iu, name)
        out: dict[str, Any] = {
            "kind": kind,
            "known": sorted(self.iu.list_versions(name, image_scope="training"), key=version_order),
            "versions": {v: self.version_entry(cfg, f"{name}.{v}") for v, cfg in subtree["versions"].items()},
        }
        if subtree.get("version_aliases"):
            out["aliases"] = dict(subtree["version_aliases"])
        if subtree.get("processors"):
            out["processors"] = list(subtree["processors"])
        if kind == "framework":
            out.update(self.instance_quirks(name, out))
        return out

    def instance_quirks(self, name: str, algo: dict[str, Any]) -> dict[str, Any]:
        """What the SDK does differently on ml.p4d (tag suffix) and ml.p2 (refused), per version."""
        p4d: dict[str, str] = {}
        p2: set[str] = set()
        for version in algo["known"]:
            top = algo["versions"][algo.get("aliases", {}).get(version, version)]
            by_base = top.get("by_base") or {None: top}
            for framework, entry in by_base.items():
                leaves = entry["by_py"].items() if "by_py" in entry else [(None, entry)]
                for by_py, leaf in leaves:
                    regions = sorted(self.registries[leaf["registry"]])
                    for py in [by_py] if by_py else leaf.get("py_versions") or [None]:
                        if not regions:
                            continue
                        probe = functools.partial(self._retrieve, name, regions[0], version, py=py, base=framework)
                        base = probe(PROBE_GPU)
                        if base is None:
                            continue  # no GPU image for this version
                        on_p4d = probe(PROBE_P4D)
                        if on_p4d != base:
                            if on_p4d is None or not on_p4d.startswith(base + "-"):
                                raise CatalogError(f"{name} {version} {py}: ml.p4d image {on_p4d} is not {base}-*")
                            p4d[base.rsplit(":", 1)[1]] = on_p4d[len(base) + 1:]
                        on_p2 = probe(PROBE_P2)
                        if on_p2 is None:
                            p2.add(version)
                        elif on_p2 != base:
                            raise CatalogError(f"{name} {version} {py}: ml.p2 image {on_p2} differs from {base}")
        quirks: dict[str, Any] = {}
        if p4d:
            quirks["p4d_tag_suffix"] = dict(sorted(p4d.items()))
        if p2:
            quirks["p2_unsupported"] = [v for v in algo["known"] if v in p2]
        return quirks

    def _retrieve(self, name: str, region: str, version: str, instance_type: str, py: str | None,
                  base: str | None = None) -> str | None:
        try:
            return str(self.iu.retrieve(name, region, version, image_scope="training", instance_type=instance_type,
                                        py_version=py, base_framework_version=base))
        except ValueError:
            return None


def build_catalog() -> dict[str, Any]:
    """The catalog as a JSON-ready dict, derived from the installed SDK."""
    with fast_sdk() as iu:
        builder = _Builder(iu)
        algorithms = {name: builder.algorithm(name, "algorithm") for name in ALGORITHMS}
        algorithms.update({name: builder.algorithm(name, "framework") for name in FRAMEWORKS})
    return {
        "format": FORMAT,
        "source": {"package": SDK_PACKAGE, "version": importlib.metadata.version(SDK_PACKAGE),
                   "scope": "training", "partition": PARTITION},
        "domain": DOMAIN,
        "registries": builder.registries,
        "other_partition_regions": sorted(builder.other_regions),
        "excluded": EXCLUDED,
        "algorithms": dict(sorted(algorithms.items())),
    }


def dumps(catalog: dict[str, Any]) -> str:
    """The committed form: one line per registry and per version, stable across runs."""
    return json.dumps(catalog, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the catalog")
    args = parser.parse_args(argv)
    try:
        catalog = build_catalog()
    except CatalogError as exc:
        print(f"build_image_catalog: {exc}", file=sys.stderr)
        return 1
    text = dumps(catalog)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    algos = catalog["algorithms"]
    n_versions = sum(len(a["versions"]) for a in algos.values())
    n_aliases = sum(len(a.get("aliases", {})) for a in algos.values())
    n_regions = len({r for reg in catalog["registries"] for r in reg})
    print(f"{args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}: "
          f"{len(algos)} algorithms, {n_versions} versions (+{n_aliases} aliases), {n_regions} regions, "
          f"{len(catalog['registries'])} registry maps, {len(text.encode())} bytes "
          f"(from {SDK_PACKAGE} {catalog['source']['version']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
