"""Hostile input against a real `slipway server --dev` process and a real `slipway local`.

Every part sends requests a careful client never would: mutated members of every CodeDeploy operation (from
botocore's model), of the agent command API and of the IAM subset; mangled SigV4 headers, presigned queries and
SigV2 queries; S3 paths, keys, ranges, part numbers and lying lengths; broken connections; hostile archives for the
agent's unpacker. Each answer must be the documented error (a 4xx with the protocol's error body), never a 5xx, a
dropped connection or a crash, and after every part the server must still answer `GET /healthz`.

Run with the dev profile's environment (AWS_ENDPOINT_URL, AWS_CA_BUNDLE, AWS_PROFILE, ...). Options:

  --seed N          seed of the random choices (default: HOSTILE_SEED or 1)
  --iterations N    random rounds after the fixed mutations (default: HOSTILE_ITERATIONS or 1)
  --parts LIST      comma-separated: codedeploy, commands, iam, sigv4, s3, connections, archives,
                    or `server` (all but archives) and `all` (default)
  --slipway PATH    the binary for `slipway local` (default: SLIPWAY_BIN, else .build/debug/slipway)
  --server-pid N    the server's process id, checked after each part (default: SLIPWAY_SERVER_PID)
  --entries N       entries of the entry-count archive (default 50000; scripts/hostile-pass.sh: 200000)
  --big-archives    also the archive with a million and one entries

Each check prints `ok: ...` or `FAIL: ...` with the request and the answer; the last line is
`N passed, M failed`, and the exit status is 1 when any check failed.
"""

import argparse
import base64
import copy
import datetime
import gzip
import hashlib
import hmac
import io
import json
import os
import re
import shutil
import socket
import ssl
import stat
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ElementTree
import zipfile
import zlib
import random

import botocore.auth
import botocore.awsrequest
import botocore.session

# --- arguments and results -----------------------------------------------------------------------------------------

PARTS = ["codedeploy", "commands", "iam", "sigv4", "s3", "connections", "archives"]

parser = argparse.ArgumentParser(description="Hostile input against a real slipway server and slipway local.")
parser.add_argument("--seed", type=int, default=int(os.environ.get("HOSTILE_SEED", "1")))
parser.add_argument("--iterations", type=int, default=int(os.environ.get("HOSTILE_ITERATIONS", "1")))
parser.add_argument("--parts", default=os.environ.get("HOSTILE_PARTS", "all"))
parser.add_argument("--slipway", default=os.environ.get("SLIPWAY_BIN", ""))
parser.add_argument("--server-pid", type=int, default=int(os.environ.get("SLIPWAY_SERVER_PID", "0") or "0"))
parser.add_argument("--entries", type=int, default=50_000)
parser.add_argument("--big-archives", action="store_true")
options = parser.parse_args()

selected = set()
for name in options.parts.split(","):
    name = name.strip()
    if name == "all":
        selected.update(PARTS)
    elif name == "server":
        selected.update(p for p in PARTS if p != "archives")
    elif name in PARTS:
        selected.add(name)
    elif name:
        parser.error("unknown part %r" % name)

rng = random.Random(options.seed)
passed = 0
failures = []


def short(data, limit=300):
    """A printable excerpt of bytes or text for a failure line."""
    if data is None:
        return "None"
    if isinstance(data, (bytes, bytearray)):
        text = bytes(data[:limit]).decode("utf-8", "backslashreplace")
    else:
        text = str(data)[:limit]
    size = len(data)
    text = text.encode("unicode_escape").decode("ascii")
    return text + ("... (%d bytes)" % size if size > limit else "")


def check(name, condition, request="", answer=""):
    """Records one check: an `ok:` line, or a `FAIL:` line with the request and the answer."""
    global passed
    if condition:
        passed += 1
        print("ok:", name)
    else:
        failures.append(name)
        print("FAIL: %s\n    request: %s\n    answer:  %s" % (name, request, answer))


# --- the server, its credentials and a raw HTTP client -------------------------------------------------------------

session = botocore.session.get_session()
ENDPOINT = os.environ.get("AWS_ENDPOINT_URL", "")
CA_BUNDLE = os.environ.get("AWS_CA_BUNDLE", "")
REGION = os.environ.get("AWS_REGION") or session.get_config_variable("region") or "us-east-1"
ACCOUNT = "000000000000"
credentials = None
if selected - {"archives"}:
    if not ENDPOINT:
        sys.exit("AWS_ENDPOINT_URL is not set: run with the exports `slipway server --dev` prints")
    credentials = session.get_credentials().get_frozen_credentials()
endpoint = urllib.parse.urlsplit(ENDPOINT) if ENDPOINT else None
HOST = endpoint.hostname if endpoint else "127.0.0.1"
PORT = endpoint.port if endpoint else 0
HOST_HEADER = endpoint.netloc if endpoint else ""
USE_TLS = endpoint is not None and endpoint.scheme == "https"
if HOST not in ("127.0.0.1", "localhost", "::1"):
    sys.exit("hostile.py only attacks a server on a loopback address, not %s" % HOST)

tls_context = None
if USE_TLS:
    tls_context = ssl.create_default_context(cafile=CA_BUNDLE or None)


class Answer:
    """A parsed HTTP response, or the reason there was none (`dropped`, `timeout`)."""

    def __init__(self, status=0, headers=None, body=b"", problem=None, elapsed=0.0):
        self.status = status
        self.headers = headers or {}
        self.body = body
        self.problem = problem
        self.elapsed = elapsed

    def header(self, name):
        return self.headers.get(name.lower())

    def __str__(self):
        if self.problem:
            return "no answer: %s (after %.1f s)" % (self.problem, self.elapsed)
        return "HTTP %d %s" % (self.status, short(self.body))


def open_socket(timeout):
    raw = socket.create_connection((HOST, PORT), timeout=timeout)
    if USE_TLS:
        return tls_context.wrap_socket(raw, server_hostname=HOST)
    return raw


def read_answer(sock, head_request, timeout):
    """Reads one response (skipping 100 Continue) from a socket; raises on EOF before a full response."""
    sock.settimeout(timeout)
    buffer = b""
    while True:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection before a full response (%d bytes)" % len(buffer))
            buffer += chunk
            if len(buffer) > 1 << 20:
                raise ConnectionError("a response head longer than 1 MiB")
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        status = int(parts[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            key = name.strip().lower()
            headers[key] = (headers[key] + ", " + value.strip()) if key in headers else value.strip()
        if 100 <= status < 200:
            continue
        break
    if head_request or status in (204, 304):
        return status, headers, b"", buffer
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = b""
        while True:
            while b"\r\n" not in buffer:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("the server closed the connection inside a chunked body")
                buffer += chunk
            size_line, _, buffer = buffer.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(buffer) < size + 2:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("the server closed the connection inside a chunk")
                buffer += chunk
            body += buffer[:size]
            buffer = buffer[size + 2:]
            if size == 0:
                return status, headers, body, buffer
    if "content-length" in headers:
        length = int(headers["content-length"])
        while len(buffer) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection %d bytes into a %d-byte body"
                                      % (len(buffer), length))
            buffer += chunk
        return status, headers, buffer[:length], buffer[length:]
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return status, headers, buffer, b""
        buffer += chunk


class Client:
    """One keep-alive connection to the server; a request on a reused connection that gets no byte back is retried
    once on a fresh one (the server may close idle connections), so a `dropped` answer is the server's doing."""

    def __init__(self):
        self.sock = None

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def send(self, data, head=False, timeout=60.0):
        start = time.monotonic()
        for attempt in range(2):
            reused = self.sock is not None
            try:
                if self.sock is None:
                    self.sock = open_socket(timeout)
                self.sock.sendall(data)
                status, headers, body, rest = read_answer(self.sock, head, timeout)
                if rest or headers.get("connection", "").lower() == "close":
                    self.close()
                return Answer(status, headers, body, elapsed=time.monotonic() - start)
            except socket.timeout:
                self.close()
                return Answer(problem="timeout", elapsed=time.monotonic() - start)
            except (ConnectionError, OSError, ssl.SSLError, ValueError, IndexError) as error:
                self.close()
                if reused and attempt == 0:
                    continue
                return Answer(problem="dropped (%s)" % error, elapsed=time.monotonic() - start)
        return Answer(problem="dropped", elapsed=time.monotonic() - start)


client = Client()


def raw_request(method, target, headers, body=b""):
    """The bytes of an HTTP/1.1 request; `headers` is a list of pairs so names may repeat."""
    lines = ["%s %s HTTP/1.1" % (method, target)]
    names = {name.lower() for name, _ in headers}
    if "host" not in names:
        lines.append("Host: %s" % HOST_HEADER)
    for name, value in headers:
        lines.append("%s: %s" % (name, value))
    if "content-length" not in names and (body or method in ("POST", "PUT")):
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


def amz_now(offset_seconds=0):
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_seconds)
    return moment.strftime("%Y%m%dT%H%M%SZ")


def botocore_signed(service, target, body, content_type="application/x-amz-json-1.1", region=None):
    """Headers for a POST / signed by botocore's own SigV4Auth, for bodies botocore's validator would refuse."""
    request = botocore.awsrequest.AWSRequest(method="POST", url=ENDPOINT + "/", data=body)
    request.headers["Content-Type"] = content_type
    if target:
        request.headers["X-Amz-Target"] = target
    botocore.auth.SigV4Auth(credentials, service, region or REGION).add_auth(request)
    return [(name, value) for name, value in request.headers.items()]


def post_signed(service, target, body, content_type="application/x-amz-json-1.1"):
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    headers = botocore_signed(service, target, body, content_type)
    data = raw_request("POST", "/", headers, body)
    return data, client.send(data)


# --- a SigV4 signer of our own, so every part of a signature can be mangled ----------------------------------------


def uri_encode(text, slash=True):
    return urllib.parse.quote(text, safe="-_.~" + ("/" if not slash else ""))


def canonical_query(pairs):
    encoded = sorted((uri_encode(k), uri_encode(v)) for k, v in pairs)
    return "&".join("%s=%s" % kv for kv in encoded)


def signing_key(secret, day, region, service):
    key = hmac.new(("AWS4" + secret).encode(), day.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def sigv4(method, path, query, headers, payload_hash, service, region=None, amz_date=None, scope_day=None,
          signed_names=None, key_id=None, secret=None, scope=None):
    """The signature of a request: returns (signature, credential scope, signed header names). `path` is the
    canonical URI as sent (S3 style: not encoded again); `headers` a list of pairs."""
    region = REGION if region is None else region
    amz_date = amz_date or amz_now()
    day = scope_day or amz_date[:8]
    values = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(" ".join(value.split()))
    names = sorted(signed_names if signed_names is not None else values.keys())
    canonical_headers = "".join("%s:%s\n" % (name, ",".join(values.get(name, []))) for name in names)
    canonical = "\n".join([method, path, canonical_query(query), canonical_headers, ";".join(names), payload_hash])
    credential_scope = scope or "%s/%s/%s/aws4_request" % (day, region, service)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, credential_scope,
                         hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest()])
    key = signing_key(secret or credentials.secret_key, day, region, service)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), credential_scope, ";".join(names)


def authorization(signature, scope, signed, key_id=None, algorithm="AWS4-HMAC-SHA256"):
    return "%s Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        algorithm, key_id or credentials.access_key, scope, signed, signature)


# --- answers: what each protocol's documented error looks like -----------------------------------------------------

COMMON_JSON_ERRORS = {
    "AccessDeniedException", "IncompleteSignatureException", "InvalidSignatureException",
    "MissingAuthenticationTokenException", "UnrecognizedClientException", "SerializationException",
    "ValidationException", "UnknownOperationException", "ThrottlingException", "NotImplementedException",
    "InvalidClientTokenId", "RequestExpired", "InvalidParameterValueException", "MissingParameter",
    "InvalidAction", "AccessDenied",
}
codedeploy_model = None
documented_json_errors = set(COMMON_JSON_ERRORS) | {"ClientException"}


