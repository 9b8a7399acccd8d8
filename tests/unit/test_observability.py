"""docs/observability.md cannot drift: each metric it names is published by the layer, and each alarm
it names is in template.yaml with the documented metrics and threshold (and the template has no alarm,
and no dead-letter queue without one, that the page leaves out)."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

from hub.runtime.observability import UNATTRIBUTED
from local.template import ROOT, load

DOC = ROOT / "docs/observability.md"
LAYER = ROOT / "layers/hub/python"
COMPARISONS = {
    ">": "GreaterThanThreshold",
    ">=": "GreaterThanOrEqualToThreshold",
    "<": "LessThanThreshold",
    "<=": "LessThanOrEqualToThreshold",
}


@dataclass(frozen=True)
class DocumentedMetric:
    name: str
    unit: str
    dimension_sets: tuple[frozenset[str], ...]
    source: str  # the layer file that names it, relative to the layer's python folder


@dataclass(frozen=True)
class DocumentedAlarm:
    logical_id: str
    metrics: frozenset[tuple[str, str]]  # (namespace, metric name)
    comparison: str
    threshold: float


def _table(section: str) -> list[dict[str, str]]:
    """The rows (cells stripped) of the first table under the ``## section`` heading of the page."""
    text = DOC.read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in body.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    header, *data = rows
    assert data, f"no table under '## {section}'"
    return [dict(zip(header, row, strict=True)) for row in data]


def _ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def documented_metrics() -> dict[str, DocumentedMetric]:
    """The metrics table of docs/observability.md, by metric name."""
    metrics = {}
    for row in _table("Metrics"):
        (name,) = _ticked(row["metric"])
        sets = tuple(frozenset(d.strip() for d in group.split(",")) for group in _ticked(row["dimension sets"]))
        (source,) = _ticked(row["defined in"])
        metrics[name] = DocumentedMetric(name, row["unit"], sets, source)
    return metrics


def documented_alarms() -> dict[str, DocumentedAlarm]:
    """The alarms table of docs/observability.md, by logical id."""
    alarms = {}
    for row in _table("Alarms"):
        (logical_id,) = _ticked(row["alarm"])
        metrics = frozenset(tuple(m.split(":", 1)) for m in _ticked(row["metrics"]))
        match = re.fullmatch(r"`(>=|<=|>|<) ([0-9.]+)`", row["threshold"])
        assert match, f"{logical_id}: the threshold is written `> 5`"
        alarms[logical_id] = DocumentedAlarm(
            logical_id,
            metrics,
            COMPARISONS[match.group(1)],
            float(match.group(2)),
        )
    return alarms


def template_alarms() -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in load().resources.items()
        if resource.get("Type") == "AWS::CloudWatch::Alarm"
    }


