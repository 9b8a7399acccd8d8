"""The hub's HTTP API as the command line sees it: one session carrying the API key, retries of what
is safe to retry, and every failure turned into a :class:`CliError` with its exit code and words.
"""

from __future__ import annotations

import os
import urllib.parse
import uuid
from enum import IntEnum
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import __version__

DEFAULT_URL = "http://127.0.0.1:3000"
USER_AGENT = f"referral-hub-cli/{__version__}"


class Exit(IntEnum):
    """The exit codes scripts can rely on (docs/cli.md)."""

    OK = 0
    #: The work ran but did not all succeed: a job with failed rows, doctor problems, messages left.
    INCOMPLETE = 1
    #: The command line or its input is wrong (unknown flag, unreadable file, no API key).
    USAGE = 2
    #: The hub refused the request (a 4xx answer: wrong key, unknown campaign, invalid field).
    REFUSED = 3
    #: The hub could not answer: unreachable, timed out, or a 5xx (after the retries).
    UNAVAILABLE = 4
    #: Interrupted (Ctrl-C).
    INTERRUPTED = 130


class CliError(Exception):
    """A failure to report: words for people, an error document for ``--json``, an exit code."""

    def __init__(
        self,
        message: str,
        *,
        exit_code: Exit,
        code: str = "CLI_ERROR",
        status: int | None = None,
        details: list[Any] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.code = code
        self.status = status
        self.details = details or []

    def to_json(self) -> dict[str, Any]:
        return {
            "error": {"code": self.code, "message": self.message, "details": self.details},
            "httpStatus": self.status,
            "exitCode": int(self.exit_code),
        }

    def words(self) -> str:
        """The error as lines a person reads: the message, the code, and each detail."""
        where = f" ({self.status} {self.code})" if self.status else ""
        lines = [f"{self.message}{where}"]
        for detail in self.details:
            if isinstance(detail, dict):
                field = detail.get("field") or detail.get("provider")
                reason = detail.get("reason") or detail.get("message") or detail.get("operation")
                lines.append(f"  - {field}: {reason}" if field else f"  - {reason or detail}")
            else:
                lines.append(f"  - {detail}")
        return "\n".join(lines)


def usage_error(message: str) -> CliError:
    return CliError(message, exit_code=Exit.USAGE, code="USAGE_ERROR")


def resolve_target(url: str | None, api_key: str | None) -> tuple[str, str]:
    """The hub's URL and API key from the flags, else ``HUB_URL`` / ``HUB_API_KEY``; the URL defaults
    to the local run's."""
    url = (url or os.environ.get("HUB_URL") or DEFAULT_URL).rstrip("/")
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise usage_error(f"the hub URL '{url}' is not an http(s) URL such as {DEFAULT_URL}")
    key = api_key or os.environ.get("HUB_API_KEY")
    if not key:
        raise usage_error("no API key: pass --api-key KEY or set HUB_API_KEY (`make run` prints the local one)")
    return url, key


def path_segment(value: str) -> str:
    """``value`` as one path segment: ``/``, ``+`` and the rest encoded, ``@`` kept readable."""
    return urllib.parse.quote(value, safe="@")


#: The methods that write: each request of one carries an ``Idempotency-Key``.
WRITES = ("POST", "PATCH", "DELETE")


def new_idempotency_key() -> str:
    """A key for one new write: its retries keep it, another write gets another."""
    return f"hub-cli-{uuid.uuid4().hex}"


class HubClient:
    """Calls the hub. GETs, and writes carrying an ``Idempotency-Key``, are retried on connection
    errors, 429 (after its ``Retry-After``), 502, 503 and 504; the key makes a retried write count once."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 60.0, retries: int = 2):
        self.url = url
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update({"x-api-key": api_key, "User-Agent": USER_AGENT, "Accept": "application/json"})
        retry = Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            backoff_factor=0.5,
            status_forcelist=(429, 502, 503, 504),
            allowed_methods=None,  # every method: the writes made here all carry an Idempotency-Key
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        # One key per command: its retries count once, and running the command again is a new request.
        self.idempotency_key = new_idempotency_key()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=body, **kwargs)

    def delete(self, path: str, params: dict[str, Any] | None = None, *, key: str | None = None) -> Any:
        """``DELETE path``, with ``key`` as its ``Idempotency-Key`` (default: the command's)."""
        return self.request("DELETE", path, params=params, headers={"Idempotency-Key": key} if key else None)

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        """The JSON answer of a 2xx; a :class:`CliError` for anything else."""
        sent = dict(headers or {})
        if method in WRITES:
            sent.setdefault("Idempotency-Key", self.idempotency_key)
        try:
            response = self.session.request(
                method, self.url + path, headers=sent, timeout=(10, self.timeout), allow_redirects=False, **kwargs
            )
        except requests.exceptions.RetryError as exc:
            raise unavailable(f"the hub at {self.url} kept failing ({_reason(exc)})") from None
        except requests.ConnectionError as exc:
            raise unavailable(
                f"the hub at {self.url} cannot be reached ({_reason(exc)}):"
                " is it running, and is --url / HUB_URL right?"
            ) from None
        except requests.Timeout:
            raise unavailable(f"the hub at {self.url} did not answer within {self.timeout:g} s") from None
        except requests.RequestException as exc:
            raise unavailable(f"the request to the hub at {self.url} failed: {_reason(exc)}") from None
        return answer_of(response)


def unavailable(message: str, *, status: int | None = None, code: str = "HUB_UNAVAILABLE") -> CliError:
    return CliError(message, exit_code=Exit.UNAVAILABLE, code=code, status=status)


def answer_of(response: requests.Response) -> Any:
    """A response's JSON body, or the :class:`CliError` its status and error document stand for."""
    body = _json_body(response)
    status = response.status_code
    if 200 <= status < 300 and body is not None:
        return body
    error = _error_document(body, status)
    code = str(error.get("code") or "HTTP_ERROR")
    message = str(error.get("message") or f"HTTP {status}") + _advice(response, code)
    details = error.get("details") if isinstance(error.get("details"), list) else []
    raise CliError(message, exit_code=_exit_code(status), code=code, status=status, details=details)


def _json_body(response: requests.Response) -> Any:
    """The response's body as JSON, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def _error_document(body: Any, status: int) -> dict[str, Any]:
    """The ``error`` of a failed answer's body; one standing for the status when it has none."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return error
    if 200 <= status < 300:
        raise unavailable("the hub answered something that is not JSON: is --url the hub's URL?", status=status)
    return {"code": "HTTP_ERROR", "message": f"the hub answered HTTP {status} without an error document"}


def _advice(response: requests.Response, code: str) -> str:
    """What to add to the hub's message so that a person knows what to do next."""
    status = response.status_code
    if status in (401, 403) and code == "UNAUTHORIZED":
        return ": check --api-key or HUB_API_KEY"
    if status == 429:
        retry_after = response.headers.get("Retry-After")
        return f" (retry after {retry_after} s)" if retry_after else ""
    return ""


def _exit_code(status: int) -> Exit:
    """The exit code of a failed answer: the hub refused it (a 4xx but 429), or could not answer."""
    if status == 429:
        return Exit.UNAVAILABLE
    return Exit.REFUSED if 400 <= status < 500 else Exit.UNAVAILABLE


def _reason(exc: Exception) -> str:
    """The innermost cause of a requests error, without the URL it repeats."""
    reason: BaseException = exc
    while reason.args and isinstance(reason.args[0], BaseException):
        reason = reason.args[0]
    inner = getattr(reason, "reason", None)
    if isinstance(inner, BaseException):
        reason = inner
    text = str(reason)
    # urllib3 prefixes "<connection object at 0x...>: "; keep what follows.
    return text.split(">: ", 1)[-1] or type(reason).__name__
