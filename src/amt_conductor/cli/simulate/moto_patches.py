"""Every change the simulator makes to moto 5.2, in one place, active only inside `patched(sim)`.

Why each patch exists:

- Lambda: without Docker, moto's "simple" Lambda backend returns canned results. Its `invoke`
  is routed to the real handler, in-process (`Runtime.invoke_bytes`).
- SageMaker: moto marks a tuning job Completed at once with fixed counters and lacks
  ListTrainingJobsForHyperParameterTuningJob and StopHyperParameterTuningJob. Creation now hands
  the job to `SimSageMaker`, which keeps moto's record current on the simulated clock; the two
  missing operations are added to moto's SageMaker responses; DescribeTrainingJob also knows the
  simulated training jobs. Every SageMaker operation reaching moto is counted.
- Time: Wait states, retry intervals and task-token waits would block in real time. They advance
  the simulated clock instead, which runs whatever falls due meanwhile (jobs ending, events).
- Model registry: moto keeps model package groups and versions but ignores CreateModelPackage's
  ClientToken; SageMaker answers a repeated token with the first call's package, and so does this.
- Step Functions: SendTaskSuccess/SendTaskFailure are counted, to show a duplicate event resumes once;
  and moto's SendTaskFailure response drops `cause`, which the failure path reports: it is passed on.
- botocore (correctness): a handler runs with its function's environment in os.environ, and creating
  a boto3 client lists and copies os.environ; a client is created only while no handler runs, so
  none sees a key that an invocation ending in another thread is removing.
- botocore (speed only): every simulated Lambda container makes its own boto3 Session, and each
  Session parses the service models again (SageMaker's alone is megabytes): about 1.5 s a run. The
  loaders share one process-wide memo of what they read from disk, keyed by their search paths.
  Likewise moto's Step Functions interpreter builds a new client for every task and parses every
  JSONPath on every use: clients are reused and parsed paths memoized (a poll loop repeats both).
- moto (speed only, for many studies at once): costs of moto's that grow with everything a
  simulation has done rather than with the request, each replaced by one that gives the same answer.
  Each execution parses the state machine's definition again (about 0.1 s): it is parsed once per
  definition and every execution gets its own deep copy of the parsed program. DynamoDB's
  TransactWriteItems deep-copies every table it touches to roll back a cancelled transaction: the
  items it touches are saved instead and put back on cancellation. A Query sorts every item of the
  table before it picks the partition it reads: it is handed that partition's items only, already in
  range-key order (on an index, the items that have the index's key), which it sorts as before; and a
  COUNT on a table's key counts the matching items without copying them first. The response
  serializer works out, for every member of every response, which attribute names to try: those
  depend only on the model and the object's class, so they are remembered.
"""

from __future__ import annotations

import copy
import functools
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any
from unittest import mock

from botocore.loaders import Loader
from botocore.session import Session as BotocoreSession
from jsonpath_ng.ext import parse as parse_json_path
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.responses import ActionResult, EmptyResult
from moto.core.serialize import XFormedAttributePicker
from moto.dynamodb import models as ddb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models import table as ddb_table
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.sagemaker.exceptions import ResourceNotFound, SagemakerClientError
from moto.sagemaker.models import HyperParameterTuningJob, SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback as callback_mod,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.utils import json_path
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse

import amt_conductor.runtime.registry as amt_registry
from amt_conductor.cli.simulate.sagemaker import QuotaExceeded

if TYPE_CHECKING:
    from amt_conductor.cli.simulate.engine import Simulation

class ResourceLimitExceeded(SagemakerClientError):
    """What SageMaker answers a create over the account's quotas."""

    code = "ResourceLimitExceeded"


_LOADED: dict[tuple[Any, ...], Any] = {}  # botocore data files are static: keep them for the process
_parse_json_path = functools.lru_cache(maxsize=4096)(parse_json_path)
_LOADER_METHODS = ("list_available_services", "determine_latest_version", "list_api_versions",
                   "load_service_model", "load_data_with_path")


@contextmanager
def patched(sim: Simulation) -> Iterator[None]:
    """Apply every patch for the duration of one simulation."""
    with ExitStack() as stack:
        for target, attr, new in _patches(sim):
            stack.enter_context(mock.patch.object(target, attr, new, create=True))
        yield


def _clock_datetime(clock: Any) -> type[datetime]:
    """`datetime` whose now() is the simulated clock's (everything else unchanged)."""

    class ClockDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> ClockDatetime:
            at = clock.datetime()
            return cls.fromtimestamp(at.timestamp(), tz or at.tzinfo)

    return ClockDatetime


def _shared(name: str) -> Any:
    original = getattr(Loader, name)

    def load(self: Any, *args: Any, **kwargs: Any) -> Any:
        key = (name, tuple(self.search_paths), args, tuple(sorted(kwargs.items())))
        if key not in _LOADED:
            _LOADED[key] = original(self, *args, **kwargs)
        return _LOADED[key]

    return load


