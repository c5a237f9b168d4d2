"""What the studies need, derived once from the specs in configs/ and the context: job-name prefixes,
data and output locations, images, KMS keys and networks. IAM statements and event patterns are
scoped to it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from amt.model import Spec
from amt.naming import study_prefix

T = TypeVar("T")


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # '' for the whole bucket; otherwise ends without a wildcard

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        rest = uri.removeprefix("s3://")
        bucket, _, prefix = rest.partition("/")
        return cls(bucket, prefix)


@dataclass(frozen=True)
class StudyScope:
    """What the specs in configs/ (and the context for uploaded specs) need, and nothing more."""

    job_prefixes: tuple[str, ...]
    data: tuple[S3Location, ...]
    outputs: tuple[S3Location, ...]
    images: tuple[str, ...]
    builtins: tuple[tuple[str, str | None, str], ...]  # (name, version, instance type)
    kms_keys: tuple[tuple[str, str], ...]          # (job prefix, key id/arn/alias)
    networks: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]  # (prefix, subnets, sgs)
    isolation: tuple[str, ...]                     # prefixes whose jobs must run network-isolated
    encrypted_traffic: tuple[str, ...]             # prefixes whose jobs must encrypt inter-container traffic
    # `promote:`: the model package groups the specs register in, and the studies that promote
    # (study, its output_uri) - whose training jobs and artifacts the Promote function may read.
    model_package_groups: tuple[str, ...] = ()
    promoting: tuple[tuple[str, S3Location | None], ...] = ()

    @property
    def uses_vpc(self) -> bool:
        return bool(self.networks)


def study_scope(specs: Sequence[Spec], *, study_prefixes: Iterable[str] = (),
                data_prefixes: Iterable[str] = ()) -> StudyScope:
    """The scope of the given specs plus the context's prefixes for uploaded studies and data."""
    prefixes = [study_prefix(s.name) for s in specs] + [p for p in study_prefixes]
    data = [S3Location.parse(ch.uri) for s in specs for ch in s.data.values()]
    data += [S3Location.parse(uri) for uri in data_prefixes]
    return StudyScope(
        job_prefixes=_unique(prefixes),
        data=_unique(data),
        outputs=_unique(S3Location.parse(s.output_uri) for s in specs if s.output_uri),
        images=_unique(s.algorithm.image for s in specs if s.algorithm.image),
        builtins=_unique((s.algorithm.builtin, s.algorithm.version, s.resources.instance_type)
                         for s in specs if s.algorithm.builtin),
        kms_keys=_unique((study_prefix(s.name), s.kms_key_id) for s in specs if s.kms_key_id),
        networks=_unique((study_prefix(s.name), tuple(s.network.subnets), tuple(s.network.security_groups))
                         for s in specs if s.network is not None and s.network.subnets),
        isolation=_unique(study_prefix(s.name) for s in specs if s.network is not None and s.network.isolation),
        encrypted_traffic=_unique(study_prefix(s.name) for s in specs
                                  if s.network is not None and s.network.encrypt_inter_container_traffic),
        model_package_groups=_unique(s.promote.model_package_group for s in specs if s.promote),
        promoting=_unique((s.name, S3Location.parse(s.output_uri) if s.output_uri else None)
                          for s in specs if s.promote),
    )


def _unique(items: Iterable[T]) -> tuple[T, ...]:
    seen: dict[T, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return tuple(seen)
