"""What every sandbox provider shares: a real HTTP server on loopback, request recording, fault
injection, latency and the provider's rate limit.

A sandbox is a stateful fake of one provider, faithful to its reference document. It serves three
uses: the tests (in-process, through the Python API below), the local run's embedded default, and
the benchmarks (another process, through the ``/_sandbox/...`` control routes). It never ships to
Lambda.

Control routes (JSON), beside the provider's own routes:

- ``GET /_sandbox/requests``: what the provider received, oldest first; ``DELETE`` forgets it.
- ``POST /_sandbox/faults``: ``{"status": 500, "times": 2, "delay": 0, "headers": {}, "body": ...,
  "path": "/substring", "method": "POST", "probability": 1.0}``: the next ``times`` matching
  requests get that answer (with ``probability`` below 1, each matching request by that chance);
  with ``delay`` and no ``status`` the request is answered normally, but only after ``delay`` seconds
  (a timeout for a client with a shorter read timeout). With ``"applied": true`` the request is
  served first (a write is applied; the request's ``served`` records the status it had) and only then is
  the fault's answer given instead (after ``delay``, if any; with no ``status``, the real answer,
  late): the provider did the work and the answer was lost. ``"after": n`` lets the first ``n``
  matching requests through untouched (a fault on a read-back, not on the read before). ``DELETE``
  clears them.
- ``POST /_sandbox/latency``: ``{"seconds": 0.05}`` added to every answer.
- ``POST /_sandbox/rate-limit``: ``{"requests": 50, "perSeconds": 1, "concurrency": 0}``, or ``null``
  to lift it; answers over it are 429 in the provider's own way.
- ``GET /_sandbox/stats``: counts of requests and of 429s answered.
- ``POST /_sandbox/reset``: forget all state, faults and requests (the rate limit stays).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

CONTROL_PREFIX = "/_sandbox"


@dataclass
class Received:
    """One request as the provider saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    at: float = field(default_factory=time.time)
    status: int | None = None  # the answer's status, once answered
    served: int | None = None  # under an ``applied`` fault: the status of the answer the fault replaced

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class Fault:
    """An answer forced onto the next ``times`` matching requests."""

    status: int | None = None
    times: int = 1
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    path: str | None = None
    method: str | None = None
    probability: float = 1.0  # below 1: each matching request gets the fault with this chance
    applied: bool = False  # serve the request first (a write is applied), then give the fault's answer
    after: int = 0  # let this many matching requests through untouched before the fault applies

    def matches(self, request: Request) -> bool:
        if self.path is not None and self.path not in request.path:
            return False
        if self.method is not None and self.method.upper() != request.method:
            return False
        return self.probability >= 1.0 or random.random() < self.probability


@dataclass
class SandboxRate:
    requests: int
    per_seconds: float
    concurrency: int = 0


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


Handler = Callable[..., Response]


