"""API Gateway for the local run: the template's routes, each request turned into the REST API proxy
event AWS would send, handed to that function's real handler with a Lambda context carrying the
template's timeout.

Like API Gateway, a request to a route that requires the API key (the API's default, unless the
route's event says ``Auth: {ApiKeyRequired: false}``, as the provider webhooks do) never reaches a
function without the right ``x-api-key``, and a path no route matches answers 404; both answers have
the hub's error shape, as the template's gateway responses give them in AWS. A path that has routes,
asked with another method, goes to the path's ``ANY`` route, as API Gateway takes a resource's
declared methods before ``ANY``: the template serves every path's ``ANY`` with a function answering
405 ``METHOD_NOT_ALLOWED`` and the ``Allow`` header, with no API key asked (routing comes before
authentication). A path without an ``ANY`` route answers such a method 404, as API Gateway would.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from .template import Function, Route, Template

log = logging.getLogger("local.gateway")

# API Gateway takes 10 MB, but a synchronous Lambda invocation takes at most 6 MB of event (the body,
# base64 for binary, and the headers around it): past that the request never reaches the function.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024


@dataclass
class LambdaContext:
    """The context object Lambda hands a handler, with the function's own timeout."""

    function_name: str
    memory_limit_in_mb: int
    timeout: int
    aws_request_id: str
    function_version: str = "$LATEST"

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Functions:
    """Loads each function from its ``Handler`` string, the way Lambda does, once per process."""

    def __init__(self, template: Template):
        self.template = template
        self._handlers: dict[str, Callable[..., Any]] = {}
        self._lock = threading.Lock()

    def handler(self, fn: Function) -> Callable[..., Any]:
        with self._lock:
            if fn.logical_id not in self._handlers:
                path = fn.code_dir / f"{fn.module.replace('.', '/')}.py"
                name = f"functions_{fn.logical_id}"
                spec = importlib.util.spec_from_file_location(name, path)
                assert spec is not None and spec.loader is not None, f"cannot load {path}"
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                spec.loader.exec_module(module)
                self._handlers[fn.logical_id] = getattr(module, fn.handler)
            return self._handlers[fn.logical_id]

    def invoke(self, fn: Function, event: dict[str, Any]) -> Any:
        context = LambdaContext(fn.logical_id, fn.memory, fn.timeout, str(uuid.uuid4()))
        return self.handler(fn)(event, context)


def _rule_path(path: str) -> str:
    path = re.sub(r"\{(\w+)\+\}", r"<path:\1>", path)
    return re.sub(r"\{(\w+)\}", r"<\1>", path)


def _segments(path: str) -> list[str]:
    """The segments of a path, none for the root."""
    stripped = path.strip("/")
    return stripped.split("/") if stripped else []


def _literal_segments(resource: str, segments: list[str]) -> tuple[bool, ...] | None:
    """Which segments of the template path ``resource`` are literals (not ``{parameter}``), when it
    matches a request path of these ``segments``; ``None`` when it does not match."""
    parts = _segments(resource)
    if len(parts) != len(segments):
        return None
    literal = tuple(not (part.startswith("{") and part.endswith("}")) for part in parts)
    matches = all(
        part == segment if lit else bool(segment) for lit, part, segment in zip(literal, parts, segments, strict=True)
    )
    return literal if matches else None


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"code": code, "message": message, "details": []}}
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)


