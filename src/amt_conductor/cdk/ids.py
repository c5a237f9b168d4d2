"""Stable names of the stack, its constructs and its outputs, named once.

The local simulator and the CLI find the state machine, the functions and the outputs
by these ids (in `aws:cdk:path` metadata and in logical ids), so renaming one here is a
breaking change for them.
"""

from __future__ import annotations

from amt_conductor.contract import StackOutputs

STACK_ID = "AmtConductor"

# Top-level constructs of the stack, one per concern.
STORAGE = "Storage"
REGISTRY = "Registry"
NOTIFICATIONS = "Notifications"
ROLES = "Roles"
FUNCTIONS = "Functions"
WORKFLOW = "Workflow"
TRIGGERS = "Triggers"
DASHBOARD = "Dashboard"
MODEL_REGISTRY = "ModelRegistry"

# Inside the workflow construct.
STATE_MACHINE = "StateMachine"

# The handler modules under lambda/handlers/ (installed as `handlers`), in the order of the architecture table.
HANDLERS = ("start", "prepare", "admit", "launch", "resume", "report", "promote", "record_failure", "reconcile",
            "stop")
# The ones the state machine invokes (they must not receive the state machine's ARN: a cycle).
WORKFLOW_HANDLERS = ("prepare", "admit", "launch", "report", "promote", "record_failure")

# State names of the workflow (the simulator and the tests read them).
class States:
    PREPARE = "Prepare"
    USE_PREPARED = "UsePrepared"
    ADMIT = "Admit"
    ADMITTED_CHOICE = "Admitted?"
    WAIT_IN_QUEUE = "WaitInQueue"
    LAUNCH = "Launch"
    REPORT = "Report"
    USE_REPORT = "UseReport"
    NEXT_ROUND_CHOICE = "NextRound?"
    NEXT_ROUND_INPUT = "NextRoundInput"
    PROMOTE_CHOICE = "Promote?"
    PROMOTE = "Promote"
    NOTIFY = "Notify"
    DONE = "Done"
    RECORD_FAILURE = "RecordFailure"
    FAILED = "Failed"


# Stack outputs (the CLI reads them: `amt submit --stack NAME`, `amt status`).
class Outputs(StackOutputs):
    """Output ids: the keys `amt submit` and `amt status` read (named in `contract`), plus two for people."""

    EXECUTION_ROLES_PATH = "ExecutionRolesPath"
    DASHBOARD_NAME = "DashboardName"


def function_id(handler: str) -> str:
    """Construct id of a handler's function: `record_failure` -> `RecordFailureFunction`."""
    return "".join(part.capitalize() for part in handler.split("_")) + "Function"


def handler_string(handler: str) -> str:
    """Lambda handler string of a handler module."""
    return f"amt_conductor.handlers.{handler}.handler"