def json_error_of(answer):
    """The (`__type` without namespace, message) of a JSON error body, or None when the body is not one."""
    try:
        document = json.loads(answer.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(document, dict):
        return None
    kind = document.get("__type")
    message = document.get("message", document.get("Message"))
    if not isinstance(kind, str) or not kind or not isinstance(message, str):
        return None
    return kind.split("#")[-1].split(":")[0], message


def malformed_http(data):
    """Whether a request's head holds a NUL: malformed HTTP, which the HTTP layer refuses with a bare 400."""
    return b"\x00" in data.split(b"\r\n\r\n", 1)[0]


def oversized_head(data):
    """Whether a request's head is longer than 64 KiB, which the HTTP layer may refuse before any API sees it."""
    return len(data.split(b"\r\n\r\n", 1)[0]) > 65536


def judge_json(answer, must_reject, data=None):
    """None when the answer is acceptable for a JSON protocol request, else the reason it is not."""
    if data is not None and malformed_http(data) and answer.status == 400 and not answer.body:
        return None
    if answer.problem:
        return answer.problem
    if answer.status == 501:
        error = json_error_of(answer)
        if error and error[0] == "NotImplementedException":
            return None
        return "HTTP 501 without NotImplementedException"
    if answer.status >= 500:
        return "HTTP %d (a server error)" % answer.status
    if 200 <= answer.status < 300:
        if must_reject:
            return "accepted (HTTP %d) where the request is invalid" % answer.status
        try:
            if not isinstance(json.loads(answer.body.decode("utf-8") or "{}"), dict):
                return "a 2xx body that is not a JSON object"
        except (UnicodeDecodeError, ValueError):
            return "a 2xx body that is not JSON"
        return None
    if not 400 <= answer.status < 500:
        return "HTTP %d" % answer.status
    error = json_error_of(answer)
    if error is None:
        return "a %d without a JSON {\"__type\", \"message\"} body" % answer.status
    if error[0] not in documented_json_errors:
        return "undocumented error type %s" % error[0]
    return None


def xml_error_code(answer):
    """The error code of an S3 (`<Error>`) or IAM (`<ErrorResponse><Error>`) XML body, or None."""
    try:
        root = ElementTree.fromstring(answer.body)
    except ElementTree.ParseError as error:
        answer.parse_error = str(error)
        return None
    for element in root.iter():
        if element.tag.split("}")[-1] == "Code" and element.text:
            return element.text
    return None


def judge_xml(answer, must_reject, head=False, allowed=None):
    """None when the answer is acceptable for an XML protocol (S3, IAM) request, else the reason it is not."""
    if answer.problem:
        return answer.problem
    if answer.status == 501:
        code = None if head else xml_error_code(answer)
        return None if head or code == "NotImplemented" else "HTTP 501 without NotImplemented"
    if answer.status >= 500:
        return "HTTP %d (a server error)" % answer.status
    if answer.status < 400:
        if must_reject:
            return "accepted (HTTP %d) where the request is invalid" % answer.status
        return None
    if answer.status >= 500 or answer.status < 400:
        return "HTTP %d" % answer.status
    if head:
        return None
    code = xml_error_code(answer)
    if code is None:
        if getattr(answer, "parse_error", None):
            return "a %d whose XML error body is not well-formed XML 1.0 (%s)" % (answer.status, answer.parse_error)
        return "a %d without an XML error body" % answer.status
    if allowed is not None and code not in allowed:
        return "error %s, expected one of %s" % (code, ", ".join(sorted(allowed)))
    return None


def already_exists(answer):
    """Whether a set-up request found its record there from an earlier run against the same server."""
    return 400 <= answer.status < 500 and re.search(rb"AlreadyExists|AlreadyRegistered|AlreadyOwnedByYou",
                                                    answer.body) is not None


def server_alive():
    if not options.server_pid:
        return True
    try:
        os.kill(options.server_pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_health(after):
    fresh = Client()
    answer = fresh.send(raw_request("GET", "/healthz", []), timeout=15)
    fresh.close()
    check("after %s: GET /healthz answers 200" % after, answer.status == 200, "GET /healthz", answer)
    check("after %s: the server process is alive" % after, server_alive(), "kill -0 %d" % options.server_pid,
          "no such process")


# --- shapes: botocore's models, and the agent command API's by hand --------------------------------------------------


def shape_of(shape, depth=0):
    """A plain description of a botocore shape: type, bounds, pattern, enum, members (to depth 4)."""
    description = {"type": shape.type_name, "name": shape.name}
    metadata = shape.metadata
    for key in ("min", "max", "pattern"):
        if key in metadata:
            description[key] = metadata[key]
    if getattr(shape, "enum", None):
        description["enum"] = list(shape.enum)
    if depth > 4:
        return description
    if shape.type_name == "structure":
        description["members"] = {name: shape_of(member, depth + 1) for name, member in shape.members.items()}
        description["required"] = list(shape.required_members)
    elif shape.type_name == "list":
        description["member"] = shape_of(shape.member, depth + 1)
    elif shape.type_name == "map":
        description["key"] = shape_of(shape.key, depth + 1)
        description["value"] = shape_of(shape.value, depth + 1)
    return description


def string_shape(name, **bounds):
    return dict(type="string", name=name, **bounds)


ENVELOPE = {"type": "structure", "name": "Envelope", "required": [], "members": {
    "Format": string_shape("Format", min=1, max=64), "Payload": string_shape("Payload", max=8192)}}
COMMAND_SHAPES = {
    "PollHostCommand": {"HostIdentifier": (string_shape("HostIdentifier"), True)},
    "GetDeploymentSpecification": {
        "DeploymentExecutionId": (string_shape("DeploymentExecutionId", min=1, max=129,
                                               pattern="^[^/]+/[^/]+/[^/]+/.+$"), True),
        "HostIdentifier": (string_shape("HostIdentifier"), True)},
    "PutHostCommandAcknowledgement": {
        "HostCommandIdentifier": (string_shape("HostCommandIdentifier"), True), "Diagnostics": (ENVELOPE, False)},
    "PutHostCommandComplete": {
        "HostCommandIdentifier": (string_shape("HostCommandIdentifier"), True),
        "CommandStatus": (string_shape("CommandStatus", enum=["Pending", "InProgress", "Succeeded", "Failed"]), True),
        "Diagnostics": (ENVELOPE, False)},
    "PostHostCommandUpdate": {
        "HostCommandIdentifier": (string_shape("HostCommandIdentifier"), True),
        "EstimatedCompletionTime": ({"type": "timestamp", "name": "Timestamp"}, False),
        "Diagnostics": (ENVELOPE, False)},
    "PutHostCommandLog": {
        "HostCommandIdentifier": (string_shape("HostCommandIdentifier"), True),
        "Log": (string_shape("Log", max=1 << 20), True)},
}


def command_input(operation):
    members = COMMAND_SHAPES[operation]
    return {"type": "structure", "name": operation + "Input", "members": {k: v[0] for k, v in members.items()},
            "required": [k for k, v in members.items() if v[1]]}


# Free text may hold control characters; names and identifiers may not (a NUL in a name is always refused).
FREE_TEXT = re.compile(r"(Description|Message|Content|Payload|Log|Value|Document|Token|Marker|Status)", re.I)

# Base values of well-known members, so a mutation of one member meets otherwise plausible input.
KNOWN_VALUES = {
    "serviceRoleArn": "arn:aws:iam::%s:role/CodeDeploy" % ACCOUNT,
    "iamUserArn": "arn:aws:iam::%s:user/hostile" % ACCOUNT,
    "iamSessionArn": "arn:aws:sts::%s:assumed-role/hostile/session" % ACCOUNT,
    "deploymentId": "d-HOSTILE01", "HostIdentifier": "arn:aws:codedeploy:%s:%s:instance/prodhost",
    "DeploymentExecutionId": "CodeDeploy/us-east-1/Prod/arn:aws:sds:us-east-1:%s:deployment/d-HOSTILE01" % ACCOUNT,
    "HostCommandIdentifier": base64.b64encode(b'{"host":"hostile","command":"Install"}').decode(),
    "UserName": "hostile-user", "Path": "/hostile/", "PolicyName": "hostile-policy",
    "PolicyDocument": json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "codedeploy:List*", "Resource": "*"}]}),
    "AccessKeyId": "AKIAHOSTILEHOSTILE00", "Status": "Active",
}


def base_value(shape, member="", depth=0):
    """A plausible value of a shape (required members only), honouring enums and bounds."""
    kind = shape["type"]
    if member in KNOWN_VALUES and kind == "string":
        value = KNOWN_VALUES[member]
        return value % (REGION, ACCOUNT) if "%s" in value else value
    if kind == "string":
        if shape.get("enum"):
            return shape["enum"][0]
        text = "hostile%d" % (depth + 1)
        low, high = shape.get("min", 1), shape.get("max", 64)
        text = (text * 10)[:max(low, min(len(text), high))]
        return text
    if kind in ("integer", "long"):
        return max(shape.get("min", 1), 1) if shape.get("max", 1) >= 1 else shape.get("min", 0)
    if kind in ("double", "float"):
        return 1.0
    if kind == "boolean":
        return False
    if kind == "timestamp":
        return 1700000000
    if kind == "blob":
        return base64.b64encode(b"hostile").decode()
    if kind == "list":
        return [base_value(shape["member"], member, depth + 1)] if "member" in shape and depth < 4 else []
    if kind == "map":
        return {"k": base_value(shape["value"], member, depth + 1)} if "value" in shape and depth < 4 else {}
    if kind == "structure":
        if depth >= 4:
            return {}
        return {name: base_value(shape["members"][name], name, depth + 1) for name in shape.get("required", [])}
    return None


def violates(shape, value, member):
    """Whether a string value breaks the shape's constraints, so the request must be refused."""
    if not isinstance(value, str):
        return False
    if shape.get("enum") and value not in shape["enum"]:
        return True
    if "min" in shape and len(value) < shape["min"]:
        return True
    if "max" in shape and len(value) > shape["max"]:
        return True
    if "\x00" in value and not FREE_TEXT.search(member) and not FREE_TEXT.search(shape.get("name", "")):
        return True
    if "pattern" in shape:
        try:
            if not re.search(shape["pattern"], value):
                return True
        except re.error:
            return False
    return False


MEGABYTE = "x" * (1 << 20)
STRING_VALUES = ["prod\u0000", "prod\u0000garbage", "a\nb", "\u001b[31m", "\u0085", "\ud800", "\u202eprod",
                 "\ufeff", "..", "../../etc/passwd", "%00", "${jndi:ldap://127.0.0.1/x}"]