class Sandbox:
    """Base of the four sandbox providers.

    Subclasses set ``name`` and ``prefix`` (the base URL path up to and including the API version, as
    the clients' ``*_API_URL`` variables hold it), list their routes in ``rules()`` (paths relative to
    the prefix, endpoints naming methods of the subclass), and answer ``authenticate`` and
    ``rate_limited`` the provider's way. Handlers take the request and the route's arguments and
    return a :class:`Response`; they run under ``self.lock``.
    """

    name = "sandbox"
    prefix = ""

    def __init__(self, *, api_key: str = "sandbox-key", rate: SandboxRate | None = None):
        self.api_key = api_key
        self.rate = rate
        self.lock = threading.RLock()
        self.received: list[Received] = []
        self.faults: deque[Fault] = deque()
        self.latency = 0.0
        self.throttled = 0
        self._window: deque[float] = deque()
        self._in_flight = 0
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._map = Map([Rule(self.prefix + rule.rule, **_rule_kwargs(rule)) for rule in self.rules()])
        self.reset_state()

    # -- what a provider defines ------------------------------------------------------------------

    def rules(self) -> list[Rule]:
        raise NotImplementedError

    def reset_state(self) -> None:
        """Forget the provider's data (participants, rewards...)."""

    def authenticate(self, request: Request) -> Response | None:
        """None when the request carries the right key, else the provider's refusal."""
        raise NotImplementedError

    def rate_limited(self, retry_after: float) -> Response:
        """The provider's 429."""
        return json_response({"error": "Too many requests"}, 429, {"Retry-After": str(max(1, round(retry_after)))})

    # -- Python API for tests ---------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on loopback in a background thread; return the base URL a client is configured with."""
        self._server = make_server(host, port, self, threaded=True)
        server = self._server
        # A short poll interval: shutdown() waits up to one interval, and tests start many sandboxes.
        self._thread = threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.05), name=f"sandbox-{self.name}", daemon=True
        )
        self._thread.start()
        return self.base_url

    @property
    def base_url(self) -> str:
        assert self._server is not None, "the sandbox is not started"
        return f"http://{self._server.host}:{self._server.port}{self.prefix}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def inject(self, status: int | None = None, *, times: int = 1, **kwargs: Any) -> None:
        """Force ``status`` (or a ``delay``) onto the next ``times`` matching requests."""
        with self.lock:
            self.faults.append(Fault(status=status, times=times, **kwargs))

    def set_rate_limit(self, rate: SandboxRate | None) -> None:
        with self.lock:
            self.rate = rate
            self._window.clear()

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.faults.clear()
            self.latency = 0.0
            self.throttled = 0
            self._window.clear()
            self.reset_state()

    def requests_to(self, path_suffix: str, method: str | None = None) -> list[Received]:
        """Received requests whose path ends with ``path_suffix`` (and of ``method``, if given)."""
        return [
            r
            for r in list(self.received)
            if r.path.endswith(path_suffix) and (method is None or r.method == method.upper())
        ]

    # -- WSGI -------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        response = self._control(request) if request.path.startswith(CONTROL_PREFIX) else self._serve(request)
        return response(environ, start_response)

    def _serve(self, request: Request) -> Response:
        body = request.get_data(cache=True)
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode("utf-8", "replace")
        received = Received(request.method, request.path, dict(request.args), dict(request.headers), parsed)
        response = self._answer(request, received)
        received.status = response.status_code
        return response

    def _answer(self, request: Request, received: Received) -> Response:
        with self.lock:
            self.received.append(received)
            fault = self._take_fault(request)
            throttle_wait = self._throttle()
            if throttle_wait is None:
                self._in_flight += 1
            latency = self.latency
        try:
            if latency:
                time.sleep(latency)
            if fault is not None and fault.applied:
                served = self._respond(request, throttle_wait)
                received.served = served.status_code
                return _forced_after(fault, served)
            forced = _forced_answer(fault)
            if forced is not None:
                return forced
            return self._respond(request, throttle_wait)
        finally:
            if throttle_wait is None:
                with self.lock:
                    self._in_flight -= 1

    def _respond(self, request: Request, throttle_wait: float | None) -> Response:
        """The provider's own answer: its 429 over the rate limit, its refusal of a wrong key, or the route's."""
        if throttle_wait is not None:
            with self.lock:
                self.throttled += 1
            return self.rate_limited(throttle_wait)
        refusal = self.authenticate(request)
        return refusal if refusal is not None else self._route(request)

    def _route(self, request: Request) -> Response:
        """Run the handler of the provider's route the request matches; 404 or 405 when none does."""
        try:
            endpoint, args = self._map.bind_to_environ(request.environ).match()
        except NotFound:
            return json_response({"error": f"Not found: {request.method} {request.path}"}, 404)
        except MethodNotAllowed:
            return json_response({"error": f"Method {request.method} not allowed"}, 405)
        except HTTPException as exc:
            return json_response({"error": exc.description}, exc.code or 400)
        with self.lock:
            handler: Handler = getattr(self, endpoint)
            return handler(request, **args)

    def _take_fault(self, request: Request) -> Fault | None:
        for fault in self.faults:
            if fault.matches(request):
                if fault.after > 0:
                    fault.after -= 1
                    continue
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _throttle(self) -> float | None:
        """Count this request against the limit; None if it may go, else the seconds until it could."""
        if self.rate is None:
            return None
        now = time.monotonic()
        while self._window and self._window[0] <= now - self.rate.per_seconds:
            self._window.popleft()
        if self.rate.concurrency and self._in_flight >= self.rate.concurrency:
            return 1.0
        if len(self._window) >= self.rate.requests:
            return self._window[0] + self.rate.per_seconds - now
        self._window.append(now)
        return None

    def _control(self, request: Request) -> Response:
        action = request.path[len(CONTROL_PREFIX) :].strip("/")
        payload = request.get_json(silent=True) if request.method == "POST" else None
        route = self._control_routes().get((action, request.method))
        if route is None:
            return self.control(request, action, payload)
        with self.lock:
            return route(payload)

    def _control_routes(self) -> dict[tuple[str, str], Callable[[Any], Response]]:
        """The control routes every sandbox shares, by action and method; each takes the JSON payload."""
        return {
            ("requests", "GET"): self._control_requests,
            ("requests", "DELETE"): self._control_forget_requests,
            ("faults", "POST"): self._control_inject,
            ("faults", "DELETE"): self._control_clear_faults,
            ("latency", "POST"): self._control_latency,
            ("rate-limit", "POST"): self._control_rate_limit,
            ("stats", "GET"): self._control_stats,
            ("reset", "POST"): self._control_reset,
        }

    def _control_requests(self, payload: Any) -> Response:
        return json_response([asdict(r) for r in self.received])

    def _control_forget_requests(self, payload: Any) -> Response:
        self.received.clear()
        return json_response({"cleared": True})

    def _control_inject(self, payload: Any) -> Response:
        self.inject(**(payload or {}))
        return json_response({"faults": len(self.faults)})

    def _control_clear_faults(self, payload: Any) -> Response:
        self.faults.clear()
        return json_response({"faults": 0})

    def _control_latency(self, payload: Any) -> Response:
        self.latency = float((payload or {}).get("seconds", 0))
        return json_response({"latency": self.latency})

    def _control_rate_limit(self, payload: Any) -> Response:
        self.set_rate_limit(_rate_of(payload))
        return json_response({"rateLimit": None if self.rate is None else asdict(self.rate)})

    def _control_stats(self, payload: Any) -> Response:
        return json_response({"requests": len(self.received), "throttled": self.throttled})

    def _control_reset(self, payload: Any) -> Response:
        self.reset()
        return json_response({"reset": True})

    def control(self, request: Request, action: str, payload: Any) -> Response:
        """Provider-specific control routes (seeding data); subclasses extend it."""
        return json_response({"error": f"unknown sandbox control '{action}'"}, 404)


def _rule_kwargs(rule: Rule) -> dict[str, Any]:
    return {"endpoint": rule.endpoint, "methods": sorted(rule.methods or [])}


def _forced_answer(fault: Fault | None) -> Response | None:
    """Wait out the fault's delay; then its forced answer, or None when the request is answered normally."""
    if fault is None:
        return None
    if fault.delay:
        time.sleep(fault.delay)
    if fault.status is None:
        return None
    body = fault.body if fault.body is not None else {"error": "Injected failure"}
    return json_response(body, fault.status, fault.headers)


def _forced_after(fault: Fault, served: Response) -> Response:
    """The answer of a fault that lets the request be served first: its delay waited out, then its
    forced answer, or the one served, late, when it forces none."""
    if fault.delay:
        time.sleep(fault.delay)
    if fault.status is None:
        return served
    body = fault.body if fault.body is not None else {"error": "Injected failure"}
    return json_response(body, fault.status, fault.headers)


def _rate_of(payload: Any) -> SandboxRate | None:
    """The rate limit a ``/_sandbox/rate-limit`` payload sets; None (no limit) for an empty one."""
    if not payload:
        return None
    return SandboxRate(int(payload["requests"]), float(payload["perSeconds"]), int(payload.get("concurrency", 0)))
