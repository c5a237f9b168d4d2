"""Which IAM roles a study's tuning jobs run as: the contract between the stack, which creates the
roles, and the runtime, which names them in each request (no lookup: the ARN is computed).

Every study deployed from configs/ has its own SageMaker execution role, reading only that study's
data. Its name and path are derived from the study name, so the launcher passes it without a list
of 1,000 ARNs in its environment or policy:

    arn:<partition>:iam::<account>:role/amt/<stack>/open/<study>.<stack key>.<region>      no controls
    arn:<partition>:iam::<account>:role/amt/<stack>/guarded/<study>.<stack key>.<region>   KMS/VPC/...
    arn:<partition>:iam::<account>:role/amt/<stack>/launch/<study>.<stack key>.<region>    its launcher

A study whose spec demands controls (a KMS key, a VPC, network isolation, traffic encryption) is
"guarded": its execution role lives under `guarded/`, which the launch function may not pass; only
the study's own launcher role may, and that role refuses (Deny) a request without the study's
controls. A spec uploaded under a guarded study's name without those controls names the `open/`
role, which does not exist: the create fails closed. Studies uploaded under an `amt:studyPrefixes`
prefix share that prefix's open role, which reads only the `amt:dataPrefixes` locations.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from amt_conductor.spec.model import Spec

ROLE_PATH_ROOT = "amt"
OPEN = "open"
GUARDED = "guarded"
LAUNCH = "launch"
# Tags every tuning job carries (render adds them; the spec rules reserve the amt: prefix). The
# functions' roles may describe, stop and create only jobs tagged with their stack's key.
TAG_STACK = "amt:stack"
TAG_STUDY = "amt:study"
TAG_ROUND = "amt:round"
MAX_PREFIX_LENGTH = 20  # a context prefix names a role: <prefix>.<key 8>.<region 14+> fits IAM's 64


def stack_key(stack_name: str) -> str:
    """A short, stable key of a stack: in role names (unique per account) and the amt:stack tag."""
    return hashlib.sha256(stack_name.encode()).hexdigest()[:8]


def role_path(stack_name: str, kind: str) -> str:
    """The IAM path of a kind of role (`open`, `guarded`, `launch`) of a stack."""
    return f"/{ROLE_PATH_ROOT}/{stack_name}/{kind}/"


def role_name(owner: str, key: str, region: str) -> str:
    """The role of a study (or a context prefix): unique per account across stacks and regions."""
    return f"{owner}.{key}.{region}"


def is_guarded(spec: Spec) -> bool:
    """The spec demands controls that only its launcher role enforces."""
    net = spec.network
    return bool(spec.kms_key_id) or (net is not None and bool(net.subnets or net.isolation
                                                              or net.encrypt_inter_container_traffic))


@dataclass(frozen=True)
class StudyRoles:
    """The execution role a round passes, and the launcher role to assume first (guarded studies)."""

    execution_role_arn: str
    launcher_role_arn: str | None


def roles_for(spec: Spec, *, role_arn_base: str, key: str, region: str,
              prefixes: tuple[str, ...] = ()) -> StudyRoles:
    """The roles of `spec`'s study: its prefix's open role when it falls under a context prefix,
    else its own (guarded ones through the study's launcher). `role_arn_base` is
    `arn:<partition>:iam::<account>:role/amt/<stack>/`."""
    base = role_arn_base.rstrip("/") + "/"
    prefix = next((p for p in prefixes if spec.name.startswith(p)), None)
    if prefix is not None:
        return StudyRoles(f"{base}{OPEN}/{role_name(prefix, key, region)}", None)
    name = role_name(spec.name, key, region)
    if is_guarded(spec):
        return StudyRoles(f"{base}{GUARDED}/{name}", f"{base}{LAUNCH}/{name}")
    return StudyRoles(f"{base}{OPEN}/{name}", None)
