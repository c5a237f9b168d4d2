"""The specs deployed from configs/ (`cdk deploy`), as the handlers see them: one manifest object that only
the stack's deployment writes (`deployed/specs.json` in the configs bucket: outside the configs prefix, so
writing it starts no run, and `amt submit` users, who may write under configs/, cannot change it).

Two rules rest on it (issue 9, findings 2 and 6): a scheduled run runs the deployed spec, whatever was
uploaded since; and an uploaded spec may not change a deployed study's code (image, entry point, code
source): code changes are reviewed and ship with `cdk deploy`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from amt_conductor.contract import DEPLOYED_SPECS_KEY
from amt_conductor.runtime.sagemaker_ops import error_code, transient_errors

if TYPE_CHECKING:
    from amt_conductor.runtime.workflow import Runtime
    from amt_conductor.spec.model import Spec

# What decides the code a study's jobs run. Everything else (ranges, resources, rounds...) may change
# with an upload.
CODE_FIELDS = ("builtin", "version", "py_version", "base_framework", "image", "name", "entry_point", "source")

_CACHE: dict[str, tuple[str, str | None, dict[str, Any]]] = {}  # bucket -> (etag, version, manifest)


def manifest(rt: Runtime, version_id: str | None = None) -> tuple[dict[str, Any], str | None]:
    """(the manifest {study: {"key", "body"}}, its version id); ({}, None) when nothing was deployed.
    The latest is fetched again only when it changed (If-None-Match on the cached ETag)."""
    bucket = rt.settings.configs_bucket
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": DEPLOYED_SPECS_KEY}
    cached = _CACHE.get(bucket)
    if version_id:
        kwargs["VersionId"] = version_id
        if cached and cached[1] == version_id:
            return cached[2], version_id
    elif cached:
        kwargs["IfNoneMatch"] = cached[0]
    try:
        with transient_errors(f"GetObject s3://{bucket}/{DEPLOYED_SPECS_KEY}"):
            obj = rt.s3.get_object(**kwargs)
    except ClientError as err:
        code = error_code(err)
        if code in ("304", "NotModified") and cached:
            return cached[2], cached[1]
        if code in ("NoSuchKey", "404"):
            return {}, None
        raise
    doc = json.loads(obj["Body"].read())
    version = obj.get("VersionId")
    if not version_id:
        _CACHE[bucket] = (str(obj.get("ETag", "")), version, doc)
    return doc, version


def location(rt: Runtime, study: str) -> dict[str, Any] | None:
    """Where a scheduled run reads the study's deployed spec (a version of the manifest), or None."""
    doc, version = manifest(rt)
    if study not in doc:
        return None
    return {"bucket": rt.settings.configs_bucket, "key": DEPLOYED_SPECS_KEY, "version_id": version,
            "study": study}


def entry(rt: Runtime, loc: dict[str, Any]) -> tuple[bytes, str] | None:
    """(spec body, its configs/ key) of the study a deployed location names."""
    doc, _ = manifest(rt, loc.get("version_id"))
    found = doc.get(str(loc.get("study")))
    if not found:
        return None
    return str(found["body"]).encode(), str(found["key"])


def code_changes(uploaded: Spec, deployed: Spec) -> list[str]:
    """`algorithm.<field>` paths where the uploaded spec's code differs from the deployed one's."""
    a, b = uploaded.algorithm, deployed.algorithm
    return [f"algorithm.{f}" for f in CODE_FIELDS if getattr(a, f, None) != getattr(b, f, None)]