def mutations(shape, member, required, fixed):
    """(label, value or MISSING, must_reject) for one member of a structure. `fixed` gives the full deterministic
    list; otherwise one random choice."""
    kind = shape["type"]
    out = []
    if required:
        out.append(("missing", MISSING, True))
    out.append(("null", None, required))
    if kind != "string" and kind != "timestamp":
        out.append(("a string", "str", kind not in ("blob",)))
    if kind not in ("integer", "long", "double", "float", "timestamp"):
        out.append(("a number", 7, True))
    if kind not in ("structure", "map"):
        out.append(("an object", {"a": 1}, True))
    if kind != "list":
        out.append(("nested arrays", [[1, [2]], []], True))
    if kind != "boolean":
        out.append(("a boolean", True, kind != "timestamp"))
    if kind == "string":
        for value in STRING_VALUES:
            out.append((repr(value)[:40], value, violates(shape, value, member)))
        if "max" in shape and shape["max"] < (1 << 20):
            out.append(("max+1 characters", "a" * (shape["max"] + 1), True))
        out.append(("1 MiB", MEGABYTE, violates(shape, MEGABYTE, member)))
        if shape.get("min", 0) >= 1:
            out.append(("empty", "", True))
        if shape.get("enum"):
            out.append(("not an enum value", "NOT_AN_ENUM_VALUE", True))
    if kind in ("integer", "long"):
        minimum = shape.get("min")
        out.append(("-1", -1, minimum is not None and minimum >= 0))
        out.append(("2**31", 2 ** 31, kind == "integer" or ("max" in shape and shape["max"] < 2 ** 31)))
        out.append(("2**63", 2 ** 63, True))
        out.append(("-2**63-1", -(2 ** 63) - 1, True))
        out.append(("1e308", 1e308, True))
        out.append(("1.5", 1.5, True))
        out.append(("-0.0", -0.0, minimum is not None and minimum > 0))
        out.append(("a numeric string", "12", True))
        if "max" in shape:
            out.append(("max+1", shape["max"] + 1, True))
    if kind == "timestamp":
        for label, value in (("-1", -1), ("1e308", 1e308), ("2**63", 2 ** 63), ("-0.0", -0.0), ("1.5", 1.5),
                             ("not a date", "not a date")):
            out.append(("timestamp " + label, value, False))
    if kind == "list":
        inner = shape.get("member", {"type": "string"})
        out.append(("a list of numbers" if inner["type"] != "integer" else "a list of strings",
                    [7] if inner["type"] not in ("integer", "long") else ["x"], inner["type"] != "timestamp"))
        out.append(("a list with null", [None], False))
        if "max" in shape and shape["max"] < 10000:
            out.append(("max+1 elements", [base_value(inner)] * (shape["max"] + 1), True))
        out.append(("10,000 elements", ["hostile"] * 10000 if inner["type"] == "string" else [base_value(inner)] * 10000,
                    "max" in shape and shape["max"] < 10000))
        if inner["type"] == "string":
            out.append(("a list with 'prod\\x00'", ["prod\u0000"], violates(inner, "prod\u0000", member)))
    if kind == "map":
        out.append(("a map of numbers", {"k": 7}, shape.get("value", {}).get("type") not in ("integer", "long")))
        out.append(("a map with a NUL key", {"k\u0000": base_value(shape.get("value", {"type": "string"}))}, False))
    if kind == "structure":
        out.append(("an unknown member", {"bogusMember": 1}, bool(shape.get("required"))))
        # One level down: each member of the structure mutated inside an otherwise plausible value.
        for name, inner in shape.get("members", {}).items():
            inner_required = name in shape.get("required", [])
            for label, value, reject in mutations(inner, name, inner_required, True)[:6]:
                value_of = base_value(shape, member)
                if value is MISSING:
                    value_of.pop(name, None)
                else:
                    value_of[name] = value
                out.append(("%s.%s %s" % (member, name, label), value_of, reject))
    if kind == "boolean":
        out.append(("the string 'true'", "true", True))
        out.append(("the number 1", 1, True))
    if fixed:
        return out
    return [rng.choice(out)] if out else []


class Missing:
    pass


MISSING = Missing()

RAW_BODIES = [
    ("an empty body", b"", None), ("'{'", b"{", True), ("'[]'", b"[]", True), ("'null'", b"null", None),
    ("a JSON string", b'"s"', True), ("a JSON number", b"1", True),
    ("100,000 nested arrays", b"[" * 100000 + b"]" * 100000, True),
    ("100,000 nested objects", b'{"a":' * 100000 + b"1" + b"}" * 100000, True),
    ("duplicate keys", b'{"applicationName":"a","applicationName":"b"}', False),
    ("invalid UTF-8", b'{"applicationName":"\xff\xfe\xfd"}', True),
    ("a byte-order mark", b'\xef\xbb\xbf{}', None),
    ("a lone surrogate escape", b'{"applicationName":"\\ud800"}', None),
    ("a broken escape", b'{"applicationName":"\\uZZZZ"}', True),
    ("trailing garbage", b'{}garbage', True),
    ("5 MiB of spaces", b"{" + b" " * (5 << 20) + b"}", True),
]


def attack_json_api(label, service, prefix, operations, inputs, fixed_rounds):
    """Sends every mutation of every member of every operation, plus raw bodies, and judges each answer."""
    for operation in operations:
        shape = inputs(operation)
        target = "%s.%s" % (prefix, operation)
        base = base_value(shape)
        cases = []
        for member, member_shape in shape.get("members", {}).items():
            required = member in shape.get("required", [])
            for mutation, value, reject in mutations(member_shape, member, required, fixed_rounds):
                body = copy.deepcopy(base)
                if value is MISSING:
                    body.pop(member, None)
                else:
                    body[member] = value
                cases.append(("%s %s %s" % (operation, member, mutation), body, reject))
        if fixed_rounds:
            for mutation, data, reject in RAW_BODIES:
                required = bool(shape.get("required"))
                cases.append(("%s body %s" % (operation, mutation), data, required if reject is None else reject))
        else:
            mutation, data, reject = rng.choice(RAW_BODIES)
            cases.append(("%s body %s" % (operation, mutation), data, bool(shape.get("required")) if reject is None
                          else reject))
        for name, body, reject in cases:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            request, answer = post_signed(service, target, data)
            problem = judge_json(answer, reject)
            check("%s: %s -> %s" % (label, name, "refused" if reject else "no 5xx"), problem is None,
                  short(request, 400), "%s (%s)" % (answer, problem))


# --- part: the CodeDeploy API ---------------------------------------------------------------------------------------


def codedeploy_call(operation, body):
    request, answer = post_signed("codedeploy", "CodeDeploy_20141006." + operation, json.dumps(body))
    return request, answer


def part_codedeploy():
    global codedeploy_model
    codedeploy_model = session.get_service_model("codedeploy")
    for name in codedeploy_model.shape_names:
        shape = codedeploy_model.shape_for(name)
        if shape.metadata.get("exception"):
            documented_json_errors.add(name)
    operations = sorted(codedeploy_model.operation_names)
    check("the CodeDeploy model has its operations", len(operations) >= 40, "", len(operations))

    # Records that NUL-bearing names must never reach.
    setup = [
        ("CreateApplication", {"applicationName": "prod"}),
        ("CreateDeploymentConfig", {"deploymentConfigName": "prodcfg",
                                    "minimumHealthyHosts": {"type": "HOST_COUNT", "value": 0}}),
        ("CreateDeploymentGroup", {"applicationName": "prod", "deploymentGroupName": "web",
                                   "serviceRoleArn": KNOWN_VALUES["serviceRoleArn"],
                                   "onPremisesInstanceTagFilters": [
                                       {"Key": "env", "Value": "prod", "Type": "KEY_AND_VALUE"}]}),
        ("RegisterOnPremisesInstance", {"instanceName": "prodhost",
                                        "iamUserArn": "arn:aws:iam::%s:user/prodhost" % ACCOUNT}),
        ("AddTagsToOnPremisesInstances", {"instanceNames": ["prodhost"], "tags": [{"Key": "env", "Value": "prod"}]}),
    ]
    for operation, body in setup:
        request, answer = codedeploy_call(operation, body)
        check("set-up: %s" % operation, answer.status == 200 or already_exists(answer), short(request), answer)

    nul_attacks = [
        ("DeleteApplication", {"applicationName": "prod\u0000"}),
        ("DeleteApplication", {"applicationName": "prod\u0000garbage"}),
        ("UpdateApplication", {"applicationName": "prod\u0000", "newApplicationName": "stolen"}),
        ("UpdateApplication", {"applicationName": "prod", "newApplicationName": "prod\u0000x"}),
        ("CreateApplication", {"applicationName": "prod\u0000"}),
        ("DeleteDeploymentGroup", {"applicationName": "prod\u0000", "deploymentGroupName": "web"}),
        ("DeleteDeploymentGroup", {"applicationName": "prod", "deploymentGroupName": "web\u0000"}),
        ("UpdateDeploymentGroup", {"applicationName": "prod", "currentDeploymentGroupName": "web\u0000",
                                   "newDeploymentGroupName": "stolen"}),
        ("UpdateDeploymentGroup", {"applicationName": "prod", "currentDeploymentGroupName": "web",
                                   "newDeploymentGroupName": "web\u0000"}),
        ("DeleteDeploymentConfig", {"deploymentConfigName": "prodcfg\u0000"}),
        ("DeregisterOnPremisesInstance", {"instanceName": "prodhost\u0000"}),
        ("RemoveTagsFromOnPremisesInstances", {"instanceNames": ["prodhost\u0000"],
                                               "tags": [{"Key": "env", "Value": "prod"}]}),
        ("RemoveTagsFromOnPremisesInstances", {"instanceNames": ["prodhost"],
                                               "tags": [{"Key": "env\u0000", "Value": "prod"}]}),
        ("TagResource", {"resourceArn": "arn:aws:codedeploy:%s:%s:application:prod\u0000" % (REGION, ACCOUNT),
                         "tags": [{"Key": "owner", "Value": "attacker"}]}),
    ]
    for operation, body in nul_attacks:
        request, answer = codedeploy_call(operation, body)
        problem = judge_json(answer, True)
        check("NUL in a name: %s %s is refused" % (operation, short(json.dumps(body), 120)), problem is None,
              short(request, 400), "%s (%s)" % (answer, problem))

    request, answer = codedeploy_call("GetApplication", {"applicationName": "prod"})
    check("application prod is untouched by NUL-bearing names", answer.status == 200, short(request), answer)
    request, answer = codedeploy_call("ListApplications", {})
    names = json.loads(answer.body or b"{}").get("applications", []) if answer.status == 200 else None
    check("no application with a NUL or a stolen name exists", names is not None and not any(
        "\u0000" in n or n == "stolen" for n in names), short(request), answer)
    request, answer = codedeploy_call("GetDeploymentGroup", {"applicationName": "prod", "deploymentGroupName": "web"})
    check("deployment group prod/web is untouched", answer.status == 200, short(request), answer)
    request, answer = codedeploy_call("GetDeploymentConfig", {"deploymentConfigName": "prodcfg"})
    check("deployment config prodcfg is untouched", answer.status == 200, short(request), answer)
    request, answer = codedeploy_call("GetOnPremisesInstance", {"instanceName": "prodhost"})
    info = json.loads(answer.body or b"{}").get("instanceInfo", {}) if answer.status == 200 else {}
    check("instance prodhost is registered and still tagged env=prod",
          answer.status == 200 and "deregisterTime" not in info and {"Key": "env", "Value": "prod"} in info.get(
              "tags", []), short(request), answer)

    def codedeploy_input(operation):
        return shape_of(codedeploy_model.operation_model(operation).input_shape)

    attack_json_api("CodeDeploy", "codedeploy", "CodeDeploy_20141006", operations, codedeploy_input, True)
    for _ in range(max(0, options.iterations - 1)):
        attack_json_api("CodeDeploy (random)", "codedeploy", "CodeDeploy_20141006", operations, codedeploy_input,
                        False)

    # Unknown and malformed targets.
    for target in ("CodeDeploy_20141006.NoSuchOperation", "CodeDeploy_20141006.", "CodeDeploy_20141006",
                   "CodeDeploy_20141006.ListApplications\u0000", "CodeDeploy_20141006." + "A" * 5000,
                   "codedeploy_20141006.ListApplications", "..", ""):
        data = raw_request("POST", "/", botocore_signed("codedeploy", target, b"{}"), b"{}")
        answer = client.send(data)
        problem = judge_json(answer, True, data) if target else judge_xml(answer, True)
        check("CodeDeploy: X-Amz-Target %r is refused" % short(target, 60), problem is None, short(data, 300),
              "%s (%s)" % (answer, problem))

    request, answer = codedeploy_call("GetApplication", {"applicationName": "prod"})
    check("application prod still exists after every mutation", answer.status == 200, short(request), answer)


# --- part: the agent command API -------------------------------------------------------------------------------------