# --- speed only: moto's costs that grow with history, replaced by ones that give the same answer ---

_PROGRAMS: dict[str, Any] = {}  # definition text -> parsed program (never run itself: executions get copies)


def _parsed_once(original: Any) -> Any:
    def entrypoint(self: Any) -> Any:
        definition = self._evaluation_details.state_machine_details.definition
        program = _PROGRAMS.get(definition)
        if program is None:
            program = _PROGRAMS[definition] = original(self)
        return copy.deepcopy(program)  # an execution's components keep state of their own while it runs

    return entrypoint


class _Snapshot(threading.local):
    # True while a TransactWriteItems has saved the items it touches: moto's copy of whole tables is skipped.
    items_saved = False


_SNAPSHOT = _Snapshot()


def _deepcopy_unless_saved(value: Any, memo: Any = None) -> Any:
    if isinstance(value, Table) and _SNAPSHOT.items_saved:
        return value  # moto's rollback puts back this very table; `_transact` puts back the items
    return copy.deepcopy(value, memo)


_DDB_COPY = types.SimpleNamespace(deepcopy=_deepcopy_unless_saved, copy=copy.copy)


def _transact(original: Any) -> Any:
    """TransactWriteItems that saves the items it touches (not whole tables) and restores them if cancelled."""

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        saved: list[tuple[Table, Any, Any, Any]] = []
        try:
            for entry in transact_items:
                (_, op), = entry.items()
                table = self.tables[op["TableName"]]
                if table.stream_shard is not None:
                    raise LookupError  # stream records would need rolling back too: moto's way
                key = op.get("Key") or {a: op["Item"][a] for a in (table.hash_key_attr, table.range_key_attr) if a}
                hash_key, range_key = self.get_keys_value(table, key)
                saved.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
        except Exception:  # anything unusual (moto reports the request's own errors): whole-table copies
            return original(self, transact_items)
        _SNAPSHOT.items_saved = True
        try:
            return original(self, transact_items)
        except BaseException:
            for table, hash_key, range_key, before in reversed(saved):
                holder, at = (table.items, hash_key) if range_key is None else (table.items[hash_key], range_key)
                if before is not None:
                    holder[at] = before
                    continue
                holder.pop(at, None)
                if range_key is not None and not holder:
                    del table.items[hash_key]  # a partition the transaction created
            raise
        finally:
            _SNAPSHOT.items_saved = False

    return transact_write_items


class _Candidates(threading.local):
    # While a Query runs: (table, which of its items can match). moto reads `all_items()` (every item of the
    # table, sorted) and keeps those in the queried partition; on the table's key that is one partition's
    # items, on an index the items that have the index's hash key (a sparse index holds no others). moto
    # then sorts what it kept by a total order of its own (range key; index keys then table keys): handed
    # over in range-key order already, a partition's items cost that sort one comparison each.
    current: tuple[Table, Callable[[Table], list[Any]]] | None = None
    # A COUNT on the table's key: moto copies the matching items to return them, and the response only
    # counts them (no projection or index applies), so they are counted uncopied.
    count_only = False
    counting = False


_CANDIDATES = _Candidates()


def _count_query(original: Any) -> Any:
    def query(self: Any) -> Any:
        _CANDIDATES.count_only = self.body.get("Select") == "COUNT"
        try:
            return original(self)
        finally:
            _CANDIDATES.count_only = False

    return query


def _query_candidates(original: Any) -> Any:
    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name:
            index = next((i for i in self.all_indexes() if i.name == index_name), None)
            if index is None:
                return original(self, hash_key, *args, **kwargs)  # moto's own error
            attrs = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
            _CANDIDATES.current = (self, lambda t: [i for i in _every_item(t) if all(a in i.attrs for a in attrs)])
        elif hash_key is not None and self.range_key_attr:
            # moto orders DynamoTypes by `cast_value`: the same order, each key computed once.
            _CANDIDATES.current = (self, lambda t: sorted((t.items.get(hash_key) or {}).values(),
                                                          key=lambda item: item.range_key.cast_value))
            _CANDIDATES.counting = _CANDIDATES.count_only
        else:
            return original(self, hash_key, *args, **kwargs)
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            _CANDIDATES.current = None
            _CANDIDATES.counting = False

    return query


def _deepcopy_unless_counted(value: Any, memo: Any = None) -> Any:
    if _CANDIDATES.counting and isinstance(value, list):
        return value  # the matching items of a COUNT: the response reads only how many there are
    return copy.deepcopy(value, memo)


_TABLE_COPY = types.SimpleNamespace(deepcopy=_deepcopy_unless_counted, copy=copy.copy)


