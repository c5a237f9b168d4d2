"""Cross-field rules: what SageMaker would reject that no single field can tell.

Each rule is a function of the whole spec yielding `FieldError`s; `check_rules` runs them
all so a file's every problem is reported at once. Limits are from the
CreateHyperParameterTuningJob API model and the AMT developer guide.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from amt_conductor.spec.budget import worst_case_instance_hours
from amt_conductor.spec.errors import FieldError
from amt_conductor.spec.forms import Form, excerpt
from amt_conductor.spec.instances import local_storage_types
from amt_conductor.spec.metrics import metrics_rule
from amt_conductor.spec.model import (
    MAX_JOBS,
    MAX_JOBS_DEFAULT,
    AutoRange,
    CategoricalRange,
    ContinuousRange,
    Definition,
    IntegerRange,
    Spec,
)
from amt_conductor.spec.naming import ROUND_HORIZON, max_study_name_length
from amt_conductor.spec.scriptmode import (
    CODE_CHANNEL,
    LOG_LEVEL,
    PROGRAM,
    REGION,
    SCRIPT_MODE_BUILTINS,
    SUBMIT_DIRECTORY,
    control_environment_reason,
    is_control_hyperparameter,
)
from amt_conductor.spec.sourcedir import source_dir_rule

SCRIPT_HYPERPARAMETERS = (PROGRAM, SUBMIT_DIRECTORY, REGION, LOG_LEVEL)

MAX_RANGES = 30
MAX_ENVIRONMENT = 48  # TrainingJobDefinition.Environment, summed over all definitions
MAX_HYPERPARAMETERS = 100  # static + tunable, and SageMaker adds `_tuning_objective_metric`
# Hyperparameters SageMaker sets itself on every training job of a tuning job. Other `_` names are the
# algorithm's own (Object2Vec's `_num_gpus`, `_kvstore`, `_num_kv_servers` in AWS's tuning example).
SAGEMAKER_HYPERPARAMETERS = ("_tuning_objective_metric",)
MAX_AUTO_PARAMETERS = 100  # ParameterRanges.AutoParameters
MAX_HYPERBAND_RESOURCE = 20_000
REFERENCE_REGION = "us-east-1"
EPOCH_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
_RATE = re.compile(r"^rate\(\s*[1-9]\d*\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\(\s*\S+(\s+\S+){5}\s*\)$")
# AWS tags: letters, numbers, separators (\p{Z}: spaces, not tabs or line breaks) and _ . : / = + - @
_TAG_CHAR = r"(?:[\w.:/=+\-@]|[^\S\t\n\r\f\v\x1c-\x1f\x85])"
_TAG = Form("letters, digits, spaces and _ . : / = + - @", f"{_TAG_CHAR}*", _TAG_CHAR)
_KMS = Form("a KMS key id, key ARN, alias/NAME or alias ARN",
            r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|alias/[\w/\-]+|"
            r"arn:aws[a-z\-]*:kms:[a-z0-9\-]+:\d{12}:(key/[0-9a-f\-]+|alias/[\w/\-]+))", r"[\w:/\-]")
_IMAGE = Form("an ECR image URI like 123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:tag",
              r"\d{12}\.dkr\.ecr\.[a-z0-9\-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/\-]+([:@][\w.\-:]+)?",
              r"[\w.:/@\-]")
# botocore's AlgorithmName pattern: a name, or an algorithm ARN (yours or an AWS Marketplace one).
_ALGORITHM_NAME = re.compile(r"^(arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:[a-z\-]*/)?"
                             r"[a-zA-Z0-9]([a-zA-Z0-9-]){0,62}(?<!-)$")

Rule = Callable[[Spec], Iterator[FieldError]]


def check_rules(spec: Spec) -> list[FieldError]:
    """Every cross-field problem in `spec` (empty when SageMaker would accept it).

    A multi-algorithm spec is checked as each of its definitions (a single-algorithm view), each problem
    named where it was written (`algorithms.1.ranges.eta.min`, or the study's field the definition shares),
    plus the rules about the definitions together.
    """
    if not spec.algorithms:
        return [problem for rule in (*RULES, budget_rule) for problem in rule(spec)]
    out = [*definitions_rule(spec), *budget_rule(spec)]
    if spec.strategy == "grid":  # refused above; each definition's grid errors would only repeat it
        return out
    seen = {(p.path, p.message) for p in out}
    for i, (definition, view) in enumerate(zip(spec.algorithms, spec.definitions(), strict=True)):
        for problem in (p for rule in RULES for p in rule(view)):
            mapped = FieldError(_written_at(problem.path, i, definition), problem.message)
            if (mapped.path, mapped.message) not in seen:
                seen.add((mapped.path, mapped.message))
                out.append(mapped)
    return out


OWN_FIELDS = ("algorithm", "hyperparameters", "ranges")


def _written_at(path: str, index: int, definition: Definition) -> str:
    """Where a problem found in a definition's view was written: in the definition, or in the study."""
    head, _, rest = path.partition(".")
    own = head in OWN_FIELDS or (head == "objective" and definition.objective is not None) or (
        head == "data" and definition.data is not None)
    if head == "resources" and definition.resources is not None:
        field = rest.partition(".")[0]
        own = field in definition.resources.model_fields_set or (
            field in ("instance_type", "instance_count", "volume_size_gb", "instance_configs")
            and bool({"instance_type", "instance_configs"} & definition.resources.model_fields_set))
    return f"algorithms.{index}.{path}" if own else path


def definitions_rule(spec: Spec) -> Iterator[FieldError]:
    assert spec.algorithms
    if spec.algorithm is not None:
        yield FieldError("algorithm", "not with algorithms: each definition has its own algorithm")
    for field in ("hyperparameters", "ranges"):
        if getattr(spec, field):
            yield FieldError(field, f"not with algorithms: each definition has its own {field}")
    names = [d.name for d in spec.algorithms]
    for i, d in enumerate(spec.algorithms):
        if names.index(d.name) != i:
            yield FieldError(f"algorithms.{i}.name",
                             f"{d.name!r} is already the name of algorithms.{names.index(d.name)}")
        if d.objective is not None and d.objective.goal != spec.objective.goal:
            # The SDK's tuner, too, takes one objective type for all definitions.
            yield FieldError(f"algorithms.{i}.objective.goal",
                             f"must be the study's ({spec.objective.goal}): one tuning job compares its definitions "
                             "by one goal")
    if spec.strategy == "grid":
        yield FieldError("strategy", "grid search runs one definition's categorical grid; use bayesian or random "
                                     "with algorithms")
    total_env = len(spec.environment) * len(spec.algorithms)
    if total_env > MAX_ENVIRONMENT:
        yield FieldError("environment", f"{len(spec.environment)} variables x {len(spec.algorithms)} definitions = "
                                        f"{total_env}; SageMaker allows {MAX_ENVIRONMENT} summed over all definitions")


def budget_rule(spec: Spec) -> Iterator[FieldError]:
    if spec.budget is None or not spec.max_jobs_effective():
        return
    worst = worst_case_instance_hours(spec)
    if worst > spec.budget.max_instance_hours:
        costliest = max(spec.definitions(), key=lambda v: v.max_instance_count() * v.resources.max_runtime_per_job)
        which = " of the costliest definition" if spec.algorithms else ""
        yield FieldError("budget.max_instance_hours",
                         f"one round may bill {worst:g} instance-hours in the worst case (max_jobs "
                         f"{spec.max_jobs_effective()} x instance_count {costliest.max_instance_count()} x "
                         f"max_runtime_per_job {costliest.resources.max_runtime_per_job / 3600:g}h{which}), more "
                         f"than the budget of {spec.budget.max_instance_hours:g}")


def ranges_rule(spec: Spec) -> Iterator[FieldError]:
    if not spec.ranges and not spec.autotune:
        yield FieldError("ranges", "at least one hyperparameter range is needed to tune (or autotune: true)")
    auto = [n for n, r in spec.ranges.items() if isinstance(r, AutoRange)]
    tuned = len(spec.ranges) - len(auto)
    if tuned > MAX_RANGES:
        yield FieldError("ranges", f"{tuned} ranges; SageMaker tunes at most {MAX_RANGES}")
    if len(auto) > MAX_AUTO_PARAMETERS:
        yield FieldError("ranges", f"{len(auto)} auto ranges; SageMaker takes at most {MAX_AUTO_PARAMETERS}")
    for name, r in spec.ranges.items():
        where = f"ranges.{name}"
        if isinstance(r, AutoRange) and not spec.autotune:
            yield FieldError(f"{where}.type", "auto ranges are chosen by Autotune: set autotune: true")
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
    # Script mode adds the SDK's four control hyperparameters to the request.
    script_mode = spec.algo.entry_point is not None
    added = 1 + (len(SCRIPT_HYPERPARAMETERS) if script_mode else 0)
    total = len(set(spec.hyperparameters) | set(spec.ranges)) + added
    if total > MAX_HYPERPARAMETERS:
        yield FieldError("hyperparameters", f"{total - added} static + tuned hyperparameters; at most "
                                            f"{MAX_HYPERPARAMETERS - added} (SageMaker adds one of its own"
                                            + (", script mode four" if script_mode else "") + ")")
    for where, names in (("hyperparameters", spec.hyperparameters), ("ranges", spec.ranges)):
        for name in names:
            if name in SAGEMAKER_HYPERPARAMETERS:
                yield FieldError(f"{where}.{name}", "reserved: SageMaker sets this hyperparameter itself")
            elif is_control_hyperparameter(name):
                yield FieldError(f"{where}.{name}", "sagemaker_* hyperparameters control which code the SageMaker "
                                                    "containers run and are never written by hand; for script "
                                                    "mode give algorithm.entry_point and algorithm.source")


def environment_rule(spec: Spec) -> Iterator[FieldError]:
    for name in spec.environment:
        reason = control_environment_reason(name)
        if reason:
            yield FieldError(f"environment.{name}", f"may not be set by a spec: {reason}")


def script_mode_rule(spec: Spec) -> Iterator[FieldError]:
    algo = spec.algo
    has_code = algo.source is not None or algo.source_dir is not None
    if (algo.entry_point is None) == has_code:
        missing = "source" if not has_code else "entry_point"
        yield FieldError(f"algorithm.{missing}", "script mode needs both entry_point and source (the S3 URI of "
                                                 "the code archive) or source_dir (a folder beside the spec)")
        return
    if algo.entry_point is None:
        return
    if algo.entry_point.startswith("/") or ".." in algo.entry_point.split("/"):
        yield FieldError("algorithm.entry_point", "a path inside the source archive, like train.py or "
                                                  f"src/train.py (got {algo.entry_point!r})")
    if algo.name is not None or (algo.builtin is not None and algo.builtin not in SCRIPT_MODE_BUILTINS):
        what = f"builtin {algo.builtin}" if algo.builtin else "an algorithm resource"
        yield FieldError("algorithm.entry_point", f"script mode runs on the framework containers "
                                                  f"({', '.join(sorted(SCRIPT_MODE_BUILTINS))}) or a custom image "
                                                  f"built on them, not on {what}")
    elif not (algo.builtin in catalog_frameworks() or algo.image is not None):
        # A framework image's metrics are already checked by the algorithm rule; xgboost and sklearn in script
        # mode print what the script prints, which SageMaker knows nothing of.
        yield from _objective_among_metrics(spec, f"{algo.builtin} in script mode")
    if spec.network is not None and spec.network.isolation and CODE_CHANNEL in spec.data:
        yield FieldError(f"data.{CODE_CHANNEL}", "with network isolation, script mode passes the code archive as "
                                                 f"the {CODE_CHANNEL!r} channel; rename this channel")


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
    elif res.max_jobs is None and not spec.autotune:
        yield FieldError("resources.max_jobs", f"required for {spec.strategy} search (or autotune: true)")
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
    algo = spec.algo
    if sum(x is not None for x in (algo.image, algo.builtin, algo.name)) != 1:
        yield FieldError("algorithm", "give exactly one of builtin (with version), image, or name (an algorithm "
                                      "resource)")
        return
    names = [m.name for m in algo.metrics]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        yield FieldError("algorithm.metrics", f"metric {dup!r} is defined twice")
    if algo.name is not None:
        # The algorithm resource declares its image, metrics and tunable objectives; SageMaker checks them.
        if algo.version is not None or algo.py_version is not None:
            yield FieldError("algorithm.version" if algo.version is not None else "algorithm.py_version",
                             "only with builtin; an algorithm resource has its own image")
        if not _ALGORITHM_NAME.fullmatch(algo.name):
            yield FieldError("algorithm.name", "expected an algorithm resource name (letters, digits, hyphens, at "
                                               "most 63) or its ARN, arn:aws:sagemaker:REGION:ACCOUNT:algorithm/NAME "
                                               f"(got {algo.name!r})")
    elif algo.image is not None:
        if algo.version is not None:
            yield FieldError("algorithm.version", "only with builtin; a custom image carries its version in its tag")
        problem = _IMAGE.problem(algo.image)
        if problem:
            yield FieldError("algorithm.image", problem)
        yield from _objective_among_metrics(spec, "a custom image")
    else:
        from amt_conductor.spec.images import ImageError, catalog_info, check_builtin, resolve_image

        assert algo.builtin is not None
        problem = check_builtin(algo.builtin, algo.version)
        if problem:
            yield FieldError("algorithm.version" if "version" in problem else "algorithm.builtin", problem)
            return
        try:
            # us-east-1 carries every built-in image; this checks instance type and py_version offline.
            images = {resolve_image(algo.builtin, algo.version, REFERENCE_REGION, instance_type=c.instance_type,
                                    py_version=algo.py_version, base_framework=algo.base_framework)
                      for c in spec.instance_choices()}
        except ImageError as exc:
            field = next((f for f in ("py_version", "base_framework") if f in str(exc)), None)
            yield FieldError(f"algorithm.{field}" if field else "algorithm", str(exc))
            return
        if len(images) > 1:
            yield FieldError("resources.instance_configs", f"{algo.builtin} has different images for these instance "
                                                           "types (cpu and gpu); one tuning job has one image, so "
                                                           "choose instance types of one kind")
        if algo.builtin in catalog_info()["frameworks"]:
            # A framework image runs the user's script: SageMaker knows none of its metrics.
            yield from _objective_among_metrics(spec, f"the {algo.builtin} framework image")


def _objective_among_metrics(spec: Spec, what: str) -> Iterator[FieldError]:
    names = [m.name for m in spec.algo.metrics]
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


def instances_rule(spec: Spec) -> Iterator[FieldError]:
    res = spec.resources
    if res.instance_configs is None:
        if res.instance_type is None:
            yield FieldError("resources.instance_type", "required (or give resources.instance_configs)")
        return
    if res.instance_type is not None:
        yield FieldError("resources.instance_type", "not with instance_configs: give it in each of "
                                                    "resources.instance_configs")
    for field in ("instance_count", "volume_size_gb"):
        if field in res.model_fields_set:
            yield FieldError(f"resources.{field}", "not with instance_configs: give it in each of "
                                                   "resources.instance_configs")
    types = [c.instance_type for c in res.instance_configs]
    for dup in sorted({t for t in types if types.count(t) > 1}):
        yield FieldError("resources.instance_configs", f"{dup} is listed twice")


def catalog_frameworks() -> list[str]:
    from amt_conductor.spec.images import catalog_info

    frameworks: list[str] = catalog_info()["frameworks"]
    return frameworks


def channels_rule(spec: Spec) -> Iterator[FieldError]:
    for name, ch in spec.data.items():
        where = f"data.{name}"
        if (ch.uri is None) == (ch.file_system is None):
            yield FieldError(where, "give exactly one of uri (S3) or file_system (EFS or FSx for Lustre)")
            continue
        if ch.file_system is not None:
            s3_only = [f for f in ("distribution", "s3_data_type", "attribute_names") if f in ch.model_fields_set]
            for field in s3_only:
                yield FieldError(f"{where}.{field}", "only with an S3 uri, not with file_system")
            if spec.network is None or not spec.network.subnets:
                yield FieldError(f"{where}.file_system", "a file system is reached through a VPC: set "
                                                         "network.subnets and network.security_groups")
        mode = ch.input_mode or spec.algo.input_mode
        if ch.record_wrapper == "RecordIO" and mode != "Pipe":
            yield FieldError(f"{where}.record_wrapper", f"RecordIO wrapping needs Pipe input mode (the channel's "
                                                        f"input mode is {mode}); in File mode leave it unset")
        if ch.s3_data_type == "AugmentedManifestFile":
            # S3DataSource docs: an augmented manifest "can only be used if the Channel's input mode is Pipe",
            # and AttributeNames says which of each line's attributes the algorithm receives.
            if mode != "Pipe":
                yield FieldError(f"{where}.s3_data_type", f"an AugmentedManifestFile is read in Pipe input mode only "
                                                          f"(the channel's input mode is {mode}): set "
                                                          f"{where}.input_mode: Pipe")
            if not ch.attribute_names:
                yield FieldError(f"{where}.attribute_names", "required with an AugmentedManifestFile: the attributes "
                                                             "of each manifest line to send, e.g. [source-ref, class]")


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
    problem = _KMS.problem(spec.kms_key_id) if spec.kms_key_id is not None else None
    if problem:
        yield FieldError("kms_key_id", problem)
    local = local_storage_types(spec)
    ebs = [c.instance_type for c in spec.instance_choices() if c.instance_type not in local]
    if spec.kms_key_id is not None and local and ebs:
        # One VolumeKmsKeyId covers every choice, and SageMaker refuses it on local storage: the EBS choices'
        # volumes would silently go without the key.
        yield FieldError("resources.instance_configs", f"with kms_key_id, choose instance types that all have local "
                                                       f"NVMe storage ({', '.join(local)}) or all use EBS volumes "
                                                       f"({', '.join(ebs)}): SageMaker takes one volume key for "
                                                       "every choice and refuses it on local storage")
    if spec.schedule is not None and not (_RATE.fullmatch(spec.schedule) or _CRON.fullmatch(spec.schedule)):
        yield FieldError("schedule", "expected an EventBridge expression like 'rate(7 days)' or "
                                     f"'cron(0 3 ? * MON *)' (got {excerpt(spec.schedule)})")
    for key, value in spec.tags.items():
        if key.lower().startswith("aws:") or key.startswith("amt:"):
            yield FieldError(f"tags.{key}", "the aws: and amt: prefixes are reserved")
        else:
            for part, text in (("key", key), ("value", value)):
                problem = _TAG.problem(text)
                if problem:
                    yield FieldError(f"tags.{key}", f"the tag's {part}: {problem}")
    net = spec.network
    if net is not None and bool(net.subnets) != bool(net.security_groups):
        yield FieldError("network", "a VPC needs both subnets and security_groups")


def promote_rule(spec: Spec) -> Iterator[FieldError]:
    promote = spec.promote
    if promote is None:
        return
    image = promote.inference.image
    if image is not None and (problem := _IMAGE.problem(image)):
        yield FieldError("promote.inference.image", problem)
    algo = spec.algorithm  # None for a multi-algorithm study: the best job's training image is the default
    if image is None and algo is not None and algo.name is not None:
        yield FieldError("promote.inference.image", "an algorithm resource (algorithm.name) has no training image "
                                                    "to serve from; name the inference image")
    if image is None and algo is not None and algo.builtin:
        from amt_conductor.spec.images import ImageError, is_framework

        try:
            framework = is_framework(algo.builtin)
        except ImageError:
            return  # algorithm_rule reports the unknown name
        if framework:
            # Framework training images (pytorch, tensorflow, mxnet) are not their inference images.
            yield FieldError("promote.inference.image", f"{algo.builtin} is a framework: its training "
                                                        "image does not serve; name the inference image")


def triggers_rule(spec: Spec) -> Iterator[FieldError]:
    new_data = spec.triggers.new_data if spec.triggers else None
    if new_data is None:
        return
    for i, channel in enumerate(new_data.channels):
        if channel not in spec.data:
            yield FieldError(f"triggers.new_data.channels.{i}", f"no data channel {channel!r} "
                                                                f"(channels: {', '.join(spec.data)})")
        elif spec.data[channel].uri is None:
            yield FieldError(f"triggers.new_data.channels.{i}", "needs an S3 channel (uri): a file system channel "
                                                                "sends no upload events")
        elif spec.data[channel].s3_data_type != "S3Prefix":
            yield FieldError(f"triggers.new_data.channels.{i}", "needs an S3Prefix channel: new objects are "
                                                                "noticed under its prefix")
    if spec.strategy in ("grid", "hyperband"):
        yield FieldError("triggers.new_data", f"a new-data run warm-starts (transfer learning), which SageMaker "
                                              f"allows for bayesian and random search, not {spec.strategy}")


def s3_uri_rule(spec: Spec) -> Iterator[FieldError]:
    # The execution role is granted `<uri>*`: IAM would read a `*` or `?` in the URI as a wildcard, and the
    # study could read (or write) more than the spec declares.
    uris = [(f"data.{name}.uri", ch.uri) for name, ch in spec.data.items() if ch.uri is not None]
    source = spec.algorithm.source if spec.algorithm else None
    for where, uri in (("output_uri", spec.output_uri), ("algorithm.source", source),
                       ("checkpoint.uri", spec.checkpoint.uri if spec.checkpoint else None)):
        if uri is not None:
            uris.append((where, uri))
    for where, uri in uris:
        bad = sorted({c for c in uri if c in "*?"})
        if bad:
            yield FieldError(where, f"may not contain {' or '.join(repr(c) for c in bad)}: IAM reads them as "
                                    f"wildcards in the study's access (got {uri!r})")


RULES: tuple[Rule, ...] = (
    ranges_rule, hyperparameters_rule, strategy_rule, algorithm_rule, limits_rule, instances_rule,
    channels_rule, environment_rule, script_mode_rule,
    naming_rule, warm_start_rule, rounds_rule, settings_rule, s3_uri_rule, metrics_rule, source_dir_rule,
    promote_rule, triggers_rule,
)