def part_commands():
    operations = list(COMMAND_SHAPES)
    # Every mutation on the classic endpoint; on the secure one (the same handlers) one random mutation per member
    # and round, since a PollHostCommand that passes validation is held for the server's --poll-hold.
    for prefix, service, fixed in (("CodeDeployCommandService_v20141006", "codedeploy-commands", True),
                                   ("CodeDeployCommandService", "codedeploy-commands-secure", False)):
        attack_json_api("commands " + service, service, prefix, operations, command_input, fixed)
        for _ in range(max(0, options.iterations - 1)):
            attack_json_api("commands %s (random)" % service, service, prefix, operations, command_input, False)
    # Host command identifiers a client made up.
    for identifier in ("", "\u0000", "../../../etc/passwd", base64.b64encode(b"\xff" * 64).decode(),
                       base64.b64encode(b'{"deploymentId":"d-\u0000"}').decode(), "=" * 1000, "A" * 100000):
        for operation in ("PutHostCommandAcknowledgement", "PutHostCommandComplete", "PostHostCommandUpdate"):
            body = {"HostCommandIdentifier": identifier, "CommandStatus": "Succeeded"}
            request, answer = post_signed("codedeploy-commands", "CodeDeployCommandService_v20141006." + operation,
                                          json.dumps(body))
            problem = judge_json(answer, True)
            check("commands: %s with HostCommandIdentifier %s is refused" % (operation, short(identifier, 40)),
                  problem is None, short(request, 300), "%s (%s)" % (answer, problem))
    # A command API request signed for the CodeDeploy API's name, and the reverse.
    for service, target in (("codedeploy", "CodeDeployCommandService_v20141006.PollHostCommand"),
                            ("codedeploy-commands", "CodeDeploy_20141006.ListApplications"),
                            ("codedeploy-commands", "CodeDeployCommandService.PollHostCommand")):
        body = json.dumps({"HostIdentifier": KNOWN_VALUES["HostIdentifier"] % (REGION, ACCOUNT)})
        request, answer = post_signed(service, target, body)
        problem = judge_json(answer, True)
        check("commands: %s signed for %s is refused" % (target, service), problem is None, short(request, 300),
              "%s (%s)" % (answer, problem))


# --- part: IAM (query protocol) -------------------------------------------------------------------------------------

IAM_ACTIONS = ["CreateUser", "GetUser", "ListUsers", "DeleteUser", "CreateAccessKey", "ListAccessKeys",
               "UpdateAccessKey", "DeleteAccessKey", "PutUserPolicy", "GetUserPolicy", "ListUserPolicies",
               "DeleteUserPolicy"]
IAM_ERRORS = {"ValidationError", "NoSuchEntity", "EntityAlreadyExists", "LimitExceeded", "DeleteConflict",
              "MalformedPolicyDocument", "InvalidInput", "AccessDenied", "InvalidClientTokenId",
              "SignatureDoesNotMatch", "IncompleteSignature", "MissingAuthenticationToken", "InvalidAction",
              "MissingParameter", "MalformedQueryString", "InvalidParameterValue", "RequestExpired",
              "InvalidParameterCombination", "MissingAction", "NotImplemented", "OptInRequired", "Throttling",
              "UnrecognizedClient", "AccessDeniedException", "InvalidQueryParameter", "ConcurrentModification",
              "InvalidSignatureException", "UnrecognizedClientException", "MissingAuthenticationTokenException",
              "IncompleteSignatureException", "SerializationException"}


def iam_post(body):
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    headers = botocore_signed("iam", None, body, "application/x-www-form-urlencoded; charset=utf-8",
                              region="us-east-1")
    data = raw_request("POST", "/", headers, body)
    return data, client.send(data)


def iam_form(action, params):
    pairs = [("Action", action)] + list(params) + [("Version", "2010-05-08")]
    return urllib.parse.urlencode(pairs, encoding="utf-8", errors="surrogatepass")


def part_iam():
    model = session.get_service_model("iam")
    setup_forms = [
        ("CreateUser", [("UserName", "victim")]),
        ("PutUserPolicy", [("UserName", "victim"), ("PolicyName", "keep"),
                           ("PolicyDocument", KNOWN_VALUES["PolicyDocument"])]),
        ("CreateAccessKey", [("UserName", "victim")]),
    ]
    key_id = None
    for action, params in setup_forms:
        request, answer = iam_post(iam_form(action, params))
        check("set-up: IAM %s" % action, answer.status == 200 or already_exists(answer)
              or b"LimitExceeded" in answer.body, short(request), answer)
        match = re.search(rb"<AccessKeyId>([^<]+)</AccessKeyId>", answer.body)
        if match:
            key_id = match.group(1).decode()

    def judge(answer, reject):
        return judge_xml(answer, reject, allowed=IAM_ERRORS)

    for round_index in range(max(1, options.iterations)):
        fixed = round_index == 0
        for action in IAM_ACTIONS:
            shape = shape_of(model.operation_model(action).input_shape)
            base = [(name, str(base_value(shape["members"][name], name))) for name in shape.get("required", [])]
            cases = []
            for member, member_shape in shape["members"].items():
                required = member in shape.get("required", [])
                values = []
                if required:
                    values.append(("missing", MISSING, True))
                if member_shape["type"] == "string":
                    for value in STRING_VALUES + ["victim\u0000", "a" * (member_shape.get("max", 1000) + 1), ""]:
                        # An empty query value may be read as an absent one: refused only where required.
                        reject = (value == "" and required) or (value != "" and violates(member_shape, value, member))
                        values.append((short(value, 30), value, reject))
                    if member_shape.get("enum"):
                        values.append(("not an enum value", "Bogus", True))
                elif member_shape["type"] == "integer":
                    for value in ("99999999999999999999", "-1", "0", "1001", "1.5", "abc", "0x10", ""):
                        try:
                            number = int(value)
                            reject = not member_shape.get("min", 1) <= number <= member_shape.get("max", 1000)
                        except ValueError:
                            reject = True
                        values.append((value or "empty", value, reject))
                if not fixed:
                    values = [rng.choice(values)] if values else []
                for label, value, reject in values:
                    params = [(k, v) for k, v in base if k != member]
                    if value is not MISSING:
                        params.append((member, value))
                    cases.append(("%s %s %s" % (action, member, label), iam_form(action, params), reject))
            if fixed:
                form = iam_form(action, base)
                cases.append(("%s with %%zz in a value" % action, form + "&Marker=%zz", None))
                cases.append(("%s with a bare %%" % action, form + "&UserName=abc%", None))
                cases.append(("%s with repeated parameters" % action, form + "&UserName=a&UserName=b", None))
                cases.append(("%s with a parameter without '='" % action, form + "&UserName", None))
                cases.append(("%s with a NUL parameter name" % action, form + "&User%00Name=x", None))
            for name, form, reject in cases:
                request, answer = iam_post(form)
                problem = judge(answer, bool(reject))
                check("IAM: %s -> %s" % (name, "refused" if reject else "no 5xx"), problem is None,
                      short(request, 400), "%s (%s)" % (answer, problem))

    for name, form in (("an unknown action", "Action=DropAllTables&Version=2010-05-08"),
                       ("no Version", "Action=ListUsers"),
                       ("a wrong Version", "Action=ListUsers&Version=1999-01-01"),
                       ("an action with NUL", "Action=ListUsers%00&Version=2010-05-08"),
                       ("an over-long action", "Action=" + "A" * 10000 + "&Version=2010-05-08"),
                       ("a 1 MiB policy document", iam_form("PutUserPolicy", [
                           ("UserName", "victim"), ("PolicyName", "big"), ("PolicyDocument", "{" + " " * (1 << 20))])),
                       ("a deeply nested policy document", iam_form("PutUserPolicy", [
                           ("UserName", "victim"), ("PolicyName", "deep"),
                           ("PolicyDocument", "[" * 5000 + "]" * 5000)])),
                       ("a policy document that is not JSON", iam_form("PutUserPolicy", [
                           ("UserName", "victim"), ("PolicyName", "junk"), ("PolicyDocument", "\u0000{")]))):
        request, answer = iam_post(form)
        problem = judge(answer, True)
        check("IAM: %s is refused" % name, problem is None, short(request, 300), "%s (%s)" % (answer, problem))

    nul_attacks = [
        ("DeleteUser", [("UserName", "victim\u0000")]),
        ("DeleteUserPolicy", [("UserName", "victim\u0000"), ("PolicyName", "keep")]),
        ("DeleteUserPolicy", [("UserName", "victim"), ("PolicyName", "keep\u0000")]),
        ("PutUserPolicy", [("UserName", "victim"), ("PolicyName", "keep\u0000"),
                           ("PolicyDocument", json.dumps({"Version": "2012-10-17", "Statement": [
                               {"Effect": "Allow", "Action": "*", "Resource": "*"}]}))]),
        ("UpdateAccessKey", [("UserName", "victim\u0000"), ("AccessKeyId", key_id or "AKIA"), ("Status", "Inactive")]),
        ("DeleteAccessKey", [("UserName", "victim\u0000"), ("AccessKeyId", key_id or "AKIA")]),
        ("DeleteAccessKey", [("UserName", "victim"), ("AccessKeyId", (key_id or "AKIA") + "\u0000")]),
        ("CreateUser", [("UserName", "victim\u0000")]),
    ]
    for action, params in nul_attacks:
        request, answer = iam_post(iam_form(action, params))
        problem = judge(answer, True)
        check("IAM NUL in a name: %s %s is refused" % (action, short(str(params), 100)), problem is None,
              short(request, 300), "%s (%s)" % (answer, problem))
    request, answer = iam_post(iam_form("GetUserPolicy", [("UserName", "victim"), ("PolicyName", "keep")]))
    check("IAM: victim's policy keep is unchanged", answer.status == 200 and b"codedeploy%3AList" in answer.body
          or b"codedeploy:List" in answer.body, short(request), answer)
    request, answer = iam_post(iam_form("ListAccessKeys", [("UserName", "victim")]))
    check("IAM: victim's key is still there and Active", answer.status == 200 and key_id is not None
          and key_id.encode() in answer.body and b"<Status>Active</Status>" in answer.body, short(request), answer)
    request, answer = iam_post(iam_form("ListUserPolicies", [("UserName", "victim")]))
    check("IAM: victim has only the policy keep", answer.status == 200 and answer.body.count(b"<member>") == 1,
          short(request), answer)


# --- part: SigV4 mangling -------------------------------------------------------------------------------------------

SIGNATURE_ERRORS = {"InvalidSignatureException", "IncompleteSignatureException",
                    "MissingAuthenticationTokenException", "UnrecognizedClientException", "AccessDeniedException",
                    "SerializationException", "InvalidClientTokenId", "RequestExpired", "ValidationException"}


def json_headers(target, amz_date, extra=()):
    return [("Content-Type", "application/x-amz-json-1.1"), ("Host", HOST_HEADER), ("X-Amz-Date", amz_date),
            ("X-Amz-Target", target)] + list(extra)


def signed_json(body=b"{}", target="CodeDeploy_20141006.ListApplications", service="codedeploy", region=None,
                amz_date=None, scope_day=None, signed_names=None, extra=(), payload_hash=None, scope=None,
                key_id=None, header_date=None):
    """A CodeDeploy request signed by our own signer; returns (headers, signature, scope, signed names)."""
    amz_date = amz_date or amz_now()
    headers = json_headers(target, header_date or amz_date, extra)
    payload = payload_hash or hashlib.sha256(body).hexdigest()
    signature, credential_scope, signed = sigv4("POST", "/", [], headers, payload, service, region, amz_date,
                                                scope_day, signed_names, scope=scope)
    return headers, signature, credential_scope, signed


def send_json(headers, authorization_values, body=b"{}"):
    all_headers = list(headers) + [("Authorization", value) for value in authorization_values]
    data = raw_request("POST", "/", all_headers, body)
    return data, client.send(data)


