"""The template is the one source of truth: the code and the docs must agree with it."""

from __future__ import annotations

from hub.openapi import OPERATIONS
from local.template import load


def test_the_openapi_document_has_exactly_the_template_routes():
    # Given the routes of template.yaml and of the OpenAPI document
    template_routes = {(route.method, route.path) for route, _ in load().routes()}
    documented = {(op.method, op.path) for op in OPERATIONS}
    # Then they are the same set
    assert template_routes == documented


def test_every_function_has_its_handler_file():
    for fn in load().functions.values():
        source = (fn.code_dir / f"{fn.module}.py").read_text()
        assert f"{fn.handler} = " in source or f"def {fn.handler}(" in source, fn.logical_id


def test_only_write_functions_may_touch_the_idempotency_table():
    # Given each function's policy statements
    template = load()
    for logical_id, fn in template.functions.items():
        statements = [
            statement
            for policy in template.resources[logical_id]["Properties"].get("Policies", [])
            for statement in policy.get("Statement", [])
        ]
        touches_table = any(s.get("Sid") == "IdempotencyRecords" for s in statements)
        writes = any(route.method == "POST" for route in fn.routes) or any(
            event.get("Type") == "SQS" for event in fn.events.values()
        )
        # Then a function has table rights exactly when it serves a write
        assert touches_table == writes, logical_id


def test_functions_run_python_313_on_arm64():
    function_globals = load().function_globals
    assert function_globals["Runtime"] == "python3.13"
    assert function_globals["Architectures"] == ["arm64"]


def test_every_function_that_reads_provider_keys_may_take_the_shared_rate_limit():
    # Given each function's policy statement ids
    template = load()
    for logical_id in template.functions:
        sids = {
            statement.get("Sid")
            for policy in template.resources[logical_id]["Properties"].get("Policies", [])
            for statement in policy.get("Statement", [])
        }
        # Then a function that can read a provider's key (and so call the provider) can also take
        # the shared limiter's slots, or its first provider call would be refused by IAM
        if "ProviderKeys" in sids:
            assert "SharedRateLimit" in sids, logical_id
