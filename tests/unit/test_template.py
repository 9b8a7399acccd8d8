"""The template is the one source of truth: the code and the docs must agree with it."""

from __future__ import annotations

from hub.edge.openapi import OPERATIONS
from local.template import load
from tests.unit.test_iam import statements


def test_the_openapi_document_has_exactly_the_template_routes():
    # Given the routes of template.yaml and of the OpenAPI document
    template_routes = {(route.method, route.path) for route, _ in load().routes()}
    documented = {(op.method, op.path) for op in OPERATIONS}
    # Then they are the same set
    assert template_routes == documented


def test_every_path_has_an_any_route_answering_405_without_an_api_key():
    # Given the template's ANY routes and the OpenAPI document's paths
    fallbacks = load().fallbacks()
    paths = {op.path for op in OPERATIONS}
    # Then each path has one, every one is the 405 function's, and none asks for the API key
    assert set(fallbacks) == paths
    for path, (route, fn) in fallbacks.items():
        assert fn.logical_id == "MethodNotAllowedFunction", path
        assert route.api_key_required is False, path


def test_every_function_has_its_handler_file():
    for fn in load().functions.values():
        source = (fn.code_dir / f"{fn.module}.py").read_text()
        assert f"{fn.handler} = " in source or f"def {fn.handler}(" in source, fn.logical_id


def test_only_write_functions_may_touch_the_idempotency_table():
    # Given each function's policy statements, those of its managed policies included
    template = load()
    for logical_id, fn in template.functions.items():
        touches_table = any(s.get("Sid") == "IdempotencyRecords" for s in statements(logical_id))
        writes = any(route.method in ("POST", "PATCH", "DELETE") for route in fn.routes) or any(
            event.get("Type") == "SQS" for event in fn.events.values()
        )
        # Then a function has table rights exactly when it serves a write
        assert touches_table == writes, logical_id


def test_functions_run_python_313_on_arm64():
    function_globals = load().function_globals
    assert function_globals["Runtime"] == "python3.13"
    assert function_globals["Architectures"] == ["arm64"]


def test_every_function_that_reads_provider_keys_may_take_the_shared_rate_limit():
    # Given each function's policy statement ids, those of its managed policies included
    template = load()
    for logical_id in template.functions:
        sids = {statement.get("Sid") for statement in statements(logical_id)}
        # Then a function that can read a provider's key (and so call the provider) can also take
        # the shared limiter's slots, or its first provider call would be refused by IAM
        if "ProviderKeys" in sids:
            assert "SharedRateLimit" in sids, logical_id


def test_the_webhook_route_has_a_method_throttle_of_its_own():
    # Given the API's method settings
    settings = load().resources["HubApi"]["Properties"]["MethodSettings"]
    # When the one for the route without an API key is taken (API Gateway escapes "/" as "~1")
    webhook = [s for s in settings if s["ResourcePath"] == "/~1webhooks~1{provider}" and s["HttpMethod"] == "POST"]
    # Then its rate and burst are the stack parameters
    assert len(webhook) == 1
    assert webhook[0]["ThrottlingRateLimit"] == {"Ref": "WebhookRateLimit"}
    assert webhook[0]["ThrottlingBurstLimit"] == {"Ref": "WebhookBurstLimit"}


def test_the_method_throttle_names_a_route_of_the_template():
    # Given the resource paths the method settings name, unescaped
    template = load()
    named = {
        (s["HttpMethod"], s["ResourcePath"].removeprefix("/").replace("~1", "/"))
        for s in template.resources["HubApi"]["Properties"]["MethodSettings"]
    }
    # Then each is a route the template serves (a typo would throttle nothing, silently)
    assert named <= {(route.method, route.path) for route, _ in template.routes()}


def test_the_webhook_function_has_reserved_concurrency():
    props = load().resources["WebhookFunction"]["Properties"]
    assert props["ReservedConcurrentExecutions"] == {"Ref": "WebhookReservedConcurrency"}


def test_the_default_webhook_burst_fits_the_reserved_concurrency():
    # Given the defaults of the webhook route's throttle and of its function's concurrency
    parameters = load().parameters
    burst = int(parameters["WebhookBurstLimit"]["Default"])
    reserved = int(parameters["WebhookReservedConcurrency"]["Default"])
    # Then a full burst finds a free execution for each request: the gateway answers 429, Lambda never throttles
    assert burst <= reserved


def test_every_bulk_queue_keeps_rows_14_days_and_alarms_on_its_oldest_row_well_before():
    # Given the template's resources and its bulk operations' queues
    from hub.domain.operations import bulk_operations

    resources = load().resources
    queues = ["".join(part.title() for part in op.queue.split("_")) + "Queue" for op in bulk_operations() if op.queue]
    age_alarms = {
        props["Dimensions"][0]["Value"]["Fn::GetAtt"][0]: props
        for resource in resources.values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        and (props := resource["Properties"]).get("MetricName") == "ApproximateAgeOfOldestMessage"
    }
    for queue in queues:
        # Then each keeps its rows SQS's longest, 14 days (the default of 4 would delete a backlog unseen)
        assert resources[queue]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600, queue
        # And an alarm watches the age of its oldest row, firing days before the rows are deleted
        assert 0 < int(age_alarms[queue]["Threshold"]) <= 4 * 24 * 3600, queue
    assert set(age_alarms) == set(queues)