def part_sigv4():
    headers, signature, scope, signed = signed_json()
    data, answer = send_json(headers, [authorization(signature, scope, signed)])
    check("SigV4: our own signer's request is accepted (control)", answer.status == 200, short(data), answer)
    good = authorization(signature, scope, signed)

    def refused(name, data, answer, expect_types=SIGNATURE_ERRORS):
        problem = judge_json(answer, True, data)
        if problem is None:
            error = json_error_of(answer)
            if error and error[0] not in expect_types:
                problem = "error %s, expected a signature error" % error[0]
        check("SigV4: %s is refused" % name, problem is None, short(data, 600), "%s (%s)" % (answer, problem))

    bogus = authorization("0" * 64, scope, signed)
    for name, values in (("two Authorization headers (valid, then bogus)", [good, bogus]),
                         ("two Authorization headers (bogus, then valid)", [bogus, good]),
                         ("two identical valid Authorization headers", [good, good])):
        data, answer = send_json(headers, values)
        refused(name, data, answer)

    for name, algorithm in (("a lowercase algorithm", "aws4-hmac-sha256"), ("a mixed-case algorithm",
                            "Aws4-Hmac-Sha256"), ("algorithm AWS4-HMAC-SHA512", "AWS4-HMAC-SHA512"),
                            ("algorithm AWS4-ECDSA-P256-SHA256", "AWS4-ECDSA-P256-SHA256"), ("no algorithm", "")):
        data, answer = send_json(headers, [authorization(signature, scope, signed, algorithm=algorithm).strip()])
        refused(name, data, answer)

    key = credentials.access_key
    for name, value in (
            ("no SignedHeaders", "AWS4-HMAC-SHA256 Credential=%s/%s, Signature=%s" % (key, scope, signature)),
            ("no Signature", "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s" % (key, scope, signed)),
            ("no Credential", "AWS4-HMAC-SHA256 SignedHeaders=%s, Signature=%s" % (signed, signature)),
            ("an empty Signature", authorization("", scope, signed)),
            ("a signature of 63 hex digits", authorization(signature[:63], scope, signed)),
            ("a signature of 65 hex digits", authorization(signature + "0", scope, signed)),
            ("a non-hex signature", authorization("g" * 64, scope, signed)),
            ("a signature of 64 KiB", authorization("a" * 65536, scope, signed)),
            ("SignedHeaders listing an absent header", authorization(signature, scope, signed + ";x-amz-absent")),
            ("SignedHeaders without the signed host", authorization(signature, scope, signed.replace("host;", ""))),
            ("an empty SignedHeaders", authorization(signature, scope, "")),
            ("a credential scope with extra slashes", authorization(signature, scope.replace("/", "//"), signed)),
            ("a credential scope with a leading slash", authorization(signature, "/" + scope, signed)),
            ("a credential scope missing aws4_request", authorization(signature, scope.rsplit("/", 1)[0], signed)),
            ("a credential scope ending aws4_requestX", authorization(signature, scope + "X", signed)),
            ("an unknown access key", authorization(signature, scope, signed, key_id="AKIAUNKNOWNUNKNOWN00")),
            ("an access key with NUL", authorization(signature, scope, signed, key_id=key + "\u0000")),
            ("Credential without a scope", "AWS4-HMAC-SHA256 Credential=%s, SignedHeaders=%s, Signature=%s"
             % (key, signed, signature)),
            ("a duplicated Signature", good + ", Signature=" + "0" * 64),
            ("only the algorithm", "AWS4-HMAC-SHA256"),
            ("an Authorization of 64 KiB of commas", "AWS4-HMAC-SHA256 " + "," * 65536),
            ("SigV2 in the Authorization header", "AWS %s:%s" % (key, base64.b64encode(b"x" * 20).decode()))):
        data, answer = send_json(headers, [value])
        refused(name, data, answer)

    # Signed without X-Amz-Target: the same signature would cover any operation.
    names = ["content-type", "host", "x-amz-date"]
    headers, signature, scope, signed = signed_json(signed_names=names)
    data, answer = send_json(headers, [authorization(signature, scope, signed)])
    refused("X-Amz-Target not signed", data, answer)
    codedeploy_call("CreateApplication", {"applicationName": "replay-target"})
    body = json.dumps({"applicationName": "replay-target"}).encode()
    headers, signature, scope, signed = signed_json(body, target="CodeDeploy_20141006.GetApplication",
                                                    signed_names=names)
    swapped = [(k, "CodeDeploy_20141006.DeleteApplication" if k == "X-Amz-Target" else v) for k, v in headers]
    data, answer = send_json(swapped, [authorization(signature, scope, signed)], body)
    refused("a GetApplication signature replayed as DeleteApplication (target unsigned)", data, answer)
    request, answer = codedeploy_call("GetApplication", {"applicationName": "replay-target"})
    check("SigV4: application replay-target survived the replayed signature", answer.status == 200, short(request), answer)

    # UNSIGNED-PAYLOAD on a JSON API: the body would be unauthenticated.
    body = json.dumps({"applicationName": "unsigned-payload"}).encode()
    headers, signature, scope, signed = signed_json(
        body, target="CodeDeploy_20141006.CreateApplication", payload_hash="UNSIGNED-PAYLOAD",
        extra=[("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")])
    data, answer = send_json(headers, [authorization(signature, scope, signed)], body)
    refused("UNSIGNED-PAYLOAD on the JSON API", data, answer)
    headers, signature, scope, signed = signed_json(
        b"{}", target="CodeDeploy_20141006.ListApplications", extra=[("X-Amz-Content-Sha256", "0" * 64)])
    data, answer = send_json(headers, [authorization(signature, scope, signed)])
    refused("a signed X-Amz-Content-Sha256 that is not the body's hash", data, answer)

    for name, kwargs in (
            ("a date 20 minutes stale", dict(amz_date=amz_now(-1200))),
            ("a date 20 minutes in the future", dict(amz_date=amz_now(1200))),
            ("a date a year in the future", dict(amz_date=amz_now(366 * 86400))),
            ("a date without Z", dict(amz_date=amz_now()[:-1])),
            ("a date that is not a date", dict(amz_date="99999999T999999Z")),
            ("a date of garbage", dict(amz_date="garbage\u0000")),
            ("an empty date", dict(amz_date=" ")),
            ("a date with a NUL", dict(amz_date=amz_now()[:8] + "\u0000" + amz_now()[9:])),
            ("a scope day other than the date's", dict(scope_day="20000101")),
            ("a wrong region", dict(region="eu-west-1")),
            ("an empty region", dict(region="")),
            ("a wrong service", dict(service="s3")),
            ("the command API's service", dict(service="codedeploy-commands")),
            ("a header date other than the signed one", dict(header_date=amz_now(-3600)))):
        headers, signature, scope, signed = signed_json(**kwargs)
        data, answer = send_json(headers, [authorization(signature, scope, signed)])
        refused(name, data, answer)

    # Large headers on a valid request: refused or served, never a dropped connection.
    for name, extra, names in (("a 64 KiB unsigned header", [("X-Hostile-Pad", "p" * 65536)], None),
                               ("a 64 KiB signed header", [("X-Amz-Meta-Pad", "p" * 65536)], "all"),
                               ("200 unsigned headers", [("X-Hostile-%d" % i, "v") for i in range(200)], None),
                               ("a header with a NUL", [("X-Hostile", "a\u0000b")], None),
                               ("a folded header", [("X-Hostile", "a\r\n b")], None)):
        base_names = ["content-type", "host", "x-amz-date", "x-amz-target"]
        signed_names = None if names == "all" else base_names
        headers, signature, scope, signed = signed_json(extra=extra, signed_names=signed_names)
        data, answer = send_json(headers, [authorization(signature, scope, signed)])
        problem = judge_json(answer, False)
        if problem and answer.status in (400, 413, 431) and not answer.problem:
            problem = None  # a header too large or malformed may be refused by the HTTP layer with its status
        check("SigV4: %s is answered (no 5xx, no dropped connection)" % name, problem is None, short(data, 300),
              "%s (%s)" % (answer, problem))

    # Unsigned requests of each protocol.
    for name, data in (("an unsigned CodeDeploy request", raw_request("POST", "/", json_headers(
            "CodeDeploy_20141006.ListApplications", amz_now()), b"{}")),
                       ("a CodeDeploy request with an empty Authorization", raw_request("POST", "/", json_headers(
                           "CodeDeploy_20141006.ListApplications", amz_now(), [("Authorization", "")]), b"{}"))):
        answer = client.send(data)
        refused(name, data, answer)


# --- part: S3 ---------------------------------------------------------------------------------------------------------

BUCKET = "hostile-bucket"


def s3_request(method, path, query=(), headers=(), body=b"", payload_hash=None, raw_query=None, sign=True,
               head=None, timeout=60.0):
    """A path-style S3 request signed by our signer; `path` is sent exactly as given. Returns (request, answer)."""
    payload = payload_hash or hashlib.sha256(body).hexdigest()
    amz_date = amz_now()
    all_headers = [("Host", HOST_HEADER), ("X-Amz-Date", amz_date), ("X-Amz-Content-Sha256", payload)] + list(headers)
    if sign:
        signed_names = ["host", "x-amz-content-sha256", "x-amz-date"] + sorted(
            name.lower() for name, _ in headers if name.lower().startswith("x-amz-") or name.lower() in (
                "content-md5", "range"))
        signature, scope, signed = sigv4(method, path, list(query), all_headers, payload, "s3", None, amz_date,
                                         signed_names=sorted(set(signed_names)))
        all_headers.append(("Authorization", authorization(signature, scope, signed)))
    target = path + ("?" + (raw_query if raw_query is not None else urllib.parse.urlencode(
        list(query), quote_via=urllib.parse.quote)) if (query or raw_query) else "")
    data = raw_request(method, target, all_headers, body)
    if method in ("PUT", "POST") and not body:
        data = raw_request(method, target, all_headers + [("Content-Length", "0")], body)
    answer = client.send(data, head=head if head is not None else method == "HEAD", timeout=timeout)
    return data, answer