def alarm_metrics(props: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics an alarm reads (its own, or those of its metric math), each with its dimensions."""
    if "MetricName" in props:
        return [props]
    return [query["MetricStat"]["Metric"] for query in props["Metrics"] if "MetricStat" in query]


def dimensions_of(metric: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}


@pytest.fixture
def api(monkeypatch) -> ModuleType:
    """``hub.edge.api`` as Lambda imports it: with the template's Powertools settings in the environment
    (its ``Metrics`` takes the namespace at import, so no test may import it without them)."""
    for name, value in load().function_globals["Environment"]["Variables"].items():
        if name.startswith("POWERTOOLS_") and isinstance(value, str):
            monkeypatch.setenv(name, value)
    return importlib.import_module("hub.edge.api")


def test_the_page_documents_metrics_and_alarms():
    # Given the page, When its tables are read, Then both hold rows (the parsing itself works)
    assert len(documented_metrics()) >= 5
    assert len(documented_alarms()) >= 3


@pytest.mark.parametrize("name", sorted(documented_metrics()))
def test_each_documented_metric_is_named_in_the_layer_file_the_page_gives(name):
    # Given a documented metric
    metric = documented_metrics()[name]
    # When the layer file the page names is read
    source = (LAYER / metric.source).read_text()
    # Then it spells the metric's name as a string, with a unit CloudWatch knows
    assert f'"{name}"' in source, f"{name} is not in {metric.source}"
    assert metric.unit in {"Count", "Milliseconds", "Seconds", "Bytes", "Percent"}
    assert all("service" in dimension_set for dimension_set in metric.dimension_sets), name


@pytest.mark.parametrize("logical_id", sorted(documented_alarms()))
def test_each_documented_alarm_is_in_the_template_with_its_metrics_and_threshold(logical_id):
    # Given a documented alarm
    documented = documented_alarms()[logical_id]
    # When the template's alarm of that logical id is read
    props = template_alarms().get(logical_id)
    # Then it watches the documented metrics with the documented threshold
    assert props is not None, f"{logical_id} is not an alarm of template.yaml"
    watched = {(metric["Namespace"], metric["MetricName"]) for metric in alarm_metrics(props)}
    assert watched == documented.metrics
    assert props["ComparisonOperator"] == documented.comparison
    assert float(props["Threshold"]) == documented.threshold


def test_every_alarm_of_the_template_is_documented():
    # Given the template's alarms, Then the page has a row for each
    assert set(template_alarms()) == set(documented_alarms())


def test_every_dead_letter_queue_has_an_alarm_on_its_visible_messages():
    # Given every queue the template names as a dead-letter target
    resources = load().resources
    dead_letter_queues = {
        props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for props in (r.get("Properties", {}) for r in resources.values() if r.get("Type") == "AWS::SQS::Queue")
        if "RedrivePolicy" in props
    }
    # When the alarms on SQS's visible messages are gathered, by the queue they watch
    watched = {
        dimensions_of(props)["QueueName"]["Fn::GetAtt"][0]: props
        for props in template_alarms().values()
        if props.get("MetricName") == "ApproximateNumberOfMessagesVisible"
    }
    # Then each dead-letter queue has one, firing on the first message
    assert dead_letter_queues
    for queue in dead_letter_queues:
        assert queue in watched, f"{queue} has no alarm"
        assert (watched[queue]["Threshold"], watched[queue]["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_alarms_on_the_hubs_metrics_use_the_namespace_and_service_the_functions_publish_with():
    # Given the namespace and service the functions get from the template's Globals
    variables = load().function_globals["Environment"]["Variables"]
    namespace, service = variables["POWERTOOLS_METRICS_NAMESPACE"], variables["POWERTOOLS_SERVICE_NAME"]
    # When the alarms' metrics in the hub's namespace are gathered
    documented = documented_metrics()
    hub_metrics = [
        metric
        for props in template_alarms().values()
        for metric in alarm_metrics(props)
        if metric["Namespace"] not in ("AWS/SQS", "AWS/ApiGateway")
    ]
    # Then each is in that namespace, for that service, with a documented dimension set
    assert hub_metrics
    for metric in hub_metrics:
        dimensions = dimensions_of(metric)
        assert metric["Namespace"] == namespace
        assert dimensions["service"] == service
        assert frozenset(dimensions) in documented[metric["MetricName"]].dimension_sets


def test_alarms_on_the_api_watch_the_templates_api_and_stage():
    # Given the API's name as the template gives it
    api_name = load().resources["HubApi"]["Properties"]["Name"]
    # When the alarms on API Gateway's metrics are read
    api_metrics = [
        metric
        for props in template_alarms().values()
        for metric in alarm_metrics(props)
        if metric["Namespace"] == "AWS/ApiGateway"
    ]
    # Then they name that API and its stage
    assert api_metrics
    for metric in api_metrics:
        assert dimensions_of(metric) == {"ApiName": api_name, "Stage": {"Ref": "Stage"}}


def test_every_alarm_notifies_the_alarm_topic_when_one_is_given():
    # Given the condition on the AlarmTopicArn parameter
    notify = {"Fn::If": ["NotifyAlarms", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    # Then every alarm notifies it both as it fires and as it recovers
    for logical_id, props in template_alarms().items():
        assert props.get("AlarmActions") == notify, logical_id
        assert props.get("OKActions") == notify, logical_id


def test_each_route_is_its_own_operation_in_metrics_and_logs(api):
    # Given every route of the template
    routes = [route for route, _ in load().routes()]
    # When each is named as the API entry point names it
    names = [api.operation_of({"httpMethod": route.method, "resource": route.path}) for route in routes]
    # Then no two share a name, and a route of the OpenAPI document goes by its operationId
    assert len(set(names)) == len(routes)
    for route, name in zip(routes, names, strict=True):
        assert name == api.OPERATION_BY_ROUTE.get((route.method, route.path), f"{route.method} {route.path}")
    assert api.OPERATION_BY_ROUTE[("POST", "/campaigns/{campaign}/participants")] == "addParticipant"


def test_an_event_without_a_route_is_named_apart_from_every_operation(api):
    # Given events that name no route of the hub, When they are named, Then none takes an operation's name
    assert api.operation_of({}) == "unknownRoute"
    assert api.operation_of({"httpMethod": "GET", "resource": "/elsewhere"}) == "GET /elsewhere"
    assert UNATTRIBUTED not in api.OPERATION_BY_ROUTE.values()