class Gateway:
    """A WSGI app serving the template's API routes."""

    def __init__(self, template: Template, functions: Functions, api_key: str):
        self.template = template
        self.functions = functions
        self.api_key = api_key
        self._routes = template.routes()
        self._map = Map(
            [
                Rule(_rule_path(route.path), endpoint=index, methods=[route.method])
                for index, (route, _) in enumerate(self._routes)
            ]
        )
        # Each template path (an API Gateway resource) and its methods.
        self._methods: dict[str, set[str]] = {}
        for route, _ in self._routes:
            self._methods.setdefault(route.path, set()).add(route.method)
        # Each path's ANY route: what API Gateway takes for a method the path does not declare.
        self._fallbacks = template.fallbacks()
        self._server: BaseWSGIServer | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        started = time.monotonic()
        response = self.handle(request)
        log.info(
            "%s %s -> %s (%.0f ms)",
            request.method,
            request.path,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        resource = self._resource(request.path)
        if resource is not None and request.method not in self._methods[resource]:
            if resource not in self._fallbacks:
                return _error(404, "ROUTE_NOT_FOUND", f"no route {request.method} {request.path}")
            route, fn = self._fallbacks[resource]
            return self._invoke(request, route, fn, self._path_parameters(resource, request.path))
        try:
            index, args = self._map.bind_to_environ(request.environ).match()
        except (NotFound, MethodNotAllowed):
            return _error(404, "ROUTE_NOT_FOUND", f"no route {request.method} {request.path}")
        route, fn = self._routes[index]
        return self._invoke(request, route, fn, dict(args))

    def _invoke(self, request: Request, route: Route, fn: Function, args: dict[str, str]) -> Response:
        if route.api_key_required and request.headers.get("x-api-key") != self.api_key:
            return _error(403, "UNAUTHORIZED", "a valid API key is required in the x-api-key header")
        if (request.content_length or 0) > MAX_PAYLOAD_BYTES:
            return _error(413, "PAYLOAD_TOO_LARGE", "the request is larger than the 6 MB a Lambda function takes")
        event = proxy_event(request, route.path, args)
        if len(json.dumps(event)) > MAX_PAYLOAD_BYTES:
            return _error(413, "PAYLOAD_TOO_LARGE", "the request is larger than the 6 MB a Lambda function takes")
        try:
            result = self.functions.invoke(fn, event)
        except Exception:
            log.exception("function %s failed", fn.logical_id)
            return Response(json.dumps({"message": "Internal server error"}), status=502, mimetype="application/json")
        return proxy_response(result)

    def _resource(self, path: str) -> str | None:
        """The template path API Gateway would pick for ``path``: at each segment a literal beats a
        ``{parameter}`` (``/imports/uploads`` is its own resource, not a ``/imports/{jobId}``)."""
        segments = _segments(path)
        best: tuple[tuple[bool, ...], str] | None = None
        for resource in self._methods:
            literal = _literal_segments(resource, segments)
            if literal is not None and (best is None or literal > best[0]):
                best = (literal, resource)
        return best[1] if best is not None else None

    @staticmethod
    def _path_parameters(resource: str, path: str) -> dict[str, str]:
        """The ``{parameter}`` segments of ``path`` under the template path ``resource``."""
        parts, segments = _segments(resource), _segments(path)
        literal = _literal_segments(resource, segments) or ()
        return {part[1:-1]: segment for part, segment, lit in zip(parts, segments, literal, strict=False) if not lit}

    def start(self, host: str = "127.0.0.1", port: int = 3000) -> str:
        self._server = make_server(host, port, self, threaded=True)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = self._server
        threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.1), name="local-gateway", daemon=True
        ).start()
        return f"http://{host}:{self._server.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def proxy_event(request: Request, resource: str, path_parameters: dict[str, str]) -> dict[str, Any]:
    """The REST API (v1) Lambda proxy event for ``request``."""
    raw = request.get_data()
    try:
        body: str | None = raw.decode("utf-8") if raw else None
        encoded = False
    except UnicodeDecodeError:
        body, encoded = base64.b64encode(raw).decode("ascii"), True
    headers = {key: value for key, value in request.headers.items()}
    multi_headers = {key: request.headers.getlist(key) for key in headers}
    query = {key: request.args.getlist(key) for key in request.args}
    request_id = str(uuid.uuid4())
    return {
        "resource": resource,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": dict(path_parameters) or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": request.method,
            "path": f"/local{request.path}",
            "stage": "local",
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "protocol": "HTTP/1.1",
            "accountId": "000000000000",
            "apiId": "local",
            "identity": {"sourceIp": request.remote_addr, "userAgent": request.user_agent.string, "apiKey": "***"},
        },
        "body": body,
        "isBase64Encoded": encoded,
    }


def proxy_response(result: Any) -> Response:
    """A function's proxy result as the HTTP answer API Gateway would give."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return Response(json.dumps({"message": "Internal server error"}), status=502, mimetype="application/json")
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    response = Response(data, status=int(result["statusCode"]))
    response.headers.pop("Content-Type", None)
    for key, value in (result.get("headers") or {}).items():
        response.headers[key] = str(value)
    for key, values in (result.get("multiValueHeaders") or {}).items():
        response.headers.remove(key)
        for value in values:
            response.headers.add(key, str(value))
    return response
