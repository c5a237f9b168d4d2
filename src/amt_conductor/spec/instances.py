"""Instance types with local NVMe instance storage, on which SageMaker refuses a volume KMS key.

ResourceConfig.VolumeKmsKeyId (SageMaker API reference): "Certain Nitro-based instances include local
storage, dependent on the instance type. Local storage volumes are encrypted using a hardware module on
the instance. You can't request a VolumeKmsKeyId when using an instance type with local storage."
The dev guide ("Managing storage paths for different types of instance local storage") names ml.p4d,
ml.g4dn and ml.g5 as NVMe families; the SageMaker Python SDK (`sagemaker.utils.volume_size_supported`,
used by `instance_supports_kms`) treats every family with a "d" in its name, and g5, as local storage.
The rest of the list follows the EC2 "Instance store volume limits" table for the training families in
botocore's TrainingInstanceType enum (checked by tests/unit/test_instances.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from amt_conductor.spec.model import Spec

# Training families whose instances come with NVMe instance storage (and no EBS volume in SageMaker).
LOCAL_STORAGE_FAMILIES = frozenset({
    "g4dn", "g5", "g6", "g6e",
    "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200", "p6-b300", "p6e-gb200",
    "trn1", "trn1n", "trn2",
    "m5d", "c5d", "r5d",
})
# Training families with EBS storage only: a volume KMS key applies.
EBS_ONLY_FAMILIES = frozenset({
    "c4", "c5", "c5n", "c6i", "c7i", "c7i-flex", "c8i", "c8i-flex",
    "m4", "m5", "m6i", "m7i", "m7i-flex", "m8i", "m8i-flex",
    "r5", "r6i", "r7i", "r8i", "r8i-flex",
    "p2", "p3", "t3",
    # Not confirmed in the docs at hand: kept with the volume key, as the SDK's rule does, so a wrong guess
    # is a refused launch that names the problem rather than a volume silently left without the CMK.
    "g7", "g7e",
})


def local_storage_types(spec: Spec) -> list[str]:
    """The spec's instance types with local storage: with any, its jobs get no VolumeKmsKeyId."""
    return [c.instance_type for c in spec.instance_choices() if has_local_storage(c.instance_type)]


def family(instance_type: str) -> str:
    """`ml.g5.2xlarge` -> `g5`."""
    parts = instance_type.split(".")
    return parts[1] if len(parts) == 3 else instance_type


def has_local_storage(instance_type: str) -> bool:
    """True when SageMaker refuses a VolumeKmsKeyId for `instance_type` (its storage is local NVMe)."""
    fam = family(instance_type)
    if fam in LOCAL_STORAGE_FAMILIES:
        return True
    if fam in EBS_ONLY_FAMILIES:
        return False
    return "d" in fam.split("-")[0]  # the SDK's rule for families not listed (m6id, c6id, ...)
