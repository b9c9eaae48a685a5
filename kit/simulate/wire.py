"""The extensions' wire format: a request as an AWS client sends it, the responses, and AWS's error shapes.

Nothing here changes the simulated world; the extension modules parse a `Request`, change or read the world,
and answer a `Response` built here.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from kit.simulate import moto_state

CREDENTIAL = re.compile(r"Credential=([^/]+)/[^/]+/([^/]+)/([^/]+)/")
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"


class BadRequest(Exception):
    """A request AWS would refuse with a client error: `code` and `message` as AWS words them."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Response:
    """One HTTP answer: status line, headers, body."""

    status: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def ok(self) -> bool:
        """Whether the status is 200."""
        return self.status.startswith("200")

    def with_body(self, body: bytes) -> Response:
        """The same answer with another body (Content-Length follows it)."""
        headers = [(k, v) for k, v in self.headers if k.lower() != "content-length"]
        return replace(self, headers=[*headers, ("Content-Length", str(len(body)))], body=body)


@dataclass
class Request:
    """One request in front of moto: who signed it for which service and Region, and what it asks."""

    environ: dict[str, Any]
    access_key: str = ""
    region: str = "us-east-1"
    service: str = ""           # the service as botocore signs it (SigV4 credential scope): ec2, kms, ...
    target: str = ""            # X-Amz-Target (JSON protocols), "" for query protocols
    _params: dict[str, list[str]] | None = field(default=None, repr=False)

    @classmethod
    def from_environ(cls, environ: dict[str, Any]) -> Request:
        """The request's signing scope and target (the body is read only when asked for)."""
        match = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        access_key, region, service = match.groups() if match else ("", "us-east-1", "")
        return cls(environ, access_key, region, service, environ.get("HTTP_X_AMZ_TARGET", ""))

    @property
    def protocol(self) -> str:
        """How AWS words this request's errors: "json" (X-Amz-Target), "ec2", or "query"."""
        if self.target:
            return "json"
        return "ec2" if self.service == "ec2" else "query"

    @property
    def operation(self) -> str:
        """The operation: X-Amz-Target's last part, or the query protocols' Action (POST bodies only)."""
        if self.target:
            return self.target.rsplit(".", 1)[-1]
        if self.environ.get("REQUEST_METHOD") != "POST":
            return ""
        return self.param("Action")

    @property
    def account(self) -> str:
        """The account the request acts in, as moto decides it (x-moto-account-id, then the access key)."""
        return self.environ.get("HTTP_X_MOTO_ACCOUNT_ID") or moto_state.account_of_access_key(self.access_key)

    @property
    def body(self) -> bytes:
        """The request body (read once and put back for moto)."""
        environ = self.environ
        if "kit.body" not in environ:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            environ["kit.body"] = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(environ["kit.body"])
        return bytes(environ["kit.body"])

    def json(self) -> dict[str, Any]:
        """A JSON protocol body as an object; SerializationException as AWS answers one it cannot read."""
        try:
            payload = json.loads(self.body or b"{}")
        except ValueError:
            raise BadRequest("SerializationException", "Request body is not valid JSON.") from None
        if not isinstance(payload, dict):
            raise BadRequest("SerializationException", "Request body must be a JSON object.")
        return payload

    def replace_json(self, payload: dict[str, Any]) -> None:
        """Give moto another JSON body for this request (e.g. a key ARN rewritten to the key id)."""
        body = json.dumps(payload).encode()
        self.environ["kit.body"] = body
        self.environ["wsgi.input"] = io.BytesIO(body)
        self.environ["CONTENT_LENGTH"] = str(len(body))

    @property
    def params(self) -> dict[str, list[str]]:
        """A query protocol body's parameters."""
        if self._params is None:
            self._params = parse_qs(self.body.decode("utf-8", "replace"))
        return self._params

    def param(self, name: str, default: str = "") -> str:
        """One query parameter's first value."""
        return (self.params.get(name) or [default])[0]

    def members(self, prefix: str) -> list[str]:
        """The values of a query list (`InstanceId.1`, `InstanceId.2`, ... for prefix "InstanceId."), by name."""
        return [v[0] for k, v in sorted(self.params.items()) if k.startswith(prefix)]


# ---- responses ---------------------------------------------------------------------------------------------

def json_response(payload: dict[str, Any], status: str = "200 OK") -> Response:
    """A JSON protocol answer."""
    body = json.dumps(payload).encode()
    return Response(status, [("Content-Type", JSON_CONTENT_TYPE), ("Content-Length", str(len(body))),
                             ("x-amzn-RequestId", str(uuid.uuid4()))], body)


def xml_response(body: str) -> Response:
    """A query protocol (EC2, Auto Scaling) answer."""
    data = body.encode()
    return Response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))], data)


def xml_elements(values: dict[str, str]) -> str:
    """`<Name>value</Name>` for each item, values escaped."""
    return "".join(f"<{k}>{escape(v)}</{k}>" for k, v in values.items())


def request_id() -> str:
    """A fresh request id."""
    return str(uuid.uuid4())


# ---- AWS error shapes --------------------------------------------------------------------------------------

def error_response(protocol: str, code: str, message: str, status: str = "400 Bad Request") -> Response:
    """An error as the protocol's botocore parser reads it: JSON `__type`, EC2 `<Response><Errors>`, or the
    query protocols' `<ErrorResponse>`."""
    if protocol == "json":
        return json_response({"__type": code, "message": message}, status)
    if protocol == "ec2":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
                f"<Message>{escape(message)}</Message></Error></Errors><RequestID>{request_id()}</RequestID>"
                "</Response>")
    else:
        kind = "Sender" if status.startswith("4") else "Receiver"
        body = (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
                f"</Error><RequestId>{request_id()}</RequestId></ErrorResponse>")
    data = body.encode()
    return Response(status, [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))], data)


def internal_error(protocol: str) -> Response:
    """HTTP 500 in the protocol's error shape (EC2 calls it InternalError, the others InternalFailure)."""
    code = "InternalError" if protocol == "ec2" else "InternalFailure"
    return error_response(protocol, code, "An internal error occurred in the simulator's extension.",
                          "500 Internal Server Error")
