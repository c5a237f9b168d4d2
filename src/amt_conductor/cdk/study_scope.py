"""What each study needs, derived once from the specs in configs/ and the context: its data and output
locations, images, KMS key, network and schedule. Each study's execution role is built from its own
`StudyAccess` (and nothing else), so a reviewer reads one study's access in one place."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from amt_conductor.spec.access import is_guarded
from amt_conductor.spec.forms import parse_s3_uri
from amt_conductor.spec.instances import local_storage_types
from amt_conductor.spec.model import Spec
from amt_conductor.spec.naming import study_prefix
from amt_conductor.spec.sourcedir import code_key

_ECR_URI = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
                      r"(?P<repo>[^:@]+)")


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
class CustomImage:
    """An image repository a reviewed spec names: exactly this account, region and repository."""

    account: str
    region: str
    repository: str


@dataclass(frozen=True)
class StudyAccess:
    """One study's (or one context prefix's) access: what its execution role may read, write and pull."""

    name: str                                    # study name, or a context prefix
    job_prefix: str                              # jobs, training log streams: `<study>-r`, or the prefix
    data: tuple[S3Location, ...]
    output: S3Location | None                    # the spec's output_uri; None: the artifacts bucket's training/
    checkpoints: tuple[S3Location, ...] = ()     # written during training, read back when a job resumes
    code_key: str | None = None                  # source_dir: its archive's key in the artifacts bucket
    custom_images: tuple[CustomImage, ...] = ()
    builtins: tuple[tuple[int, str], ...] = ()   # (catalog registry index, repository)
    kms_key: str | None = None
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    isolation: bool = False
    encrypted_traffic: bool = False
    schedule: str | None = None
    new_data: tuple[tuple[str, ...], int] | None = None  # triggers.new_data: (channel prefixes, quiet seconds)
    guarded: bool = False                        # launched through its own launcher role (amt_conductor.spec.access)
    from_prefix: bool = False
    file_systems: tuple[tuple[str, str, str], ...] = ()  # (type efs|fsx_lustre, file system id, access ro|rw)
    # Instance types of a KMS study with local NVMe storage: its jobs carry no volume key (SageMaker refuses one).
    local_storage_types: tuple[str, ...] = ()

    @property
    def artifacts_prefix(self) -> str:
        """Its default output prefix in the artifacts bucket (render writes `training/<study>/`)."""
        return f"training/{self.name}/" if not self.from_prefix else f"training/{self.name}"


def study_access(spec: Spec) -> StudyAccess:
    """A configs/ study's access: its own declared data, output, image, key and network."""
    from amt_conductor.spec.images import ImageError, builtin_repository

    images: list[CustomImage] = []
    builtins: list[tuple[int, str]] = []
    data: list[S3Location] = []
    checkpoints: list[S3Location] = []
    file_systems: list[tuple[str, str, str]] = []
    views = spec.definitions()  # one per algorithm of a multi-algorithm study
    for view in views:
        algo = view.algo
        if algo.image and (m := _ECR_URI.match(algo.image)):
            images.append(CustomImage(m["account"], m["region"], m["repo"]))
        elif algo.builtin:
            for choice in view.instance_choices():
                # An unknown image is spec validation's to report: no repository is granted.
                with contextlib.suppress(ImageError):
                    builtins.append(builtin_repository(algo.builtin, algo.version, choice.instance_type,
                                                       algo.py_version, algo.base_framework))
        data += [S3Location.parse(ch.uri) for ch in view.data.values() if ch.uri is not None]
        if algo.source is not None:  # script mode: the container downloads the code archive as the role
            data.append(S3Location.parse(algo.source))
        if view.checkpoint is not None:
            checkpoints.append(S3Location.parse(view.checkpoint.uri))
        file_systems += [(ch.file_system.type, ch.file_system.id, ch.file_system.access_mode)
                         for ch in view.data.values() if ch.file_system is not None]
    net = spec.network
    nvme = spec.kms_key_id and any(local_storage_types(v) for v in views)
    return StudyAccess(
        name=spec.name,
        job_prefix=study_prefix(spec.name),
        data=_unique(data),
        output=S3Location.parse(spec.output_uri) if spec.output_uri else None,
        checkpoints=_unique(checkpoints),
        code_key=next((code_key(spec.name, v.algo.source_sha256) for v in views
                       if v.algo.source_dir and v.algo.source_sha256), None),
        custom_images=tuple(dict.fromkeys(images)),
        builtins=tuple(dict.fromkeys(builtins)),
        kms_key=spec.kms_key_id,
        subnets=tuple(net.subnets) if net else (),
        security_groups=tuple(net.security_groups) if net else (),
        isolation=bool(net and net.isolation),
        encrypted_traffic=bool(net and net.encrypt_inter_container_traffic),
        schedule=spec.schedule,
        new_data=_new_data(spec),
        guarded=is_guarded(spec),
        file_systems=tuple(dict.fromkeys(file_systems)),
        local_storage_types=tuple(dict.fromkeys(c.instance_type for v in views for c in v.instance_choices()))
        if nvme else (),
    )


def _new_data(spec: Spec) -> tuple[tuple[str, ...], int] | None:
    new_data = spec.triggers.new_data if spec.triggers else None
    if new_data is None:
        return None
    return tuple(str(spec.data[c].uri) for c in new_data.channels), new_data.quiet_period


def prefix_access(prefix: str, data_prefixes: Iterable[str]) -> StudyAccess:
    """The shared role of studies uploaded under a context prefix: the context's data, built-in images only."""
    from amt_conductor.spec.images import all_builtin_repositories

    return StudyAccess(name=prefix, job_prefix=prefix, data=_unique(S3Location.parse(u) for u in data_prefixes),
                       output=None, builtins=tuple(all_builtin_repositories()), from_prefix=True)


def studies_access(specs: Sequence[Spec], *, study_prefixes: Iterable[str] = (),
                   data_prefixes: Iterable[str] = ()) -> list[StudyAccess]:
    """Every role the stack creates: one per configs/ study, one per context prefix."""
    data = tuple(data_prefixes)
    return [study_access(s) for s in specs] + [prefix_access(p, data) for p in study_prefixes]


def _unique(items: Iterable[S3Location]) -> tuple[S3Location, ...]:
    return tuple(dict.fromkeys(items))


@dataclass(frozen=True)
class PromoteScope:
    """`promote:` in the reviewed specs: the model package groups they register in, and the studies that
    promote (name, output_uri), whose training jobs and model artifacts the Promote function may read."""

    groups: tuple[str, ...] = ()
    studies: tuple[tuple[str, S3Location | None], ...] = ()


def promote_scope(specs: Sequence[Spec]) -> PromoteScope:
    promoting = [s for s in specs if s.promote is not None]
    return PromoteScope(
        groups=tuple(dict.fromkeys(s.promote.model_package_group for s in promoting if s.promote)),
        studies=tuple((s.name, S3Location.parse(s.output_uri) if s.output_uri else None) for s in promoting),
    )
