"""`make mutate [MODULE=render]`: mutation testing (mutmut 3) of the modules where a silent mistake costs most.

The code is a src layout (`src/amt_conductor/...`), which mutmut understands: it copies `src/` into
`mutants/src/`, puts that first on `sys.path`, and names a mutant after the module the tests import
(`src/amt_conductor/spec/rules.py` -> `amt_conductor.spec.rules.x_rules__mutmut_3`). The handlers
(`lambda/handlers`, installed as `amt_conductor.handlers`) are not mutated: the editable install's finder
still finds them, and they import the mutated `amt_conductor` from `mutants/src/`.

Each module runs in its own stage, build/mutate/<module>/ (symlinks to the checkout and a generated
pyproject.toml that tells mutmut which one file to mutate and which tests to run), so modules run and
resume apart. Resumable: mutmut keeps each mutant's verdict in build/mutate/<module>/mutants/ and
regenerates (and re-tests) only the mutants of functions whose source changed. Each mutant runs only the
tests that executed its function (mutmut maps them in a first, full run of the module's test files). The
score per module, and the surviving mutants (each either an equivalent mutant, explained in
scripts/mutation_equivalents.toml, or a gap to close), go to docs/testing.md.

Environment: MUTATE_JOBS (mutmut child processes, default 1), MUTATE_RERUN=survivors (re-test the
survivors, to see new tests kill them), MUTATE_ONLY="resume_job stop_run" (only those functions' untested
mutants, after a first run generated them), MUTATE_REPORT_ONLY=1 (rewrite the doc's table, run nothing).
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGE = ROOT / "build" / "mutate"
DOC = ROOT / "docs" / "testing.md"
EQUIVALENTS = ROOT / "scripts" / "mutation_equivalents.toml"
BEGIN, END = "<!-- mutation-score:begin -->", "<!-- mutation-score:end -->"
PKG = "src/amt_conductor"

U = "tests/unit/"
HANDLERS = tuple(f"{U}test_handlers_{h}.py" for h in ("start", "prepare", "launch", "resume", "reconcile", "report",
                                                       "stop", "record_failure"))


SPEC_FIELDS = tuple(f"{U}test_{t}.py" for t in ("autotune", "multi_algorithm", "script_mode", "source_dir",
                                                 "source_text", "spec_api_fields", "forms"))


@dataclass(frozen=True)
class Module:
    file: str                 # what mutmut mutates (relative to the checkout)
    patterns: tuple[str, ...]  # the mutant names that belong to the module
    tests: tuple[str, ...]     # the test files that exercise it (mutmut maps each function to its tests within)
    part: bool = False         # only some functions of the file are in scope


def _module(file: str, tests: tuple[str, ...], functions: tuple[str, ...] = ()) -> Module:
    """mutmut names a mutant after the module the tests import (src/ dropped): amt_conductor.spec.rules.x_..."""
    dotted = file.removeprefix("src/").removesuffix(".py").replace("/", ".")
    if functions:
        return Module(file, tuple(f"{dotted}.x_{f}__mutmut_*" for f in functions), tests, part=True)
    return Module(file, (f"{dotted}.*",), tests)


MODULES: dict[str, Module] = {
    "naming": _module(f"{PKG}/spec/naming.py", (f"{U}test_naming.py", f"{U}test_determinism.py",
                                                f"{U}test_spec_rules.py", f"{U}test_handlers_start.py")),
    # The spec's fields of issue 8 (autotune, multi-algorithm, script mode, file systems...) have test files of
    # their own, which check both what the rules refuse and what the request holds.
    "rules": _module(f"{PKG}/spec/rules.py", (f"{U}test_spec_rules.py", f"{U}test_spec_loader.py",
                                              f"{U}test_spec_yaml.py", f"{U}test_examples.py", f"{U}test_plan.py",
                                              *SPEC_FIELDS, f"{U}test_metrics.py", f"{U}test_rule_messages.py",
                                              f"{U}test_augmented_manifest.py", f"{U}test_durations.py",
                                              f"{U}test_cli_check_metrics.py", f"{U}test_promote.py",
                                              f"{U}test_data_trigger.py")),
    "render": _module(f"{PKG}/spec/render.py", (f"{U}test_render.py", f"{U}test_determinism.py", f"{U}test_cli.py",
                                                *SPEC_FIELDS, f"{U}test_augmented_manifest.py", f"{U}test_import.py",
                                                f"{U}test_import_corpus.py")),
    "warmstart": _module(f"{PKG}/spec/warmstart.py", (f"{U}test_warmstart.py", f"{U}test_warmstart_new_fields.py",
                                                      f"{U}test_handlers_prepare.py")),
    # Promote and record_failure read the round's spec through rounds.load_spec.
    "rounds": _module(f"{PKG}/runtime/rounds.py", (f"{U}test_handlers_prepare.py", f"{U}test_handlers_report.py",
                                                   f"{U}test_handlers_record_failure.py", f"{U}test_promote.py")),
    # The stop decisions live in reports.py beside the report rendering; only they are in scope.
    "stop": _module(f"{PKG}/runtime/reports.py", (f"{U}test_reports.py", f"{U}test_handlers_report.py"),
                    functions=("decide_next", "target_reached", "improvement")),
    # Admission (capacity, the queue) is called by reconcile and stop; data triggers and promotion write
    # through the registry.
    "workflow": _module(f"{PKG}/runtime/workflow.py", (*HANDLERS, f"{U}test_admission.py")),
    "registry": _module(f"{PKG}/runtime/registry.py", (f"{U}test_registry.py", *HANDLERS, f"{U}test_admission.py",
                                                       f"{U}test_data_trigger.py", f"{U}test_promote.py")),
    # The statements built in a small stack and judged by an IAM evaluator (seconds per mutant); the synth
    # tests (test_iam.py) are left out: mutmut maps a session fixture's work to one test, and a synth per
    # mutant would make the run take hours. Plus the other tests that build roles.py statements directly.
    "roles": _module(f"{PKG}/cdk/roles.py", (
        "tests/infra/test_role_statements.py", "tests/infra/test_https_scope.py",
        "tests/infra/test_local_storage_kms.py",
        "tests/infra/test_kms.py::test_an_alias_arn_of_another_account_is_not_rescoped_to_ours",
        f"{U}test_spec_api_fields.py::test_checkpoint_location_is_readable_and_writable_by_the_execution_role",
        f"{U}test_script_mode.py::test_framework_images_are_granted_by_their_repository_not_any")),
}
# Symlinked into each module's stage: `src` is what mutmut copies and mutates (one file of it); the rest it
# copies beside (`also_copy`) because the tests read them (the handlers, the CDK app, configs/ and the code
# their specs name in training/, docs).
LINKS = ("src", "lambda", "stacks", "tests", "configs", "training", "examples", "scripts", "app.py", "cdk.json",
         "README.md", "docs", "bench")
# A test that reads the source text rather than running it: no mutant changes its verdict.
DESELECT = ("tests/infra/test_observability.py::test_the_dashboard_graphs_only_metrics_the_handlers_emit",)


def _pyproject(module: Module) -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pytest_ini = project["tool"]["pytest"]["ini_options"]
    markers = ", ".join(json.dumps(m) for m in pytest_ini["markers"])
    warnings = ", ".join(json.dumps(w) for w in pytest_ini["filterwarnings"])
    return f"""# Generated by scripts/mutate.py for mutmut; not the project's pyproject.toml.