def _every_item(table: Table) -> list[Any]:
    if not table.range_key_attr:
        return list(table.items.values())
    return [item for partition in table.items.values() for item in partition.values()]


def _all_items(original: Any) -> Any:
    def all_items(self: Any) -> Any:
        current = _CANDIDATES.current
        if current is None or current[0] is not self:
            return original(self)
        return current[1](self)

    return all_items


# Names moto's response serializer tries for a model member, in order: they depend on the member's shape (and
# the structure it is in), the name, and the source object's class (and its Meta aliases); never on values.
_MEMBER_NAMES: dict[tuple[Any, ...], tuple[Any, Any, Any, list[str]]] = {}


def _member_names(original: Any) -> Any:
    def get_possible_keys(self: Any, context: Any) -> list[str]:
        shape, obj = context.shape, context.obj
        parent, meta = getattr(shape, "parent", None), getattr(obj, "Meta", None)
        key = (type(self), tuple(self.alias_providers), context.key, type(obj), id(meta), id(shape), id(parent))
        known = _MEMBER_NAMES.get(key)
        # The objects are kept with the names, so their ids cannot be reused by others while cached.
        if known is None or known[0] is not shape or known[1] is not parent or known[2] is not meta:
            known = _MEMBER_NAMES[key] = (shape, parent, meta, list(original(self, context)))
        return known[3]

    return get_possible_keys


def _speed_patches() -> list[tuple[Any, str, Any]]:
    return [
        (ExecutionWorker, "_get_evaluation_entrypoint", _parsed_once(ExecutionWorker._get_evaluation_entrypoint)),
        (ddb_models, "copy", _DDB_COPY),
        (DynamoDBBackend, "transact_write_items", _transact(DynamoDBBackend.transact_write_items)),
        (Table, "query", _query_candidates(Table.query)),
        (DynamoHandler, "query", _count_query(DynamoHandler.query)),
        (ddb_table, "copy", _TABLE_COPY),
        (Table, "all_items", _all_items(Table.all_items)),
        (XFormedAttributePicker, "get_possible_keys", _member_names(XFormedAttributePicker.get_possible_keys)),
    ]


