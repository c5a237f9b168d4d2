"""The simulator's speed-only changes to moto give the answers moto gives without them (moto_patches:
`_speed_patches`): DynamoDB queries on a key and on a sparse index, pages, COUNTs, transactions that
commit and transactions that are cancelled and rolled back, and every response as the client reads it."""

from __future__ import annotations

import json
import random
from contextlib import ExitStack
from types import SimpleNamespace
from typing import Any
from unittest import mock

import boto3
import pytest
from moto import mock_aws

from amt_conductor.cli.simulate import moto_patches

AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _queries() -> list[dict[str, Any]]:
    return [
        {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": _s("QUEUE")}, "Limit": 4},
        {"KeyConditionExpression": "pk = :p AND sk < :s",
         "ExpressionAttributeValues": {":p": _s("RUN#3"), ":s": _s("050")}},
        {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": _s("QUEUE")}, "Select": "COUNT"},
        {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": _s("RUN#4")},
         "ScanIndexForward": False},
        {"IndexName": "inflight", "KeyConditionExpression": "inflight = :o AND #a < :c",
         "ExpressionAttributeNames": {"#a": "at"}, "ExpressionAttributeValues": {":o": _s("1"), ":c": _s("030")}},
        {"IndexName": "inflight", "KeyConditionExpression": "inflight = :o",
         "ExpressionAttributeValues": {":o": _s("2")}, "Limit": 3},
    ]


def _transaction(i: int) -> list[dict[str, Any]]:
    """Counter, hold, queue entry and a new partition; the hold's condition cancels some of them."""
    return [
        {"Update": {"TableName": "t", "Key": {"pk": _s("QUOTA"), "sk": _s("used")}, "UpdateExpression": "ADD #u :d",
                    "ExpressionAttributeNames": {"#u": "used"}, "ExpressionAttributeValues": {":d": {"N": "1"}}}},
        {"Put": {"TableName": "t", "Item": {"pk": _s("HOLDS"), "sk": _s(f"h{i % 4}")},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Delete": {"TableName": "t", "Key": {"pk": _s("QUEUE"), "sk": _s(f"{i % 100:03d}")}}},
        {"Put": {"TableName": "t", "Item": {"pk": _s(f"NEW#{i}"), "sk": _s("x")}}},
    ]


def _scenario(speed: bool) -> str:
    """Everything the client reads back from one random history of writes, transactions and queries."""
    rng = random.Random(10)
    seen: list[Any] = []
    with mock.patch.dict("os.environ", AWS_ENV), mock_aws(), ExitStack() as stack:
        if speed:
            for target, attr, new in moto_patches._speed_patches():
                stack.enter_context(mock.patch.object(target, attr, new))
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "inflight", "at")],
            GlobalSecondaryIndexes=[{"IndexName": "inflight", "Projection": {"ProjectionType": "ALL"}, "KeySchema": [
                {"AttributeName": "inflight", "KeyType": "HASH"}, {"AttributeName": "at", "KeyType": "RANGE"}]}])
        for i in range(60):
            item = {"pk": _s(rng.choice(["QUEUE", "HOLDS", *(f"RUN#{j}" for j in range(6))])),
                    "sk": _s(f"{rng.randint(0, 99):03d}"), "v": {"N": str(i)}, "m": {"M": {"a": {"L": [_s("x")]}}}}
            if rng.random() < 0.3:
                item |= {"inflight": _s(rng.choice(["1", "2"])), "at": _s(f"{rng.randint(0, 50):03d}")}
            ddb.put_item(TableName="t", Item=item)
            if i % 4 == 0:
                try:
                    ddb.transact_write_items(TransactItems=_transaction(i))
                    seen.append("committed")
                except ddb.exceptions.TransactionCanceledException as err:
                    seen.append(["cancelled", err.response.get("CancellationReasons")])
            if i % 20 == 19:
                for query in _queries():
                    page: dict[str, Any] = {}
                    while True:
                        resp = ddb.query(TableName="t", **query, **page)
                        seen.append([resp.get("Items"), resp.get("Count"), resp.get("LastEvaluatedKey")])
                        if "LastEvaluatedKey" not in resp:
                            break
                        page = {"ExclusiveStartKey": resp["LastEvaluatedKey"]}
        seen.append(ddb.scan(TableName="t")["Items"])
    assert "committed" in seen and any(s[0] == "cancelled" for s in seen if isinstance(s, list)), \
        "the scenario must commit some transactions and cancel others"
    return json.dumps(seen, sort_keys=True)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_dynamodb_answers_the_same_with_the_speed_patches() -> None:
    assert _scenario(speed=True) == _scenario(speed=False)


def test_each_execution_gets_its_own_copy_of_a_program_parsed_once() -> None:
    parsed: list[Any] = []

    def parse(worker: Any) -> Any:
        parsed.append(SimpleNamespace(states={"Prepare": [worker.n]}))
        return parsed[-1]

    entrypoint = moto_patches._parsed_once(parse)

    def worker(n: int, definition: str) -> Any:
        return SimpleNamespace(n=n, _evaluation_details=SimpleNamespace(
            state_machine_details=SimpleNamespace(definition=definition)))

    definition = json.dumps({"StartAt": "Prepare", "Comment": f"test {random.random()}"})
    first, second = entrypoint(worker(1, definition)), entrypoint(worker(2, definition))
    assert len(parsed) == 1  # the second execution did not parse again
    assert first is not second and first.states is not second.states  # nor share the first one's state
    assert first.states == second.states == parsed[0].states
    entrypoint(worker(3, definition + " "))  # another definition is parsed for itself
    assert len(parsed) == 2
