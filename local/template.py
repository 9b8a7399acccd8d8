"""Reads ``template.yaml`` so that the local runtime and the tests take the stack from it: routes,
handlers, timeouts, environment, tables. Nothing about the stack is written twice.

The template is decoded with cfn-lint's decoder, which understands the CloudFormation tags
(``!Ref``, ``!Sub``, ``!GetAtt``).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway form: /campaigns/{campaign}/participants
    # Whether API Gateway asks for the x-api-key: the API's Auth default, unless the event says otherwise
    # (a provider's webhook cannot send the hub's key; it proves itself with a signature instead).
    api_key_required: bool = True


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_dir: Path
    module: str
    handler: str
    timeout: int
    memory: int
    environment: dict[str, Any]
    routes: list[Route] = field(default_factory=list)
    # Paths this function serves for any method the path does not declare (an ``ANY`` event).
    fallbacks: list[Route] = field(default_factory=list)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Template:
    resources: dict[str, Any]
    parameters: dict[str, Any]
    functions: dict[str, Function]
    function_globals: dict[str, Any]
    # Parameter values given at deploy time (sam's ``--parameter-overrides``), by parameter name.
    parameter_overrides: dict[str, str] = field(default_factory=dict)

    def with_overrides(self, overrides: Mapping[str, str]) -> Template:
        """This template deployed with ``overrides`` for some parameters: ``resolve`` gives them, and
        the functions' timeouts and memory sizes follow them."""
        merged = replace(self, parameter_overrides={**self.parameter_overrides, **overrides})
        functions = {
            logical_id: replace(
                fn,
                timeout=merged.function_setting(logical_id, "Timeout", 3),
                memory=merged.function_setting(logical_id, "MemorySize", 128),
            )
            for logical_id, fn in self.functions.items()
        }
        return replace(merged, functions=functions)

    def function_setting(self, logical_id: str, name: str, default: int) -> int:
        """A function's numeric setting (``Timeout``, ``MemorySize``), its own or the global one,
        resolved when it is a ``Ref`` to a parameter."""
        props = self.resources[logical_id].get("Properties", {})
        return int(self.resolve(props.get(name, self.function_globals.get(name, default))))

    def tables(self) -> dict[str, dict[str, Any]]:
        """DynamoDB tables by logical id, with their CloudFormation properties."""
        return {
            name: resource.get("Properties", {})
            for name, resource in self.resources.items()
            if resource.get("Type") == "AWS::DynamoDB::Table"
        }

    def routes(self) -> list[tuple[Route, Function]]:
        """The API's operations: each route with one method, and its function."""
        return [(route, fn) for fn in self.functions.values() for route in fn.routes]

    def fallbacks(self) -> dict[str, tuple[Route, Function]]:
        """By path, the ``ANY`` route API Gateway takes for a method the path does not declare."""
        return {route.path: (route, fn) for fn in self.functions.values() for route in fn.fallbacks}

    def environment(self, physical: Mapping[str, str] | None = None) -> dict[str, str]:
        """The functions' environment variables as the local run sets them (one process for all);
        ``physical`` gives the local name or URL of the resources once they exist."""
        env: dict[str, str] = {}
        for fn in self.functions.values():
            for key, value in fn.environment.items():
                resolved = self.resolve(value, physical)
                if resolved is not None:
                    env.setdefault(key, str(resolved))
        return env

    def resolve(self, value: Any, physical: Mapping[str, str] | None = None) -> Any:
        """A template value as the local run sees it: a ``Ref`` to a parameter is its override, else
        its default; to a resource, its local name or URL in ``physical`` (a queue's URL, a bucket's
        name), else its logical id (the local name of a table); other intrinsics give None."""
        if isinstance(value, dict) and set(value) == {"Ref"}:
            name = value["Ref"]
            if name in self.parameter_overrides:
                return self.parameter_overrides[name]
            if name in self.parameters:
                return self.parameters[name].get("Default")
            return (physical or {}).get(name, name)
        if isinstance(value, dict):
            return None
        return value


def parse_parameter_overrides(text: str) -> dict[str, str]:
    """Parameter values written as sam's ``--parameter-overrides`` takes them: ``Key=Value`` pairs
    separated by spaces (quoted when a value has spaces), or ``ParameterKey=Key,ParameterValue=Value``."""
    overrides: dict[str, str] = {}
    for item in shlex.split(text):
        if item.startswith("ParameterKey="):
            fields = dict(part.split("=", 1) for part in item.split(",", 1))
            overrides[fields["ParameterKey"]] = fields.get("ParameterValue", "")
            continue
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"a parameter override is written Key=Value, not {item!r}")
        overrides[key] = value
    return overrides


def _api_key_required(resources: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """An Api event's ``Auth.ApiKeyRequired`` when it sets one, else its API's (SAM's own rule)."""
    own = event.get("Auth", {}).get("ApiKeyRequired")
    if own is not None:
        return bool(own)
    ref = event.get("RestApiId")
    api = resources.get(ref.get("Ref", "") if isinstance(ref, dict) else "", {})
    return bool(api.get("Properties", {}).get("Auth", {}).get("ApiKeyRequired", False))


@cache
def load(path: Path = TEMPLATE) -> Template:
    """The decoded template (cached: it does not change while a process runs)."""
    decoded, problems = decode(str(path))
    if decoded is None:
        raise RuntimeError(f"{path.name} cannot be decoded: {problems}")
    resources = dict(decoded.get("Resources", {}))
    parameters = dict(decoded.get("Parameters", {}))
    globals_fn = decoded.get("Globals", {}).get("Function", {})
    # The template without functions, to resolve their settings against its parameters' defaults.
    bare = Template(resources=resources, parameters=parameters, functions={}, function_globals=dict(globals_fn))
    functions = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        module, _, handler = props["Handler"].rpartition(".")
        env = {
            **globals_fn.get("Environment", {}).get("Variables", {}),
            **props.get("Environment", {}).get("Variables", {}),
        }
        events = dict(props.get("Events", {}))
        api_routes = [
            Route(
                event["Properties"]["Method"].upper(),
                event["Properties"]["Path"],
                api_key_required=_api_key_required(resources, event["Properties"]),
            )
            for event in events.values()
            if event.get("Type") == "Api"
        ]
        routes = [route for route in api_routes if route.method != "ANY"]
        fallbacks = [route for route in api_routes if route.method == "ANY"]
        functions[logical_id] = Function(
            logical_id=logical_id,
            code_dir=(path.parent / props["CodeUri"]).resolve(),
            module=module,
            handler=handler,
            timeout=bare.function_setting(logical_id, "Timeout", 3),
            memory=bare.function_setting(logical_id, "MemorySize", 128),
            environment=dict(env),
            routes=routes,
            fallbacks=fallbacks,
            events=events,
        )
    return replace(bare, functions=functions)