[tool.mutmut]
source_paths = ["src"]
only_mutate = {json.dumps([module.file])}
# Log lines are for operators, not behaviour a user depends on (metrics are kept: alarms read them). An IAM
# statement's Sid is a label (IAM evaluates Effect, Action, Resource, Condition); roles.py puts each `sid=` on a
# line of its own. Renaming one would change nothing IAM decides (test_role_statements checks they stay unique).
do_not_mutate_patterns = ['^\\s*logger\\.(debug|info|warning|exception)\\(', '^\\s*sid=']
also_copy = {json.dumps([p for p in LINKS if p != "src"])}
pytest_add_cli_args = {json.dumps([a for d in DESELECT for a in ("--deselect", d)] + ["-p", "no:cacheprovider"])}
pytest_add_cli_args_test_selection = {json.dumps(list(module.tests))}

[tool.pytest.ini_options]
# pytest runs in mutants/: "src" is the mutated copy (the original is never on sys.path).
pythonpath = ["src", "."]
testpaths = ["tests"]
markers = [{markers}]
filterwarnings = [{warnings}]
"""


def stage(name: str) -> Path:
    """build/mutate/<module>/: its own mutants, test map and results, so modules run (and resume) apart."""
    module, where = MODULES[name], STAGE / name
    where.mkdir(parents=True, exist_ok=True)
    for link_name in LINKS:
        link, target = where / link_name, ROOT / link_name
        if link.is_symlink() and link.resolve() == target.resolve():
            continue
        if link.is_symlink() or link.is_file():
            link.unlink()
        elif link.exists():
            shutil.rmtree(link)
        link.symlink_to(target)
    (where / "pyproject.toml").write_text(_pyproject(module))
    # mutmut copies a source file into mutants/ only once; refresh the files it does not mutate so the
    # mutants run against today's code (the mutated one it regenerates itself when its source changes),
    # and drop copies of files that no longer exist (a module moved away must not shadow nothing).
    copies = where / "mutants" / "src"
    for src in (ROOT / "src").rglob("*.py"):
        rel = src.relative_to(ROOT)
        copy = where / "mutants" / rel
        if str(rel) != module.file and copy.exists() and copy.read_bytes() != src.read_bytes():
            shutil.copy2(src, copy)
    if copies.exists():
        for copy in copies.rglob("*.py"):
            if not (ROOT / copy.relative_to(where / "mutants")).exists():
                copy.unlink()
    return where


def _selection(name: str) -> list[str] | None:
    """The mutant names to pass to `mutmut run`, [] for none left to test, None for "let mutmut choose".

    mutmut re-tests every mutant named on its command line, and tests only untested ones when none is named.
    A module that owns its whole file names none (resumable as it is). `stop` shares reports.py with the
    report rendering: it names its own untested mutants, or its patterns when the file changed since the
    last run (mutmut then regenerates the changed functions' mutants). MUTATE_RERUN=survivors names the
    survivors again, to see the tests added since kill them."""
    module, where = MODULES[name], STAGE / name
    meta = where / "mutants" / f"{module.file}.meta"
    found = verdicts(name)
    mine = {n: v for n, v in found.items() if any(fnmatch.fnmatch(n, p) for p in module.patterns)}
    if os.environ.get("MUTATE_RERUN") == "survivors":
        known = equivalents()  # listed with a reason: re-testing them only costs time
        return sorted(n for n, v in mine.items() if v in ("survived", "no tests", "suspicious") and n not in known)
    if os.environ.get("MUTATE_SAMPLE"):
        if not mine:  # mutmut has not generated this module's mutants yet: test each function's first to do so
            return [p.replace("__mutmut_*", "__mutmut_1").replace(".*", ".x*__mutmut_1") for p in module.patterns]
        return _sample(name, mine, int(os.environ["MUTATE_SAMPLE"]))
    only = os.environ.get("MUTATE_ONLY", "").replace(",", " ").split()
    if only and mine:  # these functions' untested mutants first (a part of a big module, when time is short)
        return sorted(n for n, v in mine.items() if v == "not checked"
                      and any(fnmatch.fnmatch(n.rpartition(".")[2].partition("__mutmut_")[0], f"*{f}") for f in only))
    if not module.part:
        return None
    digest = hashlib.sha256((ROOT / module.file).read_bytes()).hexdigest()
    stamp = where / "source.sha256"
    if not meta.exists() or not stamp.exists() or stamp.read_text() != digest:
        stamp.write_text(digest)
        return list(module.patterns)
    return sorted(n for n, v in mine.items() if v == "not checked")


def _sample_file(name: str) -> Path:
    return STAGE / name / "sample.json"


def _sample(name: str, mine: dict[str, str], n: int) -> list[str]:
    """`n` more of the module's untested mutants, drawn at random (seeded: the same draw on every machine).

    The first draw records its population, the mutants then untested; later draws take from what is left of
    it, so all draws together are one uniform sample of that population. The score table estimates the
    mutants still untested from the sample's kill rate (mutation sampling). A population whose mutants mutmut
    has since renumbered (its source changed) starts over."""
    equivalent = equivalents()
    path = _sample_file(name)
    state = json.loads(path.read_text()) if path.exists() else {}
    if not state or any(m not in mine for m in state.get("population", [])):
        population = sorted(m for m, v in mine.items() if v == "not checked" and m not in equivalent)
        state = {"population": population, "sampled": []}
    left = sorted(set(state["population"]) - set(state["sampled"]))
    draw = random.Random(f"{name}:{len(state['sampled'])}").sample(left, min(n, len(left)))
    state["sampled"] = sorted(set(state["sampled"]) | set(draw))
    path.write_text(json.dumps(state, indent=1))
    print(f"==> {name}: {len(draw)} mutants drawn at random ({len(state['sampled'])} of "
          f"{len(state['population'])} sampled so far)", flush=True)
    return sorted(draw)


def record_first_verdicts(name: str) -> None:
    """Keep each sampled mutant's first verdict in sample.json. The estimate takes the untested mutants' kill
    rate from these: the sample's survivors then get tests (that is what the sample is for), which makes the
    sample's later verdicts better than what the untested rest would show; its first ones are not."""
    path = _sample_file(name)
    if not path.exists():
        return
    state = json.loads(path.read_text())
    found = verdicts(name)
    first = state.setdefault("first", {})
    new = {m: found[m] for m in state["sampled"]
           if m not in first and found.get(m, "not checked") not in ("not checked", "skipped")}
    if new:
        first.update(new)
        path.write_text(json.dumps(state, indent=1))


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval of a proportion k/n."""
    if not n:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def estimate(name: str, mine: dict[str, str], equivalent: dict[str, str]) -> str:
    """The whole module's score, its untested mutants estimated from the random sample: '' without one."""
    path = _sample_file(name)
    if not path.exists():
        return ""
    state = json.loads(path.read_text())
    sampled = [m for m in state["sampled"] if mine.get(m, "not checked") not in ("not checked", "skipped")]
    if not sampled or any(m not in mine for m in state["population"]):
        return ""
    first = state.get("first", {})
    eq = sum(m in equivalent for m in sampled)
    judged = [m for m in sampled if m not in equivalent]
    k = sum(first.get(m, mine[m]) in ("killed", "timeout") for m in judged)  # as first tested
    done = {m: v for m, v in mine.items() if v not in ("not checked", "skipped") and m not in equivalent}
    killed = sum(v in ("killed", "timeout") for v in done.values())
    rest = sum(v in ("not checked", "skipped") and m not in equivalent for m, v in mine.items())
    rest_judged = rest * (1 - eq / len(sampled))  # the untested ones the sample says are not equivalent
    low, high = _wilson(k, len(judged))
    total = len(done) + rest_judged

    def pct(rate: float) -> str:
        return f"{100 * (killed + rate * rest_judged) / total:.1f}%" if total else "-"

    return f"{pct(k / len(judged) if judged else 0.0)} ({pct(low)}-{pct(high)}; {len(sampled)} sampled)"


HANG_S = float(os.environ.get("MUTATE_HANG_S", "600"))  # a mutant's child this long without using CPU is hung


def _cpu_ticks(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime


def hung_children(seen: dict[int, tuple[int, float]], now: float, limit_s: float = HANG_S) -> list[tuple[int, str]]:
    """mutmut's children ("mutmut: NAME" processes) that used no CPU for `limit_s` seconds of wall time.

    mutmut limits a mutant's CPU time, not its wall time: a child forked from a process with threads can
    deadlock on a lock held at the fork and then waits forever using no CPU (seen once in the rules run: a
    mutant of a message string, 30 minutes asleep). `seen` maps pid -> (CPU ticks, when they last changed)."""
    hung = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            title = (proc / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace").strip()
        except OSError:
            continue
        if not title.startswith("mutmut: "):
            continue
        pid, ticks = int(proc.name), _cpu_ticks(int(proc.name))
        if ticks is None:
            continue
        last = seen.get(pid)
        if last is None or last[0] != ticks:
            seen[pid] = (ticks, now)
        elif now - last[1] >= limit_s:
            hung.append((pid, title.removeprefix("mutmut: ")))
    return hung


def _watch(proc: subprocess.Popen[bytes], interval_s: float = 15.0) -> int:
    """Wait for mutmut, killing hung children: mutmut records a killed child as suspicious (not killed),
    listed with the survivors, and MUTATE_RERUN=survivors tests it again."""
    import signal
    import time

    seen: dict[int, tuple[int, float]] = {}
    while True:
        try:
            return proc.wait(timeout=interval_s)
        except subprocess.TimeoutExpired:
            pass
        for pid, mutant in hung_children(seen, time.monotonic()):
            print(f"\n==> {mutant}: no CPU used for {HANG_S:g} s, hung; killed (listed as suspicious: "
                  "MUTATE_RERUN=survivors tests it again)", flush=True)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            seen.pop(pid, None)


def run(name: str, children: int) -> int:
    where = stage(name)
    record_first_verdicts(name)  # before a re-run of survivors changes them
    names = _selection(name)
    if names == []:
        print(f"==> {name}: every mutant already has a verdict (MUTATE_RERUN=survivors re-tests the survivors)")
        return 0
    cmd = [str(Path(sys.executable).with_name("mutmut")), "run", "--max-children", str(children), *(names or [])]
    print(f"==> mutmut over {name} ({children} child process(es)); resumable, Ctrl-C is safe", flush=True)
    code = _watch(subprocess.Popen(cmd, cwd=where, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}))
    record_first_verdicts(name)
    return code


def verdicts(name: str) -> dict[str, str]:
    """mutant name -> killed | survived | no tests | timeout | not checked | ... (from mutmut's meta files)."""
    names = {0: "survived", 1: "killed", 3: "killed", 5: "no tests", 33: "no tests", 34: "skipped",
             36: "timeout", 37: "caught by type check", None: "not checked"}
    out: dict[str, str] = {}
    meta = STAGE / name / "mutants" / f"{MODULES[name].file}.meta"
    if meta.exists():
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            out[name] = names.get(code, "suspicious")
    return out


def equivalents() -> dict[str, str]:
    return tomllib.loads(EQUIVALENTS.read_text()).get("equivalent", {}) if EQUIVALENTS.exists() else {}


def _previous_rows() -> dict[str, str]:
    """The doc's current rows by module, for modules this checkout has no results for (measured elsewhere:
    another machine, another branch). Rows written before the `measured on` column get the old block's commit."""
    block = DOC.read_text().partition(BEGIN)[2].partition(END)[0] if DOC.exists() else ""
    legacy = re.search(r"on commit `([0-9a-f]+)`", block)
    rows: dict[str, str] = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 9 or cells[0] not in MODULES or cells[-1] == "not run":
            continue
        if len(cells) == 9:  # measured before the package move: the file is where the module lives now
            cells[1] = f"`{MODULES[cells[0]].file}`"
            cells.append(f"`{legacy.group(1)}` (before the package move)" if legacy else "earlier")
        if len(cells) == 10:  # written before the estimate column
            cells.insert(9, cells[8] if cells[7] == "0" else "-")
        rows[cells[0]] = "| " + " | ".join(cells) + " |"
    return rows


def score_table(ran: frozenset[str] = frozenset()) -> str:
    """The score block; rows of modules in `ran` are stamped with HEAD, the others keep their stamp (their
    results may be older than HEAD: a report-only rewrite, or another module's run, measures nothing new)."""
    equivalent = equivalents()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    previous = _previous_rows()
    rows = ["| module | file | mutants | killed | timeout | equivalent | survived | not run | score | whole module, "
            "estimated | measured on |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    survivors: list[str] = []
    for module, m in MODULES.items():
        path = m.file
        mine = {n: v for n, v in verdicts(module).items() if any(fnmatch.fnmatch(n, p) for p in m.patterns)}
        if not mine and module in previous:
            rows.append(previous[module])
            continue
        killed = sum(v == "killed" for v in mine.values())
        timeout = sum(v == "timeout" for v in mine.values())
        eq = sum(v != "killed" and n in equivalent for n, v in mine.items())
        left = sorted(n for n, v in mine.items() if v in ("survived", "no tests", "suspicious") and n not in equivalent)
        unrun = sum(v in ("not checked", "skipped") and n not in equivalent for n, v in mine.items())
        judged = killed + timeout + len(left)
        score = f"{100 * (killed + timeout) / judged:.1f}%" if judged and not unrun else "not run" if not judged \
            else f"{100 * (killed + timeout) / judged:.1f}% (partial)"
        stamp = previous[module].strip().strip("|").split("|")[-1].strip() if module in previous else ""
        when = f"`{commit}`, {today}" if mine and (module in ran or not stamp) else stamp
        whole = score.removesuffix(" (partial)") if not unrun else estimate(module, mine, equivalent) or "-"
        rows.append(f"| {module} | `{path}` | {len(mine)} | {killed} | {timeout} | {eq} | {len(left)} | {unrun} "
                    f"| {score} | {whole} | {when} |")
        survivors += [f"- `{n}` ({mine[n]})" for n in left]
    out = ["Each row describes the code and tests of the commit in its last column: `make mutate` stamps the rows of "
           "the modules it ran with the checked-out commit (commit before running it), and keeps the other rows' "
           "stamps (a report-only rewrite measures nothing).", "",
           *rows, "",
           "Score = (killed + timeout) / (mutants - equivalent - not run). Equivalent mutants, each with "
           "why it cannot change behaviour, are in `scripts/mutation_equivalents.toml`. Where mutants were not "
           "run, the next column estimates the whole module's score: the tested ones as they are, the untested "
           "ones killed at the rate a random sample of them (`MUTATE_SAMPLE`) was killed when first tested (before "
           "tests were written for its survivors), with the 95% interval of that rate, and as many of them "
           "equivalent as in the sample.", ""]
    out += (["Surviving mutants of the modules measured here (no test fails; "
             "`cd build/mutate/MODULE && ../../../.venv/bin/mutmut show NAME`):", "", *survivors] if survivors
            else ["No surviving mutants outside the equivalent list in the modules measured here."])
    return "\n".join(out)


def write_doc(ran: frozenset[str] = frozenset()) -> None:
    text = DOC.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    DOC.write_text(f"{head}{BEGIN}\n{score_table(ran)}\n{END}{tail}")
    print(f"==> score written to {DOC.relative_to(ROOT)}")


def main(argv: list[str]) -> int:
    wanted = [m for a in argv for m in a.replace(",", " ").split()] or list(MODULES)
    unknown = [m for m in wanted if m not in MODULES]
    if unknown:
        print(f"unknown MODULE {', '.join(unknown)}; one or more of: {', '.join(MODULES)}", file=sys.stderr)
        return 2
    children = int(os.environ.get("MUTATE_JOBS", "1"))
    code = 0
    for name in wanted:
        record_first_verdicts(name)
    ran: set[str] = set()
    for name in [] if os.environ.get("MUTATE_REPORT_ONLY") else wanted:
        code = run(name, children) or code
        ran.add(name)
        write_doc(frozenset(ran))  # after each module, so an interrupted run still leaves the finished modules' scores
    write_doc(frozenset(ran))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
