"""The forms text fields must take (names, ids, S3 URIs), checked with messages in words.

A user who wrote `name: Churn_XGB` should read which character is wrong and what is expected, not
a regular expression; and a long value is shown around the offending part, not cut before it.
Each `Form` keeps SageMaker's pattern for the JSON Schema (editors) and for the final check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from pydantic import AfterValidator, Field

EXCERPT = 60  # a value up to this long is shown whole; longer ones around the offending part


def excerpt(value: str, start: int = 0, end: int | None = None) -> str:
    """`value` quoted, or for a long one the part [start:end] with some context and '...' marks."""
    if len(value) <= EXCERPT:
        return repr(value)
    end = start + 1 if end is None else min(max(end, start + 1), start + EXCERPT)
    margin = max((EXCERPT - (end - start)) // 2, 10)
    lo, hi = max(start - margin, 0), min(end + margin, len(value))
    return ("..." if lo else "") + repr(value[lo:hi]) + ("..." if hi < len(value) else "")


def _char(c: str) -> str:
    return "a space" if c == " " else repr(c)


@dataclass(frozen=True)
class Form:
    """Text of a known form: `words` say what is expected; `allowed`, `first` and `last` are character classes
    used to point at the offending character; `prefix` is a fixed start (`subnet-`)."""

    words: str
    pattern: str
    allowed: str
    first: str | None = None
    last: str | None = None
    prefix: str = ""

    def problem(self, value: str) -> str | None:
        """None when `value` has the form; else what is wrong, in words, showing the offending part."""
        if re.fullmatch(self.pattern, value):
            return None
        expected = f"expected {self.words}"
        if not value:
            return f"{expected} (got an empty text)"
        if self.prefix and not value.startswith(self.prefix):
            return f"{expected}: must start with {self.prefix!r} (got {excerpt(value, 0, len(self.prefix))})"
        body = len(self.prefix)
        for i, c in enumerate(value[body:], start=body):
            if not re.fullmatch(self.allowed, c):
                return f"{expected}: {_char(c)} at character {i + 1} is not allowed (got {excerpt(value, i)})"
        if body == len(value):
            return f"{expected}: nothing after {self.prefix!r}"
        if self.first and not re.fullmatch(self.first, value[body]):
            return f"{expected}: may not start with {_char(value[body])} (got {excerpt(value, body)})"
        if self.last and not re.fullmatch(self.last, value[-1]):
            return f"{expected}: may not end with {_char(value[-1])} (got {excerpt(value, len(value) - 1)})"
        return f"{expected} (got {excerpt(value)})"

    def schema(self, **kwargs: Any) -> Any:
        """pydantic `Field` metadata with the pattern in the JSON Schema only (pydantic never reports it raw)."""
        return Field(json_schema_extra={"pattern": f"^{self.pattern}$"}, **kwargs)

    @property
    def check(self) -> AfterValidator:
        """pydantic validator: the form, with a message in words."""
        return AfterValidator(self._validate)

    def _validate(self, value: str) -> str:
        problem = self.problem(value)
        if problem:
            raise ValueError(problem)
        return value


# SageMaker's tuning job name pattern, lowercase only: the study name is the prefix of every job name.
STUDY_NAME = Form("lowercase letters, digits and hyphens, starting and ending with a letter or digit",
                  r"[a-z0-9](-*[a-z0-9])*", r"[a-z0-9-]", first=r"[a-z0-9]", last=r"[a-z0-9]")
TUNING_JOB_NAME = Form("letters, digits and hyphens, starting and ending with a letter or digit",
                       r"[a-zA-Z0-9](-*[a-zA-Z0-9])*", r"[a-zA-Z0-9-]", first=r"[a-zA-Z0-9]", last=r"[a-zA-Z0-9]")
CHANNEL_NAME = Form("letters, digits and . - _", r"[A-Za-z0-9.\-_]+", r"[A-Za-z0-9.\-_]")
ENV_NAME = Form("letters, digits and _, not starting with a digit", r"[a-zA-Z_][a-zA-Z0-9_]*", r"[a-zA-Z0-9_]",
                first=r"[a-zA-Z_]")
# Families may hold a hyphen (ml.p6-b200.48xlarge, ml.c7i-flex.large in botocore's TrainingInstanceType).
INSTANCE_TYPE = Form("an instance type like ml.m5.xlarge (ml.<family>.<size>, lowercase)",
                     r"ml\.[a-z0-9][a-z0-9-]*\.[a-z0-9]+", r"[a-z0-9.\-]", prefix="ml.")
PY_VERSION = Form("a Python version like py310", r"py\d+", r"\d", prefix="py")
SHA256 = Form("64 lowercase hexadecimal digits, the sha256 amt writes from source_dir", r"[0-9a-f]{64}", r"[0-9a-f]")
BASE_FRAMEWORK = Form("pytorch or tensorflow followed by its version, e.g. pytorch2.1",
                      r"(pytorch|tensorflow)\d[\d.]*", r"[a-z0-9.]")
SUBNET = Form("a subnet id like subnet-0a1b2c3d", r"subnet-[0-9a-f]+", r"[0-9a-f]", prefix="subnet-")
FILE_SYSTEM_ID = Form("a file system id like fs-0123456789abcdef0 (at least 8 hex digits)", r"fs-[0-9a-f]{8,}",
                      r"[0-9a-f]", prefix="fs-")
SECURITY_GROUP = Form("a security group id like sg-0a1b2c3d", r"sg-[0-9a-f]+", r"[0-9a-f]", prefix="sg-")
# botocore's ModelPackageGroupName without the ARN form: no trailing hyphen.
MODEL_PACKAGE_GROUP = Form("letters, digits and hyphens, starting and ending with a letter or digit",
                           r"[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?", r"[a-zA-Z0-9-]", first=r"[a-zA-Z0-9]",
                           last=r"[a-zA-Z0-9]")


# --- S3 URIs ------------------------------------------------------------------------------------

# SageMaker's pattern for S3Uri and S3OutputPath; the https form is an S3 endpoint URL.
S3_URI_PATTERN = r"^(https|s3)://([^/]+)/?(.*)$"
S3_WORDS = ("an S3 URI: s3://<bucket>/<prefix>, or an S3 https URL (https://s3.<region>.amazonaws.com/<bucket>/"
            "<prefix> or https://<bucket>.s3.<region>.amazonaws.com/<prefix>)")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
# Path-style (s3.amazonaws.com, s3.<region>..., s3-<region>..., s3.dualstack.<region>...) and
# virtual-hosted (<bucket>. before any of those); .com.cn in the China regions.
_S3_HOST = re.compile(r"(?:(?P<bucket>[a-z0-9][a-z0-9.\-]*[a-z0-9])\.)?"
                      r"s3(?:[.-](?:dualstack\.)?[a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?")


class S3Ref(NamedTuple):
    bucket: str
    key: str  # '' for the whole bucket


def parse_s3_uri(uri: str) -> S3Ref:
    """Bucket and key of an `s3://` URI or an S3 `https://` URL; raises ValueError saying what is wrong."""
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme not in ("s3", "https"):
        got = excerpt(uri, 0, len(scheme) + len(sep) if sep else min(len(uri), 8))
        raise ValueError(f"expected {S3_WORDS}: must start with s3:// or https:// (got {got})")
    breaks = [i for i, c in enumerate(uri) if c in "\n\r\x85\u2028\u2029"]
    if breaks:
        raise ValueError(f"must be on one line: a line break at character {breaks[0] + 1} (got "
                         f"{excerpt(uri, breaks[0])})")
    host, _, path = rest.partition("/")
    at = len(scheme) + 3  # where the host starts
    if scheme == "s3":
        bucket, key = host, path
    else:
        m = _S3_HOST.fullmatch(host.lower())
        if not m:
            raise ValueError(f"expected {S3_WORDS}: {host!r} is not an S3 endpoint (got "
                             f"{excerpt(uri, at, at + len(host))})")
        if m.group("bucket"):
            bucket, key = m.group("bucket"), path
        else:
            bucket, _, key = path.partition("/")
            at += len(host) + 1
            if not bucket:
                raise ValueError(f"expected {S3_WORDS}: the URL names no bucket after the endpoint (got "
                                 f"{excerpt(uri)})")
    if not _BUCKET.fullmatch(bucket):
        got = excerpt(uri, at, at + len(bucket))
        raise ValueError(f"{excerpt(bucket)} is not a bucket name: 3-63 lowercase letters, digits, dots and "
                         f"hyphens, starting and ending with a letter or digit (got {got})")
    return S3Ref(bucket, key)


def _validate_s3(uri: str) -> str:
    parse_s3_uri(uri)
    return uri  # passed to SageMaker unchanged


def _validate_code_archive(uri: str) -> str:
    # The SDK uploads sourcedir.tar.gz and sends its s3:// URI; the training toolkit downloads and unpacks it.
    if not uri.startswith("s3://"):
        raise ValueError(f"expected the s3:// URI of a .tar.gz code archive: must start with s3:// (got "
                         f"{excerpt(uri, 0, 8)})")
    key = parse_s3_uri(uri).key
    if not key.endswith(".tar.gz"):
        raise ValueError(f"expected the s3:// URI of a .tar.gz code archive: must end with .tar.gz (got "
                         f"{excerpt(uri, max(len(uri) - 7, 0), len(uri))})")
    return uri


CODE_ARCHIVE_PATTERN = r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/.+\.tar\.gz$"
CODE_ARCHIVE_SCHEMA = Field(json_schema_extra={"pattern": CODE_ARCHIVE_PATTERN}, max_length=1024,
                            description="Script mode: the S3 URI of the code archive (a .tar.gz, like the SDK's "
                                        "sourcedir.tar.gz).")
CODE_ARCHIVE_CHECK = AfterValidator(_validate_code_archive)

S3_URI_SCHEMA = Field(json_schema_extra={"pattern": S3_URI_PATTERN}, max_length=1024,
                      description="s3://bucket/prefix/ or an S3 https:// URL")
S3_URI_CHECK = AfterValidator(_validate_s3)
