"""Reads ``template.yaml`` so that the local runtime and the tests take the stack from it: routes,
handlers, timeouts, environment, tables. Nothing about the stack is written twice.

The template is decoded with cfn-lint's decoder, which understands the CloudFormation tags
(``!Ref``, ``!Sub``, ``!GetAtt``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    events: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Template:
    resources: dict[str, Any]
    parameters: dict[str, Any]
    functions: dict[str, Function]
    function_globals: dict[str, Any]

    def tables(self) -> dict[str, dict[str, Any]]:
        """DynamoDB tables by logical id, with their CloudFormation properties."""
        return {
            name: resource.get("Properties", {})
            for name, resource in self.resources.items()
            if resource.get("Type") == "AWS::DynamoDB::Table"
        }

    def routes(self) -> list[tuple[Route, Function]]:
        return [(route, fn) for fn in self.functions.values() for route in fn.routes]

    def environment(self) -> dict[str, str]:
        """The functions' environment variables as the local run sets them (one process for all)."""
        env: dict[str, str] = {}
        for fn in self.functions.values():
            for key, value in fn.environment.items():
                resolved = self.resolve(value)
                if resolved is not None:
                    env.setdefault(key, str(resolved))
        return env

    def resolve(self, value: Any) -> Any:
        """A template value as the local run sees it: a ``Ref`` to a resource is its logical id (the
        local name of a table or queue), to a parameter its default; other intrinsics give None."""
        if isinstance(value, dict) and set(value) == {"Ref"}:
            name = value["Ref"]
            if name in self.parameters:
                return self.parameters[name].get("Default")
            return name
        if isinstance(value, dict):
            return None
        return value


@cache
def load(path: Path = TEMPLATE) -> Template:
    """The decoded template (cached: it does not change while a process runs)."""
    decoded, problems = decode(str(path))
    if decoded is None:
        raise RuntimeError(f"{path.name} cannot be decoded: {problems}")
    resources = dict(decoded.get("Resources", {}))
    parameters = dict(decoded.get("Parameters", {}))
    globals_fn = decoded.get("Globals", {}).get("Function", {})
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
        routes = [
            Route(event["Properties"]["Method"].upper(), event["Properties"]["Path"])
            for event in events.values()
            if event.get("Type") == "Api"
        ]
        functions[logical_id] = Function(
            logical_id=logical_id,
            code_dir=(path.parent / props["CodeUri"]).resolve(),
            module=module,
            handler=handler,
            timeout=int(props.get("Timeout", globals_fn.get("Timeout", 3))),
            memory=int(props.get("MemorySize", globals_fn.get("MemorySize", 128))),
            environment=dict(env),
            routes=routes,
            events=events,
        )
    return Template(resources=resources, parameters=parameters, functions=functions, function_globals=dict(globals_fn))
