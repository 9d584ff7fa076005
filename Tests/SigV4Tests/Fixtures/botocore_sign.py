#!/usr/bin/env python3
"""Sign a fixed set of Slipway-shaped requests with botocore's own SigV4 signers.

Prints one JSON document on standard output. The SigV4 tests compare it with the
committed copy (botocore_signed.json) and check every request with the Swift
verifier and signer. Run from anywhere:

    python3 botocore_sign.py > botocore_signed.json

Exit status 3 means botocore is not importable (the Swift test then skips the
live run and relies on the committed copy).
"""

import datetime
import hashlib
import json
import sys
import types
from unittest import mock
from urllib.parse import quote, urlsplit

try:
    import botocore
    from botocore import auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:
    sys.exit(3)

# Signing instant used for every request: 2026-03-14T09:26:53Z.
SIGNED_AT = datetime.datetime(2026, 3, 14, 9, 26, 53)

MAIN = ("AKIASLIPWAYEXAMPLE01", "s3cr3t/Slipway+Example/Key0123456789abcd", None)
SESSION = (
    "ASIASLIPWAYEXAMPLE02",
    "tempSecret/For+Session0123456789ABCDEFGHIJ",
    "FwoGZXIvYXdzEXAMPLE//////////token+with/odd=chars",
)


def case(name, signer_class, service, region, method, url, headers=(), body=b"",
         creds=MAIN, expires=None, unsigned_payload=False):
    access_key, secret, token = creds
    credentials = Credentials(access_key, secret, token)
    if expires is None:
        signer = signer_class(credentials, service, region)
    else:
        signer = signer_class(credentials, service, region, expires=expires)
    host = urlsplit(url).netloc
    request = AWSRequest(method=method, url=url, data=body)
    request.headers["Host"] = host
    for header_name, value in headers:
        # HTTPHeaders appends on assignment, so repeated names stay repeated.
        request.headers[header_name] = value
    if unsigned_payload:
        request.context["client_config"] = types.SimpleNamespace(
            s3={"payload_signing_enabled": False}
        )
    with mock.patch.object(auth, "get_current_datetime", return_value=SIGNED_AT):
        signer.add_auth(request)
    parts = urlsplit(request.url)
    return {
        "name": name,
        "service": service,
        "region": region,
        "accessKeyId": access_key,
        "secretAccessKey": secret,
        "sessionToken": token,
        "method": method,
        "path": parts.path,
        "query": parts.query,
        "headers": [[k, v] for k, v in request.headers.items()],
        "body": body.decode("utf-8"),
        "bodySHA256": hashlib.sha256(body).hexdigest(),
        "presigned": expires is not None,
        "timestamp": request.context["timestamp"],
    }


def main():
    endpoint = "https://slipway.example.com:8443"
    s3_key = "releases/my app v1+build #7 ✓.zip"
    cases = [
        case("codedeploy JSON POST with X-Amz-Target", auth.SigV4Auth, "codedeploy", "eu-west-1",
             "POST", endpoint + "/",
             headers=[("Content-Type", "application/x-amz-json-1.1"),
                      ("X-Amz-Target", "CodeDeploy_20141006.ListApplications")],
             body=b'{"nextToken":null}'),
        case("agent command poll", auth.SigV4Auth, "codedeploy-commands-secure", "eu-west-1",
             "POST", endpoint + "/",
             headers=[("Content-Type", "application/x-amz-json-1.1"),
                      ("X-Amz-Target", "CodeDeployCommandService_v20141006.PollHostCommand"),
                      ("X-AMZ-Meta-Note", "  folded    white\tspace  ")],
             body=b'{"HostIdentifier":"arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc"}'),
        case("S3 PUT with a key needing encoding", auth.S3SigV4Auth, "s3", "us-east-1",
             "PUT", endpoint + "/deploy-bucket/" + quote(s3_key, safe="/~"),
             headers=[("Content-Type", "application/zip"), ("X-Amz-Meta-Origin", "ci")],
             body=b"PK\x03\x04 pretend zip"),
        case("S3 GET with unsigned payload", auth.S3SigV4Auth, "s3", "us-east-1",
             "GET", endpoint + "/deploy-bucket/plain.txt",
             headers=[("Range", "bytes=0-99")], unsigned_payload=True),
        case("S3 list with repeated, unsorted and encoded query parameters", auth.S3SigV4Auth,
             "s3", "us-east-1", "GET",
             endpoint + "/deploy-bucket?prefix=a%20b%2Fc&list-type=2&x-id=B&x-id=A&empty=&delimiter=%2F"),
        case("S3 presigned GET", auth.S3SigV4QueryAuth, "s3", "us-east-1",
             "GET", endpoint + "/deploy-bucket/" + quote(s3_key, safe="/~"), expires=3600),
        case("S3 presigned GET with a session token", auth.S3SigV4QueryAuth, "s3", "us-east-1",
             "GET", endpoint + "/deploy-bucket/bundle.tar?versionId=v%2B1", expires=600,
             creds=SESSION),
        case("IAM form POST", auth.SigV4Auth, "iam", "us-east-1",
             "POST", endpoint + "/",
             headers=[("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
             body=b"Action=GetUser&UserName=deploy%2Bbot&Version=2010-05-08"),
        case("IAM GET with query parameters", auth.SigV4Auth, "iam", "us-east-1",
             "GET", endpoint + "/?Version=2010-05-08&Action=ListUsers&PathPrefix=%2Fdivision%20a%2F"),
        case("codedeploy request with a session token and repeated headers", auth.SigV4Auth,
             "codedeploy", "us-west-2", "POST", endpoint + "/",
             headers=[("Content-Type", "application/x-amz-json-1.1"),
                      ("X-Amz-Target", "CodeDeploy_20141006.GetDeployment"),
                      ("X-Custom", "first"), ("X-Custom", "second")],
             body=b'{"deploymentId":"d-ABCDEF123"}', creds=SESSION),
        case("non-S3 path is normalised and encoded twice", auth.SigV4Auth, "codedeploy", "eu-west-1",
             "GET", endpoint + "/files/a%20b/./sub/../c%2Bd.txt"),
        case("non-S3 presigned GET", auth.SigV4QueryAuth, "iam", "us-east-1",
             "GET", endpoint + "/?Action=ListUsers&Version=2010-05-08", expires=300),
    ]
    document = {"botocoreVersion": botocore.__version__, "cases": cases}
    json.dump(document, sys.stdout, indent=1, ensure_ascii=False, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