def _patches(sim: Simulation) -> list[tuple[Any, str, Any]]:
    sm = sim.sagemaker
    clock = sim.clock

    # --- Lambda -------------------------------------------------------------------------------
    def lambda_invoke(self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any,
                      response_headers: Any) -> bytes:
        return sim.runtime.invoke_bytes(function_name, body, response_headers)

    # --- SageMaker ----------------------------------------------------------------------------
    original_create = SageMakerModelBackend.create_hyper_parameter_tuning_job
    original_describe = HyperParameterTuningJob.describe
    original_summary = HyperParameterTuningJob.summary
    original_describe_training = SageMakerModelBackend.describe_training_job
    original_call_action = SageMakerResponse.call_action

    def create_job(self: Any, hyper_parameter_tuning_job_name: str, **kwargs: Any) -> str:
        try:
            sm.check_quota(kwargs.get("hyper_parameter_tuning_job_config") or {},
                           kwargs.get("training_job_definition") or {})
        except QuotaExceeded as exc:
            raise ResourceLimitExceeded(str(exc)) from None
        arn: str = original_create(self, hyper_parameter_tuning_job_name=hyper_parameter_tuning_job_name,
                                   **kwargs)
        sm.created(self.hyper_parameter_tuning_jobs[hyper_parameter_tuning_job_name])
        return arn

    def describe_job(self: Any) -> dict[str, Any]:
        sm.refresh(self)
        # moto lists absent members as None; the real API leaves them out.
        return {k: v for k, v in original_describe(self).items() if v is not None}

    def summarize_job(self: Any) -> dict[str, Any]:
        sm.refresh(self)
        return {k: v for k, v in original_summary(self).items() if v is not None}

    def describe_training(self: Any, training_job_name: str) -> dict[str, Any]:
        found = sm.describe_training_job(training_job_name)
        return found if found is not None else original_describe_training(self, training_job_name)

    def list_training_jobs(self: Any) -> ActionResult:
        name = self._get_param("HyperParameterTuningJobName")
        try:
            params = {k: self._get_param(k) for k in ("NextToken", "MaxResults", "StatusEquals", "SortBy", "SortOrder")}
            return ActionResult(sm.list_training_jobs(name, params))
        except KeyError:
            raise ResourceNotFound(message=f"Amazon SageMaker can't find a tuning job named {name}.") from None

    def stop_job(self: Any) -> EmptyResult:
        name = self._get_param("HyperParameterTuningJobName")
        if name not in sm.jobs:
            raise ResourceNotFound(message=f"Amazon SageMaker can't find a tuning job named {name}.")
        sm.stop(name)
        return EmptyResult()

    original_create_package = SageMakerModelBackend.create_model_package
    package_tokens: dict[str, str] = {}

    def create_package(self: Any, **kwargs: Any) -> str:
        client_token = kwargs.get("client_token")
        if client_token and client_token in package_tokens:
            return package_tokens[client_token]
        arn: str = original_create_package(self, **kwargs)
        if client_token:
            package_tokens[client_token] = arn
        return arn

    def count_call(self: Any) -> Any:
        op = self._get_action()
        sim.sagemaker_calls[op] = sim.sagemaker_calls.get(op, 0) + 1
        return original_call_action(self)

    # --- time ---------------------------------------------------------------------------------
    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        clock.advance(float(wait_seconds))

    def wait_for_token(self: Any, timeout_seconds: int, callback_endpoint: Any) -> Any:
        # The world moves on until the token comes back or the state's timeout passes.
        clock.advance(float(timeout_seconds), stop=lambda: callback_endpoint.get_outcome() is not None)
        return callback_endpoint.get_outcome()

    simulated_time = types.SimpleNamespace(sleep=lambda seconds: clock.advance(float(seconds)),
                                           time=lambda: clock.now)

    clients: dict[tuple[str, str], Any] = {}
    original_client_for = lambda_eval_utils.boto_client_for

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        if (region, service) not in clients:
            clients[region, service] = original_client_for(region, service, state_credentials)
        return clients[region, service]

    # --- Step Functions callbacks ---------------------------------------------------------------
    original_success = StepFunctionsParserBackend.send_task_success
    original_failure = StepFunctionsParserBackend.send_task_failure

    def send_success(self: Any, *args: Any, **kwargs: Any) -> Any:
        sim.task_callbacks["SendTaskSuccess"] += 1
        return original_success(self, *args, **kwargs)

    def send_failure(self: Any, *args: Any, **kwargs: Any) -> Any:
        sim.task_callbacks["SendTaskFailure"] += 1
        return original_failure(self, *args, **kwargs)

    def failure_response(self: Any) -> EmptyResult:
        self.stepfunction_backend.send_task_failure(self._get_param("taskToken"), error=self._get_param("error"),
                                                    cause=self._get_param("cause"))
        return EmptyResult()

    # --- os.environ: one Lambda's environment at a time ---------------------------------------------
    original_create_client = BotocoreSession.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        # Creating a client copies and lists os.environ (the instance-metadata fetcher, the proxy
        # settings). An invocation's keys vanish when it ends: a copy listing them in another thread
        # then failed on one (KeyError 'AMT_TOPIC_ARN', seen as States.Runtime). Not while one runs.
        with sim.runtime.lock:
            return original_create_client(self, *args, **kwargs)

    coordinator = clock.coordinator
    extra: list[tuple[Any, str, Any]] = []
    if coordinator is not None:
        # Many executions at once: each worker thread is counted from StartExecution to its end, so
        # simulated time moves only while all of them wait (clock.Coordinator).
        def start_worker(self: Any) -> None:
            coordinator.execution_started()
            threading.Thread(target=coordinator.run_execution, args=(self._execution_logic,), daemon=True).start()

        extra.append((ExecutionWorker, "start", start_worker))

    return [
        *extra,
        (LambdaSimpleBackend, "invoke", lambda_invoke),
        (SageMakerModelBackend, "create_hyper_parameter_tuning_job", create_job),
        (HyperParameterTuningJob, "describe", describe_job),
        (HyperParameterTuningJob, "summary", summarize_job),
        (SageMakerModelBackend, "describe_training_job", describe_training),
        (SageMakerModelBackend, "create_model_package", create_package),
        (SageMakerResponse, "list_training_jobs_for_hyper_parameter_tuning_job", list_training_jobs),
        (SageMakerResponse, "stop_hyper_parameter_tuning_job", stop_job),
        (SageMakerResponse, "call_action", count_call),
        (WaitFunction, "_wait_interval", wait_interval),
        (callback_mod.StateTaskServiceCallback, "_wait_for_task_token_timeout", wait_for_token),
        (retrier_decl, "time", simulated_time),
        (callback_mod, "time", simulated_time),
        (StepFunctionsParserBackend, "send_task_success", send_success),
        (StepFunctionsParserBackend, "send_task_failure", send_failure),
        (StepFunctionResponse, "send_task_failure", failure_response),
        *[(Loader, name, _shared(name)) for name in _LOADER_METHODS],
        (lambda_eval_utils, "boto_client_for", client_for),
        (BotocoreSession, "create_client", create_client),
        (json_path, "parse", _parse_json_path),
        # The handlers' registry stamps and compares times (the reconciler's "quiet for N minutes"):
        # they must read the simulated clock, or a simulated hour would never pass for them.
        (amt_registry, "datetime", _clock_datetime(clock)),
        *_speed_patches(),
    ]