def presign(method, path, expires, amz_date=None, query=(), key_id=None):
    """A presigned SigV4 query for `path` with X-Amz-Expires exactly as given (a string)."""
    amz_date = amz_date or amz_now()
    scope = "%s/%s/s3/aws4_request" % (amz_date[:8], REGION)
    params = list(query) + [("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
                            ("X-Amz-Credential", "%s/%s" % (key_id or credentials.access_key, scope)),
                            ("X-Amz-Date", amz_date), ("X-Amz-Expires", expires), ("X-Amz-SignedHeaders", "host")]
    signature, _, _ = sigv4(method, path, params, [("Host", HOST_HEADER)], "UNSIGNED-PAYLOAD", "s3", None, amz_date,
                            signed_names=["host"])
    params.append(("X-Amz-Signature", signature))
    return path + "?" + "&".join("%s=%s" % (uri_encode(k), uri_encode(v)) for k, v in params)


def sigv2_query(path, expires):
    to_sign = "GET\n\n\n%s\n%s" % (expires, urllib.parse.unquote(path))
    signature = base64.b64encode(hmac.new(credentials.secret_key.encode(), to_sign.encode(), hashlib.sha1).digest())
    return "%s?AWSAccessKeyId=%s&Expires=%s&Signature=%s" % (
        path, credentials.access_key, uri_encode(expires), uri_encode(signature.decode()))


def data_directory():
    """The server's data directory: the CA bundle is `<data-dir>/tls/ca.pem`."""
    return os.path.dirname(os.path.dirname(os.path.abspath(CA_BUNDLE))) if CA_BUNDLE else None


def part_s3():
    def judged(name, request, answer, reject, allowed=None, head=False):
        problem = judge_xml(answer, reject, head=head, allowed=allowed)
        if problem and oversized_head(request) and answer.status in (400, 414, 431) and not answer.body:
            problem = None  # a request head past the HTTP layer's limit is refused there, with its status
        check("S3: %s -> %s" % (name, "refused" if reject else "no 5xx"), problem is None, short(request, 400),
              "%s (%s)" % (answer, problem))
        return problem is None

    request, answer = s3_request("PUT", "/" + BUCKET)
    check("set-up: S3 CreateBucket", answer.status == 200 or already_exists(answer), short(request), answer)
    for key, content in (("secret", b"top secret"), ("k", b"0123456789")):
        request, answer = s3_request("PUT", "/%s/%s" % (BUCKET, key), body=content)
        check("set-up: S3 PutObject %s" % key, answer.status == 200, short(request), answer)

    marker = "hostile-marker-%s" % uuid.uuid4().hex[:8]
    # Keys that look like paths: stored as keys (S3 allows them) or refused, never a file outside the store.
    for label, path, reject in (
            ("a key with ..", "/%s/../../../%s" % (BUCKET, marker), False),
            ("a key of %2e%2e", "/%s/%%2e%%2e/%%2e%%2e/%%2e%%2e/%s" % (BUCKET, marker), False),
            ("a key with %2F..%2F", "/%s/a%%2F..%%2F..%%2F..%%2F%s" % (BUCKET, marker), False),
            ("a key with %00", "/%s/%s%%00.txt" % (BUCKET, marker), False),
            ("a key with %zz", "/%s/%s%%zz" % (BUCKET, marker), True),
            ("a key with a bare %", "/%s/%s%%" % (BUCKET, marker), True),
            ("a bucket of ..", "/../%s" % marker, True),
            ("a bucket with %2F", "/%s%%2Fx/%s" % (BUCKET, marker), True),
            ("a bucket of %2e%2e", "/%%2e%%2e/%s" % marker, True),
            ("a key of 1,025 bytes", "/%s/%s" % (BUCKET, "k" * 1025), True),
            ("a key of 100,000 bytes", "/%s/%s" % (BUCKET, "k" * 100000), True),
            ("a key of 1,024 multi-byte characters", "/%s/%s" % (BUCKET, "%C3%A9" * 1024), True)):
        request, answer = s3_request("PUT", path, body=b"escaped?")
        allowed = None
        if "1,025" in label or "multi-byte" in label:
            allowed = {"KeyTooLongError"}
        judged("PUT %s" % label, request, answer, reject, allowed)
        request, answer = s3_request("GET", path)
        judged("GET %s" % label, request, answer, False)
        check("S3: GET %s serves no file of the host" % label, b"root:" not in answer.body, short(request, 200),
              answer)
    root = data_directory()
    if root:
        found = []
        for directory, _, files in os.walk(os.path.dirname(root)):
            if marker in directory or any(marker in name for name in files):
                if not os.path.abspath(directory).startswith(os.path.join(root, "artifacts")):
                    found.append(directory)
            if directory.count(os.sep) - root.count(os.sep) > 6:
                continue
        check("S3: no key wrote a file outside <data-dir>/artifacts", not found, "PUT keys with .., %2e%2e, %2F",
              found)
    request, answer = s3_request("GET", "/" + BUCKET, query=[("list-type", "2")])
    try:
        ElementTree.fromstring(answer.body)
        parses = answer.status == 200
    except ElementTree.ParseError:
        parses = False
    check("S3: ListObjectsV2 after hostile keys answers 200 with well-formed XML", parses, short(request), answer)
    request, answer = s3_request("GET", "/" + BUCKET, query=[("list-type", "2"), ("encoding-type", "url")])
    check("S3: ListObjectsV2 with encoding-type=url answers 200", answer.status == 200, short(request), answer)

    for name in ("AB", "a", "a" * 64, "-abc", "abc-", "a..b", "192.168.1.1", "xn--abc", "a_b", "bucket-s3alias",
                 "sthree-abc", "a%00b", "caf%C3%A9", "abc--ol-s3", "%20abc"):
        request, answer = s3_request("PUT", "/" + name)
        judged("CreateBucket %r" % name, request, answer, True, {"InvalidBucketName"})
        request, answer = s3_request("GET", "/%s/k" % name)
        judged("GetObject in bucket %r" % name, request, answer, True)

    # A presigned PUT with an unsigned x-amz-copy-source must not copy.
    url = presign("PUT", "/%s/copied" % BUCKET, "300")
    data = raw_request("PUT", url, [("x-amz-copy-source", "/%s/secret" % BUCKET), ("Content-Length", "0")])
    answer = client.send(data)
    judged("a presigned PUT with an added unsigned x-amz-copy-source", data, answer, True)
    request, answer = s3_request("GET", "/%s/copied" % BUCKET)
    check("S3: the unsigned x-amz-copy-source copied nothing", b"top secret" not in answer.body, short(request),
          answer)
    url = presign("PUT", "/%s/meta" % BUCKET, "300")
    data = raw_request("PUT", url, [("x-amz-meta-owner", "attacker"), ("Content-Length", "1")], b"x")
    answer = client.send(data)
    judged("a presigned PUT with an added unsigned x-amz-meta-owner", data, answer, True)

    request, answer = s3_request("HEAD", "/%s/k" % BUCKET, query=[("uploadId", "x")])
    judged("HEAD with ?uploadId=x", request, answer, False, head=True)
    request, answer = s3_request("GET", "/%s/k" % BUCKET, query=[("uploadId", "x")])
    judged("GET with ?uploadId=x", request, answer, True)
    request, answer = s3_request("DELETE", "/%s/k" % BUCKET, query=[("uploadId", "x")])
    judged("DELETE with ?uploadId=x (AbortMultipartUpload of no upload)", request, answer, True, {"NoSuchUpload"})
    request, answer = s3_request("GET", "/%s/k" % BUCKET)
    check("S3: object k survived DELETE ?uploadId=x", answer.body == b"0123456789", short(request), answer)

    for range_value, allowed_status in (("bytes=-0", (416, 200)), ("bytes=99999999999999999999-", (416, 200)),
                                        ("bytes=5-1", (416, 200)), ("bytes=0-99999999999999999999", (206, 200, 416)),
                                        ("bytes=-99999999999999999999", (206, 200, 416)), ("bytes=--1", (416, 200)),
                                        ("bytes=0-0,-1", (206, 200, 416)), ("bytes=", (416, 200)),
                                        ("bytes=%d-" % (2 ** 63), (416, 200)), ("bytes=-%d" % (2 ** 63), (206, 200, 416)),
                                        ("bits=0-1", (200, 416)), ("bytes=1-2" + ",1-2" * 2000, (206, 200, 416))):
        request, answer = s3_request("GET", "/%s/k" % BUCKET, headers=[("Range", range_value)])
        problem = judge_xml(answer, False)
        if problem is None and answer.status not in allowed_status:
            problem = "HTTP %d, expected one of %s" % (answer.status, allowed_status)
        if problem is None and answer.status == 200 and answer.body != b"0123456789":
            problem = "a 200 that is not the whole object"
        if problem is None and answer.status == 206 and not b"0123456789".find(answer.body) >= 0:
            problem = "a 206 that is not part of the object"
        check("S3: Range %s -> %s" % (short(range_value, 40), "/".join(map(str, allowed_status))), problem is None,
              short(request, 300), "%s (%s)" % (answer, problem))

    request, answer = s3_request("POST", "/%s/mp" % BUCKET, query=[("uploads", "")], raw_query="uploads")
    match = re.search(rb"<UploadId>([^<]+)</UploadId>", answer.body)
    check("set-up: S3 CreateMultipartUpload", answer.status == 200 and match is not None, short(request), answer)
    upload = match.group(1).decode() if match else "none"
    for part in ("0", "10001", "-1", "99999999999999999999", "1.5", "abc", "", "%00"):
        query = [("partNumber", urllib.parse.unquote(part)), ("uploadId", upload)]
        request, answer = s3_request("PUT", "/%s/mp" % BUCKET, query=query, body=b"part")
        judged("UploadPart with partNumber %r" % part, request, answer, True, {"InvalidArgument", "InvalidRequest",
                                                                             "InvalidPartNumber"})
    for upload_id in ("../../../etc", "\u0000", "x" * 5000):
        query = [("partNumber", "1"), ("uploadId", upload_id)]
        request, answer = s3_request("PUT", "/%s/mp" % BUCKET, query=query, body=b"part")
        judged("UploadPart with uploadId %r" % short(upload_id, 20), request, answer, True)
    for label, body in (("no parts", b"<CompleteMultipartUpload></CompleteMultipartUpload>"),
                        ("part 0", b"<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>\"x\"</ETag>"
                                   b"</Part></CompleteMultipartUpload>"),
                        ("a huge part number", b"<CompleteMultipartUpload><Part><PartNumber>99999999999999999999"
                                               b"</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>"),
                        ("malformed XML", b"<CompleteMultipartUpload><Part>"),
                        ("an entity expansion", b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "bbbbbbbbbb">'
                                                b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
                                                b'<CompleteMultipartUpload>&c;</CompleteMultipartUpload>'),
                        ("deep nesting", b"<a>" * 50000 + b"</a>" * 50000)):
        request, answer = s3_request("POST", "/%s/mp" % BUCKET, query=[("uploadId", upload)], body=body)
        judged("CompleteMultipartUpload with %s" % label, request, answer, True)
    request, answer = s3_request("POST", "/" + BUCKET, query=[("delete", "")], raw_query="delete",
                                 body=b"<Delete>" + b"<Object><Key>x</Key></Object>" * 1001 + b"</Delete>",
                                 headers=[("Content-MD5", "bogus")])
    judged("DeleteObjects with 1,001 keys and a bogus Content-MD5", request, answer, True)

    # Content-Length that lies: the object must not be stored from a short or long body.
    payload = b"0123456789" * 10
    for label, declared in (("larger than the body", len(payload) + 50), ("smaller than the body", 10)):
        key = "/%s/liar-%d" % (BUCKET, declared)
        amz_date = amz_now()
        headers = [("Host", HOST_HEADER), ("X-Amz-Date", amz_date),
                   ("X-Amz-Content-Sha256", hashlib.sha256(payload).hexdigest())]
        signature, scope, signed = sigv4("PUT", key, [], headers, hashlib.sha256(payload).hexdigest(), "s3", None,
                                         amz_date)
        headers += [("Authorization", authorization(signature, scope, signed)), ("Content-Length", str(declared))]
        data = raw_request("PUT", key, headers, payload)
        sock = open_socket(5)
        try:
            sock.sendall(data)
            if declared > len(payload) and not USE_TLS:
                sock.shutdown(socket.SHUT_WR)
            status, _, body, _ = read_answer(sock, False, 5)
            outcome = Answer(status, body=body)
        except socket.timeout:
            outcome = Answer(problem="timeout")
        except (ConnectionError, OSError, ValueError) as error:
            outcome = Answer(problem="closed (%s)" % error)
        finally:
            sock.close()
        if declared > len(payload):
            # The body never completes: a 4xx, a timeout or a close are all honest; a 2xx or 5xx is not.
            ok = outcome.problem is not None or 400 <= outcome.status < 500
        else:
            ok = outcome.problem is None and 400 <= outcome.status < 500
        check("S3: PUT with Content-Length %s is not stored as complete" % label, ok, short(data, 300), outcome)
        request, answer = s3_request("GET", key)
        check("S3: no object from a Content-Length %s" % label, answer.status == 404, short(request), answer)

    for label, headers, body, must_send in (
            ("Expect: 100-continue with Content-Length 0", [("Expect", "100-continue")], b"", True),
            ("Expect: 100-continue with an unknown expectation", [("Expect", "200-ok")], b"x", True)):
        request, answer = s3_request("PUT", "/%s/expect" % BUCKET, headers=headers, body=body)
        problem = judge_xml(answer, False)
        if problem and answer.status == 417:
            problem = None
        check("S3: %s -> no 5xx" % label, problem is None, short(request), "%s (%s)" % (answer, problem))
    key = "/%s/expect-no-body" % BUCKET
    amz_date = amz_now()
    headers = [("Host", HOST_HEADER), ("X-Amz-Date", amz_date), ("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")]
    signature, scope, signed = sigv4("PUT", key, [], headers, "UNSIGNED-PAYLOAD", "s3", None, amz_date)
    data = raw_request("PUT", key, headers + [("Authorization", authorization(signature, scope, signed)),
                                              ("Expect", "100-continue"), ("Content-Length", "5")])
    sock = open_socket(10)
    try:
        sock.sendall(data)
        sock.settimeout(5)
        first = sock.recv(4096)
        continued = first.startswith(b"HTTP/1.1 100")
    except (socket.timeout, OSError):
        first, continued = b"", False
    finally:
        sock.close()
    check("S3: Expect: 100-continue without a body gets 100 Continue (or an error) and the close is survived",
          continued or first.startswith(b"HTTP/1.1 4"), short(data), short(first))
    request, answer = s3_request("GET", key)
    check("S3: no object from an Expect: 100-continue that sent no body", answer.status == 404, short(request),
          answer)

    # Presigned queries with odd expiries, and the SigV2 query form.
    for expires, reject in (("60", False), ("0", True), ("-1", True), ("604800", False), ("604801", True),
                            ("1e9", True), ("inf", True), ("NaN", True), ("", True), ("0x10", True),
                            ("99999999999999999999", True), (" 60", True)):
        url = presign("GET", "/%s/k" % BUCKET, expires)
        data = raw_request("GET", url, [])
        answer = client.send(data)
        judged("presigned GET with X-Amz-Expires=%r" % expires, data, answer, reject)
    for label, amz_date, expires in (("dated 20 minutes in the future", amz_now(1200), "60"),
                                     ("dated 8 days ago", amz_now(-8 * 86400), "604800"),
                                     ("with a malformed X-Amz-Date", "2024-01-01T00:00:00Z", "60")):
        url = presign("GET", "/%s/k" % BUCKET, expires, amz_date=amz_date)
        data = raw_request("GET", url, [])
        answer = client.send(data)
        judged("presigned GET %s" % label, data, answer, True)
    url = presign("GET", "/%s/k" % BUCKET, "60")
    data = raw_request("GET", url, [("Authorization", "AWS4-HMAC-SHA256 Credential=x")])
    answer = client.send(data)
    judged("a presigned GET with an Authorization header too", data, answer, True)
    url = presign("GET", "/%s/k" % BUCKET, "60")
    data = raw_request("GET", url + "&X-Amz-Expires=604800", [])
    answer = client.send(data)
    judged("a presigned GET with X-Amz-Expires twice", data, answer, True)
    now = int(time.time())
    for expires, reject in (("inf", True), ("99999999999", False), ("-1", True), ("1e10", True), (str(now - 60), True),
                            ("", True), ("%d" % (2 ** 64), True)):
        data = raw_request("GET", sigv2_query("/%s/k" % BUCKET, expires), [])
        answer = client.send(data)
        judged("SigV2 query with Expires=%r" % expires, data, answer, reject)


# --- part: connections ------------------------------------------------------------------------------------------------


def connection_answer(payloads, pause=0.0, timeout=15.0, half_close=False):
    """Sends the payloads on a fresh connection (with a pause between them) and reads whatever comes back: the
    status of the first response, or how the connection ended."""
    start = time.monotonic()
    try:
        sock = open_socket(timeout)
    except (OSError, ssl.SSLError) as error:
        return Answer(problem="cannot connect (%s)" % error)
    try:
        for index, payload in enumerate(payloads):
            if index and pause:
                time.sleep(pause)
            try:
                sock.sendall(payload)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                break  # the server stopped reading: what it answered, if anything, is read below
        if half_close and not USE_TLS:
            sock.shutdown(socket.SHUT_WR)
        status, headers, body, _ = read_answer(sock, False, timeout)
        return Answer(status, headers, body, elapsed=time.monotonic() - start)
    except socket.timeout:
        return Answer(problem="timeout", elapsed=time.monotonic() - start)
    except (ConnectionError, OSError, ssl.SSLError, ValueError) as error:
        return Answer(problem="closed (%s)" % error, elapsed=time.monotonic() - start)
    finally:
        sock.close()


def part_connections():
    # Half a request head, a stall, then the close: the server must shed it and keep serving others.
    stalled = []
    for _ in range(20):
        try:
            sock = open_socket(10)
            sock.sendall(b"POST / HTTP/1.1\r\nHost: %s\r\nX-Amz-Tar" % HOST_HEADER.encode())
            stalled.append(sock)
        except (OSError, ssl.SSLError):
            break
    check("connections: 20 connections with half a request head are open", len(stalled) == 20, "", len(stalled))
    start = time.monotonic()
    fresh = Client()
    answer = fresh.send(raw_request("GET", "/healthz", []), timeout=10)
    fresh.close()
    check("connections: /healthz answers while 20 connections stall mid-head", answer.status == 200,
          "GET /healthz", "%s after %.1f s" % (answer, time.monotonic() - start))
    time.sleep(3)
    for sock in stalled:
        sock.close()
    check_health("stalled connections closed")

    rng_bytes = random.Random(options.seed + 1)
    garbage = bytes(rng_bytes.getrandbits(8) for _ in range(1 << 20))
    answer = connection_answer([garbage])
    check("connections: 1 MiB of garbage is answered 400 or closed, within 15 s",
          answer.problem != "timeout" and (answer.problem is not None or 400 <= answer.status < 500),
          "1 MiB of random bytes", answer)
    answer = connection_answer([b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"])
    check("connections: a request line of 100 KB is answered 4xx (414/431/400)",
          answer.problem is None and 400 <= answer.status < 500, "GET /aaaa...(100 KB) HTTP/1.1", answer)
    answer = connection_answer([b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 100000 + b"\r\n\r\n"])
    check("connections: a header of 100 KB is answered (4xx or 200)",
          answer.problem is None and (answer.status == 200 or 400 <= answer.status < 500), "X-Big: bbbb...", answer)
    for label, payload in (
            ("a request line without a version", b"GET /healthz\r\n\r\n"),
            ("HTTP/9.9", b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n"),
            ("a NUL in the request line", b"GET /health\x00z HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("a bare LF request", b"GET /healthz HTTP/1.1\nHost: x\n\n"),
            ("two Content-Length headers", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 5"
                                           b"\r\n\r\n{}"),
            ("a negative Content-Length", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}"),
            ("a huge Content-Length", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n"),
            ("a bad chunk size", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            ("a huge chunk size", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  b"ffffffffffffffffffff\r\n"),
            ("chunked and Content-Length", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                                           b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            ("an unknown method", b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("a header without a colon", b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n")):
        answer = connection_answer([payload], half_close=True, timeout=10)
        ok = answer.problem != "timeout" and (answer.problem is not None or 200 <= answer.status < 500)
        check("connections: %s is answered (not 5xx) or closed, within 10 s" % label, ok, short(payload), answer)
    # A TLS client that never finishes its handshake.
    if USE_TLS:
        raw = socket.create_connection((HOST, PORT), timeout=5)
        raw.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40)
        time.sleep(1)
        raw.close()
        raw = socket.create_connection((HOST, PORT), timeout=5)
        raw.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
        try:
            raw.recv(100)
        except OSError:
            pass
        raw.close()
        check_health("a broken TLS handshake and plain HTTP on the TLS port")


# --- part: hostile archives through `slipway local` ------------------------------------------------------------------

APPSPEC = b"version: 0.0\nos: linux\n"


def tar_bytes(entries, fmt=tarfile.GNU_FORMAT, compress=False):
    """A tar (or tgz) of (TarInfo, data) entries, with an appspec.yml first."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
        info = tarfile.TarInfo("appspec.yml")
        info.size = len(APPSPEC)
        archive.addfile(info, io.BytesIO(APPSPEC))
        for info, data in entries:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    raw = buffer.getvalue()
    return gzip.compress(raw, 6) if compress else raw


def member(name, kind=tarfile.REGTYPE, data=b"", linkname="", mode=0o644, devmajor=0, devminor=0):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.devmajor, info.devminor = devmajor, devminor
    return info, data if kind == tarfile.REGTYPE else None


def header_block(name, size_field, typeflag=b"0", prefix=b""):
    """A raw ustar header with the size field exactly as given (12 bytes), for sizes tarfile refuses to write."""
    block = bytearray(512)
    block[0:len(name)] = name
    block[100:108] = b"0000644\x00"
    block[108:116] = b"0000000\x00"
    block[116:124] = b"0000000\x00"
    block[124:136] = size_field.ljust(12, b"\x00")[:12]
    block[136:148] = b"00000000000\x00"
    block[156:157] = typeflag
    block[257:263] = b"ustar\x00"
    block[263:265] = b"00"
    block[148:156] = b" " * 8
    checksum = sum(block)
    block[148:156] = b"%06o\x00 " % checksum
    return bytes(block)


def pax_block(records, name=b"././@PaxHeader"):
    body = b""
    for key, value in records:
        line = b" " + key + b"=" + value + b"\n"
        length = len(line) + 1
        while len(str(length).encode()) + len(line) != length:
            length = len(str(length).encode()) + len(line)
        body += str(length).encode() + line
    padded = body + b"\x00" * (-len(body) % 512)
    return header_block(name, b"%011o\x00" % len(body), b"x") + padded


def appspec_raw():
    return header_block(b"appspec.yml", b"%011o\x00" % len(APPSPEC)) + APPSPEC + b"\x00" * (512 - len(APPSPEC))


END = b"\x00" * 1024


def zip_bytes(entries):
    """A zip of (ZipInfo or name, data) entries, with an appspec.yml first."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("appspec.yml", APPSPEC)
        for info, data in entries:
            archive.writestr(info, data)
    return buffer.getvalue()


def symlink_zip_info(name):
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def raw_zip(entries, overlap=0):
    """A zip written byte by byte, for what zipfile refuses to write (NUL in names, sizes that lie): `entries` are
    (name bytes, uncompressed data, declared uncompressed size or None), deflated, after an appspec.yml. With
    overlap > 0 the central directory also lists the last entry's data that many more times (a bomb by total)."""
    local = b""
    central = []
    for name, actual, declared in [(b"appspec.yml", APPSPEC, None)] + list(entries):
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        data = compressor.compress(actual) + compressor.flush()
        size = len(actual) if declared is None else declared
        crc = zlib.crc32(actual)
        offset = len(local)
        local += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(data), size, len(name), 0)
        local += name + data
        central.append((name, crc, len(data), size, offset))
    for index in range(overlap):
        name, crc, compressed, size, offset = central[-1]
        central.append((b"overlap%04d" % index, crc, compressed, size, offset))
    directory = b""
    for name, crc, compressed, size, offset in central:
        directory += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, compressed, size,
                                 len(name), 0, 0, 0, 0, 0o100644 << 16, offset) + name
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(central), len(central), len(directory), len(local), 0)
    return local + directory + end


class ArchiveRunner:
    """Runs `slipway local` on an archive in a fresh sandbox and judges what happened."""

    def __init__(self, binary):
        self.binary = binary
        self.sandbox = tempfile.mkdtemp(prefix="slipway-hostile-")
        self.outside = os.path.join(self.sandbox, "outside")
        os.makedirs(self.outside)
        with open(os.path.join(self.outside, "sentinel"), "wb") as handle:
            handle.write(b"original")
        self.tmp_target = os.path.join(tempfile.gettempdir(), "slipway-hostile-%s" % uuid.uuid4().hex[:8])

    def snapshot(self):
        """Every path of the sandbox outside the deployment roots, with its size and mode."""
        seen = {}
        for directory, dirs, files in os.walk(self.sandbox):
            dirs[:] = [d for d in dirs if not d.startswith("root-")]
            for name in dirs + files:
                path = os.path.join(directory, name)
                info = os.lstat(path)
                seen[path] = (info.st_size, info.st_mode, info.st_mtime_ns)
        return seen

    def run(self, label, data, bundle_type, keywords, expect_failure=True, timeout=120, extra_check=None):
        index = len(os.listdir(self.sandbox))
        archive = os.path.join(self.sandbox, "bundle-%d.%s" % (index, bundle_type))
        with open(archive, "wb") as handle:
            handle.write(data)
        root = os.path.join(self.sandbox, "root-%d" % index)
        before = self.snapshot()
        passwd = os.stat("/etc/passwd")
        start = time.monotonic()
        command = [self.binary, "local", "--bundle-location", archive, "--type", bundle_type, "--root-dir", root,
                   "--deployment-group", "hostile-group"]
        try:
            result = subprocess.run(command, capture_output=True, timeout=timeout, cwd=self.outside, check=False)
            status, output = result.returncode, (result.stdout + result.stderr).decode("utf-8", "replace")
        except subprocess.TimeoutExpired as expired:
            status, output = None, "timed out after %d s: %s" % (timeout, (expired.stdout or b"")[-500:])
        elapsed = time.monotonic() - start
        after = self.snapshot()
        after.pop(archive, None)
        changed = sorted(path for path in set(before) | set(after)
                         if path != archive and before.get(path) != after.get(path))
        request = "slipway local --type %s (%s, %d bytes)" % (bundle_type, label, len(data))
        answer = "exit %s in %.1f s: %s" % (status, elapsed, short(output.strip()[-600:], 600))
        crashed = status is None or status < 0 or "Fatal error" in output or status > 128
        check("archive %s: slipway local does not crash or hang" % label, not crashed, request, answer)
        if expect_failure:
            named = any(word.lower() in output.lower() for word in keywords)
            check("archive %s: refused with a message naming the problem (%s)" % (label, "/".join(keywords)),
                  status not in (None, 0) and not crashed and named, request, answer)
        check("archive %s: nothing written outside --root-dir" % label, not changed, request, changed)
        escaped = [path for path in (self.tmp_target, os.path.join(self.tmp_target, "through"))
                   if os.path.lexists(path) and not os.path.isdir(path)]
        check("archive %s: nothing written to %s" % (label, self.tmp_target), not escaped, request, escaped)
        now = os.stat("/etc/passwd")
        check("archive %s: /etc/passwd untouched" % label, (now.st_size, now.st_mtime_ns, now.st_nlink) == (
            passwd.st_size, passwd.st_mtime_ns, passwd.st_nlink), request, now)
        if os.path.isdir(root):
            strange = []
            for directory, _, files in os.walk(root):
                for name in files:
                    info = os.lstat(os.path.join(directory, name))
                    if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) or stat.S_ISFIFO(info.st_mode):
                        strange.append(os.path.join(directory, name))
                    if info.st_ino == passwd.st_ino and info.st_dev == passwd.st_dev:
                        strange.append(os.path.join(directory, name) + " (a hard link to /etc/passwd)")
            check("archive %s: no device, FIFO or link to /etc/passwd under --root-dir" % label, not strange,
                  request, strange)
            shutil.rmtree(root, ignore_errors=True)
        if extra_check:
            extra_check(request, answer)
        os.remove(archive)
        return status, elapsed

    def cleanup(self):
        shutil.rmtree(self.sandbox, ignore_errors=True)
        shutil.rmtree(self.tmp_target, ignore_errors=True)


def part_archives():
    binary = options.slipway or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                             ".build", "debug", "slipway")
    binary = os.path.abspath(binary)
    if not os.access(binary, os.X_OK):
        check("archives: the slipway binary exists", False, binary, "not executable")
        return
    runner = ArchiveRunner(binary)
    target = runner.tmp_target
    os.makedirs(target)
    sentinel = os.path.join(runner.outside, "sentinel")
    try:
        escape = "../" * 16 + target.lstrip("/") + "/escaped"
        # tar and tgz: the same hostile entries in both.
        cases = [
            ("../ traversal", [member(escape, data=b"escaped")], ["..", "leaves"]),
            ("an absolute path", [member(target + "/escaped", data=b"escaped")], ["absolute"]),
            ("a symlink out then a file through it", [member("link", tarfile.SYMTYPE, linkname=target),
                                                       member("link/through", data=b"through")],
             ["symbolic link", "absolute", "outside"]),
            ("a relative symlink out then a file through it",
             [member("rel", tarfile.SYMTYPE, linkname="../" * 16 + target.lstrip("/")),
              member("rel/through", data=b"through")], ["symbolic link", "outside", ".."]),
            ("a symlink to a directory then a file through it",
             [member("d", tarfile.DIRTYPE), member("d/up", tarfile.SYMTYPE, linkname=".."),
              member("d/up/up2", tarfile.SYMTYPE, linkname=".."), member("d/up/up2/x/y", data=b"y")],
             ["symbolic link", "outside", "..", "through"]),
            ("a hard link to /etc/passwd", [member("pw", tarfile.LNKTYPE, linkname="/etc/passwd")],
             ["hard link", "absolute"]),
            ("a hard link out then a write through it",
             [member("hl", tarfile.LNKTYPE, linkname=sentinel), member("hl", data=b"overwritten")],
             ["hard link", "absolute"]),
            ("a hard link by .. then a write through it",
             [member("hl2", tarfile.LNKTYPE, linkname="../" * 16 + sentinel.lstrip("/")),
              member("hl2", data=b"overwritten")], ["hard link", ".."]),
            ("a character device", [member("null", tarfile.CHRTYPE, devmajor=1, devminor=3)], ["device"]),
            ("a block device", [member("disk", tarfile.BLKTYPE, devmajor=8, devminor=0)], ["device"]),
            ("a FIFO", [member("fifo", tarfile.FIFOTYPE)], ["fifo"]),
            ("a file under appspec.yml, which is a file", [member("appspec.yml/x", data=b"x")],
             ["appspec", "directory", "exists", "not a directory", "replace"]),
        ]
        for label, entries, keywords in cases:
            try:
                data = tar_bytes(entries)
            except (ValueError, tarfile.TarError):
                continue
            runner.run(label + " (tar)", data, "tar", keywords)
            runner.run(label + " (tgz)", gzip.compress(data, 6), "tgz", keywords)
        with open(sentinel, "rb") as handle:
            check("archives: the sentinel outside the root still says 'original'", handle.read() == b"original",
                  "hard links to the sentinel", sentinel)

        # Sizes tarfile refuses to write, as raw headers.
        size_cases = [
            ("pax size= on a directory", pax_block([(b"size", b"1000000")]) + header_block(b"dir/", b"0" * 11, b"5")
             + END, ["size", "directory", "truncated"]),
            ("a pax path with a NUL", pax_block([(b"path", b"a\x00b")]) + header_block(b"f", b"0" * 11) + END,
             ["nul", "name", "path"]),
            ("a pax path of ..", pax_block([(b"path", b"../../../../../../../../../../../../../../tmp/x")])
             + header_block(b"f", b"0" * 11) + END, ["..", "leaves"]),
            ("pax size=-1", pax_block([(b"size", b"-1")]) + header_block(b"f", b"0" * 11) + END, ["size"]),
            ("pax size=99999999999999999999", pax_block([(b"size", b"99999999999999999999")])
             + header_block(b"f", b"0" * 11) + END, ["size"]),
            ("pax size with garbage", pax_block([(b"size", b"12abc")]) + header_block(b"f", b"0" * 11) + END,
             ["size"]),
            ("a pax record longer than its block", header_block(b"././@PaxHeader", b"%011o\x00" % 20, b"x")
             + b"99999 size=1\n".ljust(512, b"\x00") + header_block(b"f", b"0" * 11) + END, ["pax", "record"]),
            ("base-256 size with every bit set", header_block(b"f", b"\xff" * 12) + END, ["size"]),
            ("base-256 size 2**63-1 (size + 511 overflows)", header_block(b"f", b"\x80" + b"\x00" * 3 + b"\x7f"
                                                                          + b"\xff" * 7) + END,
             ["size", "limit"]),
            ("base-256 size 2**95", header_block(b"f", b"\x80\x80" + b"\x00" * 10) + END, ["size", "limit"]),
            ("an octal size of garbage", header_block(b"f", b"zzzzzzzzzzz\x00") + END, ["size", "header"]),
            ("an octal size of 77777777777 (8 GiB, no data)", header_block(b"f", b"77777777777\x00") + END,
             ["truncated", "end", "size"]),
            ("a bad header checksum", header_block(b"f", b"00000000001\x00")[:148] + b"0000000\x00"
             + header_block(b"f", b"00000000001\x00")[156:] + b"x" * 512 + END, ["checksum", "header"]),
            ("a long name of 100,000 bytes (GNU)", header_block(b"././@LongLink", b"%011o\x00" % 100000, b"L")
             + b"a" * 100000 + b"\x00" * (-100000 % 512) + header_block(b"x", b"0" * 11) + END,
             ["name", "long", "path"]),
            ("a truncated data block", header_block(b"f", b"%011o\x00" % 4096) + b"x" * 100, ["truncated", "end"]),
            ("a truncated header", header_block(b"f", b"0" * 11)[:300], ["truncated", "end", "header"]),
        ]
        for label, body, keywords in size_cases:
            data = appspec_raw() + body
            runner.run(label + " (tar)", data, "tar", keywords)
            runner.run(label + " (tgz)", gzip.compress(data, 6), "tgz", keywords)

        valid = tar_bytes([member("file-%d" % i, data=b"x" * 1000) for i in range(20)], compress=True)
        runner.run("a tgz cut in half", valid[:len(valid) // 2], "tgz", ["truncated", "end", "corrupt"])
        runner.run("a tgz with a corrupt CRC", valid[:-8] + b"\x00\x00\x00\x00" + valid[-4:], "tgz",
                   ["corrupt", "crc", "check", "gzip"])
        runner.run("a tgz that is not gzip", b"not gzip at all" * 100, "tgz", ["gzip"])
        runner.run("an empty tgz", b"", "tgz", ["gzip", "empty", "truncated", "end"])

        # A gzip bomb: one entry declaring 17 GiB, and gzip members of zeros repeated to stay tiny on disk.
        zeros = gzip.compress(b"\x00" * (64 << 20), 9)
        head = gzip.compress(appspec_raw() + header_block(b"bomb", b"%011o\x00" % (17 << 30)), 9)
        bomb = head + zeros * 32
        runner.run("a gzip bomb declaring 17 GiB (ratio ~1000:1)", bomb, "tgz", ["limit", "bytes", "large"])

        # The entry-count bomb: many empty entries, within the limit (its cost is measured and bounded).
        raw = bytearray(appspec_raw())
        for index in range(options.entries):
            raw += header_block(b"e/%07d" % index, b"0" * 11)
        raw += END
        count_bomb = gzip.compress(bytes(raw), 1)
        status, elapsed = runner.run("%d empty entries" % options.entries, count_bomb, "tgz", [],
                                     expect_failure=False, timeout=240)
        print("    (%d empty entries: exit %s after %.1f s)" % (options.entries, status, elapsed))
        if options.big_archives:
            raw = bytearray(appspec_raw())
            for index in range(1_000_001):
                raw += header_block(b"e/%07d" % index, b"0" * 11)
            raw += END
            runner.run("1,000,001 empty entries", gzip.compress(bytes(raw), 1), "tgz", ["entries"], timeout=900)
            del raw

        # zip: traversal, links, declared sizes that lie, overlapping entries, truncation.
        zip_cases = [
            ("../ traversal", zip_bytes([(escape, b"escaped")]), ["..", "leaves"]),
            ("an absolute path", zip_bytes([(target + "/escaped", b"escaped")]), ["absolute"]),
            ("a symlink out then a file through it", zip_bytes([(symlink_zip_info("link"), target.encode()),
                                                                ("link/through", b"through")]),
             ["symbolic link", "absolute", "outside"]),
            ("a symlink with a 1 MiB target", zip_bytes([(symlink_zip_info("big"), b"a" * (1 << 20))]),
             ["symbolic link", "target", "long"]),

            ("a declared size smaller than the data (10 MB inflates)",
             raw_zip([(b"bomb.bin", b"\x00" * (10 << 20), 1000)]), ["size", "limit", "declared", "more", "crc"]),
            ("a declared size larger than the data", raw_zip([(b"short.bin", b"x" * 1000, 100000)]),
             ["size", "truncated", "declared", "crc", "end"]),
            ("overlapping entries declaring 20 GB in total",
             raw_zip([(b"bomb.bin", b"\x00" * (1 << 20), 4_000_000_000)], overlap=4),
             ["limit", "bytes", "size", "overlap"]),
            ("a NUL in a raw name", raw_zip([(b"a\x00b", b"x", None)]), ["nul", "name"]),
            ("a zip without its central directory", zip_bytes([("f", b"x" * 1000)])[:200],
             ["zip", "central", "truncated", "end"]),
            ("a zip of garbage", b"PK\x05\x06" + b"\xff" * 18, ["zip", "central", "corrupt", "entries"]),
        ]
        for label, data, keywords in zip_cases:
            runner.run(label + " (zip)", data, "zip", keywords)
        # A backslash is a name character on Linux, not a separator: the entry stays inside the root.
        runner.run("a backslash traversal (zip)", zip_bytes([("..\\..\\..\\escaped", b"x")]), "zip", [],
                   expect_failure=False)
    finally:
        runner.cleanup()


# --- main -------------------------------------------------------------------------------------------------------------

started = time.monotonic()
print("hostile.py: seed %d, %d iterations, parts %s" % (options.seed, options.iterations,
                                                       ",".join(p for p in PARTS if p in selected)))
for part in PARTS:
    if part not in selected:
        continue
    part_started = time.monotonic()
    try:
        globals()["part_" + part]()
    except Exception as error:  # a bug of this script must not hide the checks that ran
        import traceback
        traceback.print_exc()
        check("part %s ran to its end" % part, False, part, "%s: %s" % (type(error).__name__, error))
    client.close()
    if part != "archives":
        check_health("part %s" % part)
    print("    (part %s: %.1f s)" % (part, time.monotonic() - part_started))

print("(%.0f s in all)" % (time.monotonic() - started))
print("%d passed, %d failed" % (passed, len(failures)))
sys.exit(1 if failures else 0)
