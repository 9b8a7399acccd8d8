"""One registry of operations: the other lists of operations are read from it, and what it says of each
operation (its program method, its queue, its natural key) holds in the code."""

from __future__ import annotations

import inspect

import pytest

from hub.domain import operations
from hub.domain.errors import Unsupported
from hub.domain.models import Provider
from hub.domain.requests import ConvertRequest, RedeemRequest
from hub.edge import openapi
from hub.providers.program import ReferralProgram
from hubcli.main import OPERATIONS as CLI_OPERATIONS

PROGRAM_OPERATIONS = [op for op in operations.OPERATIONS.values() if op.program_method is not None]


class _Bare(ReferralProgram):
    """A provider with no operation at all: every method is the base's 501."""

    provider = Provider.SPARKLOOP


def _called(method, arguments) -> None:
    """Call ``method``, and take the first item when it is a generator (the listing methods)."""
    result = method(*arguments)
    if inspect.isgenerator(result):
        next(result)


@pytest.mark.parametrize("op", PROGRAM_OPERATIONS, ids=lambda op: op.name)
def test_a_program_method_the_provider_lacks_answers_501_named_by_its_operation(op):
    # Given a program whose provider has none of the operations
    program = _Bare("c", None, None)  # type: ignore[arg-type]
    method = getattr(program, op.program_method)
    positional = [p for p in inspect.signature(method).parameters.values() if p.kind is not p.KEYWORD_ONLY]
    arguments = [None] * len(positional)
    # When the operation's method is called
    with pytest.raises(Unsupported) as raised:
        _called(method, arguments)
    # Then the 501 names the operation as the registry (and the API) names it
    assert raised.value.message == f"SparkLoop has no '{op.name}' operation"
    assert not _Bare.supports(op.program_method)


def test_every_program_method_of_the_base_is_an_operation_of_the_registry():
    # Given the methods a provider overrides to have an operation (the base answers 501)
    overridable = {
        name
        for name, member in vars(ReferralProgram).items()
        if inspect.isfunction(member) and "self.unsupported(" in inspect.getsource(member)
    }
    # Then each is the program method of one operation, and the registry names no other
    assert overridable == {op.program_method for op in PROGRAM_OPERATIONS}
    assert len(PROGRAM_OPERATIONS) == len(overridable)


def test_the_api_document_has_exactly_the_registry_routes_under_their_names():
    # Given the OpenAPI document
    document = openapi.document()
    ids = {spec["operationId"] for path in document["paths"].values() for spec in path.values()}
    # Then its operations are the registry's routed ones, by their registry names
    assert ids == {op.name for op in operations.routes()}
    assert [op.name for op in openapi.OPERATIONS] == [op.name for op in operations.routes()]


def test_the_bulk_queues_and_the_document_enum_are_the_registry_bulk_operations():
    # Given the bulk module's operations and the document's enum of bulk operations
    from hub.flows.bulk import OPERATIONS as BULK

    enum = openapi.document()["components"]["schemas"]["ImportRequest"]["properties"]["operation"]
    names = [op.name for op in operations.bulk_operations()]
    # Then both are the registry's, with its request models and queues
    assert list(BULK) == names
    assert all(
        BULK[op.name].model is op.row_model and BULK[op.name].env == op.queue for op in operations.bulk_operations()
    )
    assert enum["enum"] == names


def test_the_command_line_offers_the_registry_bulk_operations():
    # The `hub` package is a client of the API and ships without the layer: its list is checked here
    assert list(CLI_OPERATIONS) == [op.name for op in operations.bulk_operations()]


@pytest.mark.parametrize(("name", "request_model"), [("convert", ConvertRequest), ("redeem", RedeemRequest)])
def test_a_natural_key_names_fields_of_the_operations_request(name, request_model):
    # Given an operation deduplicated on its natural key
    op = operations.OPERATIONS[name]
    # Then its request model has each field, and the operation's request is that model
    assert op.natural_key and set(op.natural_key) <= set(request_model.model_fields)
    assert op.request is request_model


def test_only_one_bulk_operation_needs_no_campaign():
    assert [op.name for op in operations.bulk_operations() if op.campaignless] == openapi.CAMPAIGNLESS_OPERATIONS


@pytest.mark.parametrize(
    ("name", "model"),
    [("addParticipant", "AddedParticipant"), ("convert", "Conversion"), ("redeem", "Redemption"), ("flag", "Flagged")],
)
def test_every_write_documents_its_typed_answer(name, model):
    # Given the document's operation of a write
    document = openapi.document()
    op = operations.OPERATIONS[name]
    method, path = op.route
    success = document["paths"][path][method.lower()]["responses"][str(op.success)]
    # Then its success answer is the write's model
    assert success["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{model}"}
    schema = document["components"]["schemas"][model]
    assert {"campaign", "email"} <= set(schema["properties"])
