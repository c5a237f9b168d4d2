"""What the studies need, derived once from the specs in configs/ and the context: job-name prefixes,
data and output locations, images, KMS keys and networks. IAM statements and event patterns are
scoped to it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from amt.forms import parse_s3_uri
from amt.instances import local_storage_types
from amt.model import Spec
from amt.naming import study_prefix

T = TypeVar("T")


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # '' for the whole bucket; otherwise ends without a wildcard

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        """The bucket and prefix of an s3:// URI or an S3 https:// URL (path-style or virtual-hosted)."""
        ref = parse_s3_uri(uri)
        return cls(ref.bucket, ref.key)


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
    file_systems: tuple[tuple[str, str, str], ...] = ()  # (type efs|fsx_lustre, file system id, access ro|rw)
    # (job prefix, instance types) of studies with a KMS key on instances with local NVMe storage, whose jobs
    # carry no volume key (SageMaker refuses one there)
    local_storage: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def uses_vpc(self) -> bool:
        return bool(self.networks)


def study_scope(specs: Sequence[Spec], *, study_prefixes: Iterable[str] = (),
                data_prefixes: Iterable[str] = ()) -> StudyScope:
    """The scope of the given specs plus the context's prefixes for uploaded studies and data."""
    prefixes = [study_prefix(s.name) for s in specs] + [p for p in study_prefixes]
    data = [S3Location.parse(ch.uri) for s in specs for ch in s.data.values() if ch.uri is not None]
    data += [S3Location.parse(uri) for uri in data_prefixes]
    # A checkpoint location is written during training and read back when a job resumes.
    checkpoints = [S3Location.parse(s.checkpoint.uri) for s in specs if s.checkpoint is not None]
    # Script mode: the container downloads the code archive as the execution role.
    data += [S3Location.parse(s.algorithm.source) for s in specs if s.algorithm.source is not None]
    return StudyScope(
        job_prefixes=_unique(prefixes),
        data=_unique(data + checkpoints),
        outputs=_unique([*(S3Location.parse(s.output_uri) for s in specs if s.output_uri), *checkpoints]),
        images=_unique(s.algorithm.image for s in specs if s.algorithm.image),
        builtins=_unique((s.algorithm.builtin, s.algorithm.version, c.instance_type)
                         for s in specs if s.algorithm.builtin for c in s.instance_choices()),
        kms_keys=_unique((study_prefix(s.name), s.kms_key_id) for s in specs if s.kms_key_id),
        networks=_unique((study_prefix(s.name), tuple(s.network.subnets), tuple(s.network.security_groups))
                         for s in specs if s.network is not None and s.network.subnets),
        isolation=_unique(study_prefix(s.name) for s in specs if s.network is not None and s.network.isolation),
        encrypted_traffic=_unique(study_prefix(s.name) for s in specs
                                  if s.network is not None and s.network.encrypt_inter_container_traffic),
        file_systems=_unique((ch.file_system.type, ch.file_system.id, ch.file_system.access_mode)
                             for s in specs for ch in s.data.values() if ch.file_system is not None),
        local_storage=_unique((study_prefix(s.name), tuple(c.instance_type for c in s.instance_choices()))
                              for s in specs if s.kms_key_id and local_storage_types(s)),
    )


def _unique(items: Iterable[T]) -> tuple[T, ...]:
    seen: dict[T, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return tuple(seen)
