"""Cross-field rules: what SageMaker would reject that no single field can tell.

Each rule is a function of the whole spec yielding `FieldError`s; `check_rules` runs them
all so a file's every problem is reported at once. Limits are from the
CreateHyperParameterTuningJob API model and the AMT developer guide.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from amt.budget import worst_case_instance_hours
from amt.errors import FieldError
from amt.model import CategoricalRange, ContinuousRange, IntegerRange, Spec
from amt.naming import ROUND_HORIZON, max_study_name_length

MAX_RANGES = 30
MAX_HYPERPARAMETERS = 100  # static + tunable, and SageMaker adds `_tuning_objective_metric`
MAX_JOBS = {"random": 10_000}
MAX_JOBS_DEFAULT = 750
MAX_HYPERBAND_RESOURCE = 20_000
REFERENCE_REGION = "us-east-1"
EPOCH_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
_RATE = re.compile(r"^rate\(\s*[1-9]\d*\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\(\s*\S+(\s+\S+){5}\s*\)$")
# AWS tags: letters, numbers, separators (\p{Z}: spaces, not tabs or line breaks) and _ . : / = + - @
_TAG = re.compile(r"^(?:[\w.:/=+\-@]|[^\S\t\n\r\f\v\x1c-\x1f\x85])*$")
_KMS = re.compile(
    r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|alias/[\w/\-]+|"
    r"arn:aws[a-z\-]*:kms:[a-z0-9\-]+:\d{12}:(key/[0-9a-f\-]+|alias/[\w/\-]+))$"
)
_IMAGE = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9\-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/\-]+([:@][\w.\-:]+)?$")

Rule = Callable[[Spec], Iterator[FieldError]]


def check_rules(spec: Spec) -> list[FieldError]:
    """Every cross-field problem in `spec` (empty when SageMaker would accept it)."""
    return [problem for rule in RULES for problem in rule(spec)]


def ranges_rule(spec: Spec) -> Iterator[FieldError]:
    if not spec.ranges:
        yield FieldError("ranges", "at least one hyperparameter range is needed to tune")
    if len(spec.ranges) > MAX_RANGES:
        yield FieldError("ranges", f"{len(spec.ranges)} ranges; SageMaker tunes at most {MAX_RANGES}")
    for name, r in spec.ranges.items():
        where = f"ranges.{name}"
        if isinstance(r, ContinuousRange | IntegerRange):
            if r.min >= r.max:
                yield FieldError(f"{where}.max", f"must be greater than min ({r.min}) (got {r.max})")
            if r.scaling == "log" and r.min <= 0:
                yield FieldError(f"{where}.min", f"must be > 0 for log scaling (got {r.min})")
            if r.scaling == "reverse_log":
                if isinstance(r, IntegerRange):
                    yield FieldError(f"{where}.scaling", "reverse_log is only for continuous ranges")
                elif r.min < 0 or r.max >= 1:
                    yield FieldError(where, f"reverse_log needs 0 <= min < max < 1 (got min {r.min}, max {r.max})")


def hyperparameters_rule(spec: Spec) -> Iterator[FieldError]:
    both = sorted(set(spec.hyperparameters) & set(spec.ranges))
    for name in both:
        yield FieldError(f"hyperparameters.{name}", "is also tuned in ranges; a hyperparameter is static or "
                                                   "tuned, not both")
    total = len(set(spec.hyperparameters) | set(spec.ranges)) + 1
    if total > MAX_HYPERPARAMETERS:
        yield FieldError("hyperparameters", f"{total - 1} static + tuned hyperparameters; at most "
                                            f"{MAX_HYPERPARAMETERS - 1} (SageMaker adds one of its own)")
    for name in spec.hyperparameters:
        if name.startswith("_"):
            yield FieldError(f"hyperparameters.{name}", "names starting with '_' are reserved by SageMaker")


def strategy_rule(spec: Spec) -> Iterator[FieldError]:
    res = spec.resources
    if spec.strategy == "grid":
        bad = [n for n, r in spec.ranges.items() if not isinstance(r, CategoricalRange)]
        for n in bad:
            yield FieldError(f"ranges.{n}.type", "grid search tunes only categorical ranges")
        if not bad and spec.ranges:
            combos = spec.grid_size()
            if res.max_jobs is not None and res.max_jobs != combos:
                yield FieldError("resources.max_jobs", f"must equal the grid's {combos} combinations for grid "
                                                       f"search, or be left out (got {res.max_jobs})")
            if combos > MAX_JOBS_DEFAULT:
                yield FieldError("ranges", f"the grid has {combos} combinations; grid search runs at most "
                                           f"{MAX_JOBS_DEFAULT}")
    elif res.max_jobs is None:
        yield FieldError("resources.max_jobs", f"required for {spec.strategy} search")
    limit = MAX_JOBS.get(spec.strategy, MAX_JOBS_DEFAULT)
    if res.max_jobs is not None and res.max_jobs > limit:
        yield FieldError("resources.max_jobs", f"at most {limit} for {spec.strategy} search (got {res.max_jobs})")
    jobs = spec.max_jobs_effective()
    if jobs and res.max_parallel_jobs > jobs:
        yield FieldError("resources.max_parallel_jobs", f"must be <= max_jobs ({jobs}) "
                                                        f"(got {res.max_parallel_jobs})")
    if spec.hyperband is not None and spec.strategy != "hyperband":
        yield FieldError("hyperband", f"only with strategy hyperband (strategy is {spec.strategy})")
    if spec.strategy == "hyperband":
        yield from _hyperband(spec)


def _hyperband(spec: Spec) -> Iterator[FieldError]:
    if spec.early_stopping != "off":
        yield FieldError("early_stopping", "must be off with hyperband (it stops jobs early itself)")
    hb = spec.hyperband
    max_resource = hb.max_resource if hb else None
    if max_resource is None:
        inferred = [k for k in EPOCH_KEYS if k in spec.hyperparameters]
        if not inferred:
            yield FieldError("hyperband.max_resource", "required: give it, or a static hyperparameter "
                                                       f"SageMaker infers it from ({', '.join(EPOCH_KEYS)})")
            return
        try:
            max_resource = int(spec.hyperparameters[inferred[0]])
        except ValueError:
            yield FieldError(f"hyperparameters.{inferred[0]}", "must be a whole number of epochs for hyperband")
            return
        if not 1 <= max_resource <= MAX_HYPERBAND_RESOURCE:
            yield FieldError(f"hyperparameters.{inferred[0]}", f"hyperband allows 1 to {MAX_HYPERBAND_RESOURCE} "
                                                               f"epochs (got {max_resource})")
    if hb and max_resource is not None and hb.min_resource > max_resource:
        yield FieldError("hyperband.min_resource", f"must be <= max_resource ({max_resource}) "
                                                   f"(got {hb.min_resource})")


def algorithm_rule(spec: Spec) -> Iterator[FieldError]:
    algo = spec.algorithm
    if (algo.image is None) == (algo.builtin is None):
        yield FieldError("algorithm", "give exactly one of builtin (with version) or image")
        return
    names = [m.name for m in algo.metrics]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        yield FieldError("algorithm.metrics", f"metric {dup!r} is defined twice")
    if algo.image is not None:
        if algo.version is not None:
            yield FieldError("algorithm.version", "only with builtin; a custom image carries its version in its tag")
        if not _IMAGE.fullmatch(algo.image):
            yield FieldError("algorithm.image", f"expected an ECR image URI like 123456789012.dkr.ecr.us-east-1."
                                                f"amazonaws.com/repo:tag (got {algo.image!r})")
        yield from _objective_among_metrics(spec, "a custom image")
    else:
        from amt.images import ImageError, catalog_info, check_builtin, resolve_image

        assert algo.builtin is not None
        problem = check_builtin(algo.builtin, algo.version)
        if problem:
            yield FieldError("algorithm.version" if "version" in problem else "algorithm.builtin", problem)
            return
        try:
            # us-east-1 carries every built-in image; this checks instance type and py_version offline.
            resolve_image(algo.builtin, algo.version, REFERENCE_REGION, instance_type=spec.resources.instance_type,
                          py_version=algo.py_version)
        except ImageError as exc:
            yield FieldError("algorithm.py_version" if "py_version" in str(exc) else "algorithm", str(exc))
            return
        if algo.builtin in catalog_info()["frameworks"]:
            # A framework image runs the user's script: SageMaker knows none of its metrics.
            yield from _objective_among_metrics(spec, f"the {algo.builtin} framework image")


def _objective_among_metrics(spec: Spec, what: str) -> Iterator[FieldError]:
    names = [m.name for m in spec.algorithm.metrics]
    if not names:
        yield FieldError("algorithm.metrics", f"{what} needs metric definitions (name and regex) for the objective")
    elif spec.objective.metric not in names:
        yield FieldError("objective.metric", f"{spec.objective.metric!r} is not among the image's metrics "
                                             f"({', '.join(names)})")


def limits_rule(spec: Spec) -> Iterator[FieldError]:
    res = spec.resources
    if spec.spot.max_wait is not None and not spec.spot.enabled:
        yield FieldError("spot.max_wait", "only with spot.enabled: true")
    wait = spec.spot_max_wait()
    if wait is not None and wait < res.max_runtime_per_job:
        yield FieldError("spot.max_wait", f"must be >= resources.max_runtime_per_job ({res.max_runtime_per_job}s) "
                                          f"(got {wait}s)")
    c = spec.completion
    if c is not None and c.target is None and c.max_jobs_not_improving is None and not c.stop_on_convergence:
        yield FieldError("completion", "sets nothing: give target, max_jobs_not_improving or stop_on_convergence")
    if spec.budget is not None and spec.max_jobs_effective():
        worst = worst_case_instance_hours(spec)
        if worst > spec.budget.max_instance_hours:
            per_job = "spot.max_wait" if spec.spot.enabled else "max_runtime_per_job"
            yield FieldError("budget.max_instance_hours",
                             f"one round may use {worst:g} instance-hours in the worst case (max_jobs "
                             f"{spec.max_jobs_effective()} x instance_count {res.instance_count} x {per_job} "
                             f"{(wait or res.max_runtime_per_job) / 3600:g}h), more than the budget of "
                             f"{spec.budget.max_instance_hours:g}")


def naming_rule(spec: Spec) -> Iterator[FieldError]:
    limit = max_study_name_length()
    if len(spec.name) > limit:
        yield FieldError("name", f"at most {limit} characters so job names (<name>-r<round>-<hash>) fit SageMaker's "
                                 f"32 up to round {ROUND_HORIZON}; every run of a study adds rounds "
                                 f"(got {len(spec.name)})")


def warm_start_rule(spec: Spec) -> Iterator[FieldError]:
    ws = spec.warm_start
    if ws is None:
        return
    for dup in sorted({p for p in ws.parents if ws.parents.count(p) > 1}):
        yield FieldError("warm_start.parents", f"{dup!r} is listed twice")
    if spec.strategy in ("grid", "hyperband"):
        yield FieldError("warm_start", f"SageMaker warm-starts bayesian and random search, not {spec.strategy}")


def rounds_rule(spec: Spec) -> Iterator[FieldError]:
    # Later rounds are warm starts, which SageMaker refuses for grid and hyperband.
    if spec.rounds.max > 1 and spec.strategy in ("grid", "hyperband"):
        yield FieldError("rounds.max", f"must be 1 for {spec.strategy} search (got {spec.rounds.max}): later rounds "
                                       "warm-start, which SageMaker allows for bayesian and random search only")


def settings_rule(spec: Spec) -> Iterator[FieldError]:
    if spec.kms_key_id is not None and not _KMS.fullmatch(spec.kms_key_id):
        yield FieldError("kms_key_id", "expected a KMS key id, key ARN, alias/NAME or alias ARN "
                                       f"(got {spec.kms_key_id!r})")
    if spec.schedule is not None and not (_RATE.fullmatch(spec.schedule) or _CRON.fullmatch(spec.schedule)):
        yield FieldError("schedule", "expected an EventBridge expression like 'rate(7 days)' or "
                                     f"'cron(0 3 ? * MON *)' (got {spec.schedule!r})")
    for key, value in spec.tags.items():
        if key.lower().startswith("aws:") or key.startswith("amt:"):
            yield FieldError(f"tags.{key}", "the aws: and amt: prefixes are reserved")
        elif not _TAG.fullmatch(key) or not _TAG.fullmatch(value):
            yield FieldError(f"tags.{key}", "tags may use letters, digits, spaces and _ . : / = + - @")
    net = spec.network
    if net is not None and bool(net.subnets) != bool(net.security_groups):
        yield FieldError("network", "a VPC needs both subnets and security_groups")


def promote_rule(spec: Spec) -> Iterator[FieldError]:
    promote = spec.promote
    if promote is None:
        return
    image = promote.inference.image
    if image is not None and not _IMAGE.fullmatch(image):
        yield FieldError("promote.inference.image", f"expected an ECR image URI (got {image!r})")
    if image is None and spec.algorithm.builtin:
        from amt.images import ImageError, is_framework

        try:
            framework = is_framework(spec.algorithm.builtin)
        except ImageError:
            return  # algorithm_rule reports the unknown name
        if framework:
            # Framework training images (pytorch, tensorflow, mxnet) are not their inference images.
            yield FieldError("promote.inference.image", f"{spec.algorithm.builtin} is a framework: its training "
                                                        "image does not serve; name the inference image")


def triggers_rule(spec: Spec) -> Iterator[FieldError]:
    new_data = spec.triggers.new_data if spec.triggers else None
    if new_data is None:
        return
    for i, channel in enumerate(new_data.channels):
        if channel not in spec.data:
            yield FieldError(f"triggers.new_data.channels.{i}", f"no data channel {channel!r} "
                                                                f"(channels: {', '.join(spec.data)})")
        elif spec.data[channel].s3_data_type != "S3Prefix":
            yield FieldError(f"triggers.new_data.channels.{i}", "needs an S3Prefix channel: new objects are "
                                                                "noticed under its prefix")
    if spec.strategy in ("grid", "hyperband"):
        yield FieldError("triggers.new_data", f"a new-data run warm-starts (transfer learning), which SageMaker "
                                              f"allows for bayesian and random search, not {spec.strategy}")


RULES: tuple[Rule, ...] = (
    ranges_rule, hyperparameters_rule, strategy_rule, algorithm_rule, limits_rule,
    naming_rule, warm_start_rule, rounds_rule, settings_rule, promote_rule, triggers_rule,
)
