"""Training code from the repository: `algorithm.source_dir` packaged as the SDK's `sourcedir.tar.gz`.

The archive is deterministic, so the same files give the same bytes and digest on any machine: entries
sorted by path, every mtime 0, uid/gid 0 with empty owner names, modes 0644 (0755 when the owner may
execute), a gzip header with mtime 0 and no file name. Python bytecode caches (`__pycache__`, `*.pyc`)
are left out: a local run writes them and they would change the digest without a change to the code.

Where the folder is at hand (the CLI, `cdk synth`) the loader writes the archive's sha256 into the spec
as `algorithm.source_sha256`: it is part of the job-name digest, so changed code is a new study version,
never a warm start that looks like the old code. The archive's place in the stack's artifacts bucket
(`code/<study>/<sha256>/sourcedir.tar.gz`) follows from the study and the digest, so rendering needs nothing else.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from amt_conductor.spec.errors import FieldError
from amt_conductor.spec.model import Spec

ARCHIVE_NAME = "sourcedir.tar.gz"
MAX_ARCHIVE_BYTES = 100 * 1024 * 1024  # a training script's folder, not a data set
SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".ipynb_checkpoints"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")
CODE_PREFIX = "code/"  # in the artifacts bucket, beside training/ outputs and reports/


class SourceDirError(ValueError):
    """The folder cannot become a code archive; says why."""


def files(folder: Path) -> Iterator[tuple[str, Path]]:
    """(archive path, file) for every file the archive holds, sorted by archive path."""
    found: list[tuple[str, Path]] = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if any(part in SKIPPED_DIRS for part in rel.parts) or path.suffix in SKIPPED_SUFFIXES:
            continue
        if path.is_symlink():
            raise SourceDirError(f"{rel.as_posix()} is a symbolic link; the archive holds plain files only")
        if path.is_file():
            found.append((rel.as_posix(), path))
    yield from sorted(found)


def build_archive(folder: Path) -> bytes:
    """The folder as a deterministic sourcedir.tar.gz (the same files give the same bytes)."""
    if not folder.is_dir():
        raise SourceDirError("not a folder")
    raw = io.BytesIO()
    size = 0
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, path in files(folder):
            data = path.read_bytes()
            size += len(data)
            if size > MAX_ARCHIVE_BYTES:
                raise SourceDirError(f"holds more than {MAX_ARCHIVE_BYTES // 2**20} MiB; ship data as a channel")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def digest(archive: bytes) -> str:
    """The archive's sha256, hex: its identity in job names and its asset key."""
    return hashlib.sha256(archive).hexdigest()


def folder_of(spec_dir: Path, source_dir: str) -> Path:
    """The folder `source_dir` names, relative to the folder holding the spec."""
    return (spec_dir / source_dir).resolve()


def resolve_document(doc: Any, spec_dir: Path) -> list[FieldError]:
    """Write `algorithm.source_sha256` into a spec document whose `algorithm.source_dir` names a folder beside
    it; the problems with that folder otherwise (the document is left for the model to report other errors)."""
    algo = doc.get("algorithm") if isinstance(doc, dict) else None
    if not isinstance(algo, dict):
        return []
    source_dir = algo.get("source_dir")
    if not isinstance(source_dir, str) or not source_dir or PurePosixPath(source_dir).is_absolute():
        return []  # the model reports a missing, empty or absolute path
    folder = folder_of(spec_dir, source_dir)
    if not folder.is_dir():
        return [FieldError("algorithm.source_dir", f"no folder {source_dir!r} next to the spec ({folder})")]
    entry = algo.get("entry_point")
    if isinstance(entry, str) and entry and not (folder / entry).is_file():
        return [FieldError("algorithm.entry_point", f"{entry!r} is not a file in source_dir {source_dir!r}")]
    try:
        sha = digest(build_archive(folder))
    except (SourceDirError, OSError) as exc:
        return [FieldError("algorithm.source_dir", f"{source_dir!r}: {exc}")]
    given = algo.get("source_sha256")
    if given is not None and given != sha:
        return [FieldError("algorithm.source_sha256", "does not match the archive of source_dir (amt writes it; "
                                                      "leave it out)")]
    algo["source_sha256"] = sha
    return []


def code_key(study: str, sha256: str) -> str:
    """The archive's key in the stack's artifacts bucket: one object per study and code version."""
    return f"{CODE_PREFIX}{study}/{sha256}/{ARCHIVE_NAME}"


def code_uri(study: str, sha256: str, *, bucket: str) -> str:
    """Where the stack ships a study's archive: s3://<artifacts bucket>/code/<study>/<sha256>/sourcedir.tar.gz."""
    return f"s3://{bucket}/{code_key(study, sha256)}"


def source_dir_rule(spec: Spec) -> Iterator[FieldError]:
    """source_dir is one of two ways to give the code, and its digest comes from the folder, read by amt."""
    algo = spec.algo  # a single-algorithm spec or one definition's view (see amt_conductor.spec.rules.check_rules)
    if algo.source_dir is not None and algo.source is not None:
        yield FieldError("algorithm.source_dir", "give one of source (an S3 code archive) or source_dir (a folder)")
    if algo.source_sha256 is not None and algo.source_dir is None:
        yield FieldError("algorithm.source_sha256", "only with source_dir (amt writes it from the folder)")
    if algo.source_dir is not None and algo.source_sha256 is None:
        yield FieldError("algorithm.source_dir", "the folder was not at hand: a spec with source_dir ships its code "
                                                 "with cdk deploy from configs/ (amt reads the folder beside the "
                                                 "spec file); upload specs that name an S3 archive as source")


def deployable_spec(path: Path) -> bytes:
    """The spec file as the stack deploys it: unchanged, or, when it names a source_dir, as JSON with
    `algorithm.source_sha256` written in (the deployed runtime has no folder to read; JSON is YAML too)."""
    import json

    from amt_conductor.spec.errors import SpecError
    from amt_conductor.spec.sourcetext import apply_source_text
    from amt_conductor.spec.yamlsafe import load_yaml

    body = path.read_bytes()
    if b"source_dir" not in body:
        return body
    # Text fields keep the text written (`version: 2.10` stays "2.10"), as the loader reads them.
    doc = apply_source_text(*load_yaml(body.decode("utf-8-sig")))
    problems = resolve_document(doc, path.parent)
    if problems:
        raise SpecError(str(path), problems)
    algo = doc.get("algorithm") if isinstance(doc, dict) else None
    if not isinstance(algo, dict) or "source_sha256" not in algo:
        return body
    return json.dumps(doc, indent=2).encode()
