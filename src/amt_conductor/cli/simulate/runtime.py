"""In-process Lambda runtime: runs the real handler a template's function names, with its environment.

Each simulation is a fresh "cold start": handler modules are loaded anew under the function's
environment, so settings and boto3 clients created at import see the simulated resources (and
not whatever an earlier test imported them with).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

Handler = Callable[[Any, Any], Any]


@dataclass
class Function:
    """A Lambda function of the simulated stack."""

    name: str  # physical function name
    label: str  # what the counts call it: the handler module (prepare, launch, ...) or the given key
    arn: str
    handler: str = ""  # "amt_conductor.handlers.prepare.handler"; empty when `call` is given
    env: dict[str, str] = field(default_factory=dict)
    call: Handler | None = None  # in-process callable instead of a handler path


class LambdaContext:
    """The attributes handlers and Powertools read from the Lambda context."""

    def __init__(self, fn: Function) -> None:
        self.function_name = fn.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = fn.arn
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{fn.name}"
        self.log_stream_name = "simulated"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


class FunctionError(Exception):
    """An invocation that raised; carries the payload Lambda would return."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload.get("errorMessage", ""))
        self.payload = payload


class Runtime:
    """Routes invocations by function name or ARN to handlers; counts them per label."""

    def __init__(self, functions: list[Function], *, base_env: dict[str, str]) -> None:
        self.by_name = {f.name: f for f in functions}
        self.by_name.update({f.arn: f for f in functions})
        self.base_env = base_env
        self.invocations: Counter[str] = Counter()
        self.errors: list[str] = []
        self._modules: dict[str, ModuleType] = {}
        self._lock = threading.RLock()
        # Held closed while the simulator delivers trigger events, so the execution they start
        # waits at its first task: duplicate triggers then arrive while it is RUNNING, every time.
        self.gate = threading.Event()
        self.gate.set()
        self.gate_owner = threading.current_thread()  # the thread delivering triggers never waits

    def find(self, name_or_arn: str) -> Function | None:
        key = name_or_arn.split(":")[-1] if name_or_arn.count(":") == 7 else name_or_arn  # drop a qualifier
        return self.by_name.get(key) or self.by_name.get(key.split(":function:")[-1])

    def invoke(self, name_or_arn: str, event: Any) -> Any:
        """Run the function on `event`; raises FunctionError as Lambda reports an unhandled error."""
        fn = self.find(name_or_arn)
        if fn is None:
            raise FunctionError({"errorType": "ResourceNotFoundException",
                                 "errorMessage": f"simulator: no function {name_or_arn}"})
        if threading.current_thread() is not self.gate_owner:
            self.gate.wait(timeout=30)
        with self._lock:  # one invocation at a time: they share os.environ
            self.invocations[fn.label] += 1
            with self._environment(fn):
                try:
                    result = fn.call(event, LambdaContext(fn)) if fn.call else \
                        self._handler(fn)(event, LambdaContext(fn))
                    json.dumps(result)  # Lambda must serialize the result: datetimes would fail there
                except Exception as exc:
                    payload = {"errorType": type(exc).__name__, "errorMessage": str(exc),
                               "stackTrace": traceback.format_exception(exc)[-6:]}
                    if isinstance(exc, TypeError) and "JSON serializable" in str(exc):
                        payload["errorType"] = "Runtime.MarshalError"
                    self.errors.append(f"{fn.label}: {payload['errorType']}: {payload['errorMessage']}")
                    raise FunctionError(payload) from exc
            return result

    def invoke_bytes(self, name_or_arn: str, body: bytes | str | None,
                     response_headers: dict[str, Any]) -> bytes:
        """The moto Lambda backend's view: a JSON body in, a JSON body (and error header) out."""
        raw = body.decode() if isinstance(body, bytes) else (body or "{}")
        try:
            result = self.invoke(name_or_arn, json.loads(raw or "{}"))
        except FunctionError as err:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(err.payload).encode()
        return json.dumps(result).encode()

    def _handler(self, fn: Function) -> Handler:
        module_name, _, attr = fn.handler.rpartition(".")
        module = self._modules.get(module_name)
        if module is None:
            module = self._modules[module_name] = _fresh_import(module_name)
        handler: Handler = getattr(module, attr)
        return handler

    @property
    def lock(self) -> threading.RLock:
        """Held while a handler runs under its environment: what must not see os.environ change takes it."""
        return self._lock

    @contextmanager
    def _environment(self, fn: Function) -> Iterator[None]:
        """The function's environment in os.environ while it runs; the process's own afterwards.

        Only what differs is written, and only what the invocation added is removed: other threads
        (moto's executions, the coordinator) read os.environ meanwhile, and a clear-then-restore
        left them a moment without the region or credentials, or a key they had just listed gone.
        """
        saved = dict(os.environ)
        wanted = {**self.base_env, **fn.env, "AWS_LAMBDA_FUNCTION_NAME": fn.name}
        for key, value in wanted.items():
            if saved.get(key) != value:
                os.environ[key] = value
        try:
            yield
        finally:
            for key in [k for k in os.environ if k not in saved]:
                os.environ.pop(key, None)
            for key, value in saved.items():
                if os.environ.get(key) != value:
                    os.environ[key] = value


def _fresh_import(module_name: str) -> ModuleType:
    """Load `module_name` anew (a cold start) without disturbing the copy others imported."""
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.loader is None:
        raise ImportError(f"simulator: cannot find handler module {module_name}")
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(module_name)
    # Registered while it executes: dataclasses and pydantic look their module up by name.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        if previous is not None:
            sys.modules[module_name] = previous
        else:
            sys.modules.pop(module_name, None)
    return module
