"""Starts an upload to a running Slipway server, kills the server (SIGKILL) half-way through the body, and exits.

Run by ArtifactStoreIntegrationTests with the dev profile's environment and SLIPWAY_SERVER_PID. The request is
signed by botocore (UNSIGNED-PAYLOAD, so the body can be cut short) and sent by hand over TLS.
"""

import os
import signal
import socket
import ssl
import time
import urllib.parse

import boto3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest

endpoint = urllib.parse.urlparse(os.environ["AWS_ENDPOINT_URL"])
session = boto3.session.Session()
size = 8 << 20
request = AWSRequest(
    method="PUT",
    url="%s/crash/partial.bin" % os.environ["AWS_ENDPOINT_URL"],
    headers={"Content-Length": str(size), "x-amz-content-sha256": "UNSIGNED-PAYLOAD"},
)
S3SigV4Auth(session.get_credentials(), "s3", session.region_name or "us-east-1").add_auth(request)

raw = socket.create_connection((endpoint.hostname, endpoint.port))
if endpoint.scheme == "https":
    raw = ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE")).wrap_socket(raw, server_hostname=endpoint.hostname)
lines = ["PUT /crash/partial.bin HTTP/1.1", "Host: %s" % endpoint.netloc]
lines += ["%s: %s" % (name, value) for name, value in request.headers.items() if name.lower() != "host"]
raw.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
raw.sendall(os.urandom(size // 2))
time.sleep(0.5)
os.kill(int(os.environ["SLIPWAY_SERVER_PID"]), signal.SIGKILL)
print("killed the server half-way through the upload")
