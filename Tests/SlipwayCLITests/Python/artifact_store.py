"""Drives Slipway's built-in S3 store with boto3, curl and hand-signed requests, as clients really call it.

Run by ArtifactStoreIntegrationTests with the dev profile's environment (AWS_ENDPOINT_URL over HTTPS, AWS_CA_BUNDLE,
...) and SLIPWAY_AGENT_KEY_ID / SLIPWAY_AGENT_SECRET for an agent key. Each check prints one line; the first failure
raises, and the script exits non-zero with the reason.
"""

import datetime
import hashlib
import hmac
import http.client
import os
import ssl
import subprocess
import time
import urllib.parse

import boto3
import botocore
from botocore.config import Config

ENDPOINT = os.environ["AWS_ENDPOINT_URL"]
REGION = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"
CA = os.environ.get("AWS_CA_BUNDLE")

s3 = boto3.client("s3")
# Signs the payload's SHA-256 instead of streaming aws-chunked with a trailing checksum.
signed = boto3.client("s3", config=Config(s3={"payload_signing_enabled": True}))


def check(name, condition, detail=""):
    if not condition:
        raise AssertionError("%s: %s" % (name, detail))
    print("ok:", name)


def error_of(call, **kwargs):
    try:
        call(**kwargs)
    except botocore.exceptions.ClientError as error:
        return error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, 200


def md5(data):
    return hashlib.md5(data).hexdigest()


# Buckets.
s3.create_bucket(Bucket="artifacts")
check("head_bucket finds a created bucket", s3.head_bucket(Bucket="artifacts")["ResponseMetadata"]["HTTPStatusCode"] == 200)
check("list_buckets lists it", [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["artifacts"])
check("a second create_bucket is BucketAlreadyOwnedByYou", error_of(s3.create_bucket, Bucket="artifacts")[0] == "BucketAlreadyOwnedByYou")
check("an invalid bucket name is InvalidBucketName", error_of(s3.create_bucket, Bucket="Bad_Name")[0] == "InvalidBucketName")
check("a missing bucket is NoSuchBucket", error_of(s3.list_objects_v2, Bucket="nope-nope")[0] == "NoSuchBucket")

# PutObject in the modes botocore uses: aws-chunked with a trailing CRC32 (HTTPS default) and a signed payload.
body = os.urandom(300_000)
put = s3.put_object(Bucket="artifacts", Key="dir/bundle.zip", Body=body)
check("aws-chunked PutObject answers the MD5 ETag", put["ETag"] == '"%s"' % md5(body), put["ETag"])
got = s3.get_object(Bucket="artifacts", Key="dir/bundle.zip")
check("GetObject returns the bytes", got["Body"].read() == body)
check("GetObject has the ETag and length", got["ETag"] == put["ETag"] and got["ContentLength"] == len(body))
put = signed.put_object(Bucket="artifacts", Key="dir/signed.bin", Body=b"signed payload", Metadata={"team": "ml"})
check("a signed-payload PutObject is stored", put["ETag"] == '"%s"' % md5(b"signed payload"))
head = s3.head_object(Bucket="artifacts", Key="dir/signed.bin")
check("HeadObject returns size and user metadata", head["ContentLength"] == 14 and head["Metadata"] == {"team": "ml"}, head)
check("a missing key is NoSuchKey", error_of(s3.get_object, Bucket="artifacts", Key="none")[0] == "NoSuchKey")
check("HeadObject of a missing key is 404", error_of(s3.head_object, Bucket="artifacts", Key="none")[1] == 404)
s3.put_object(Bucket="artifacts", Key="empty", Body=b"")
check("an empty object reads back empty", s3.get_object(Bucket="artifacts", Key="empty")["Body"].read() == b"")
odd = "odd key/with spaces+plus&amp;ünïcödé?.txt"
s3.put_object(Bucket="artifacts", Key=odd, Body=b"odd")
check("a key with spaces, plus, ampersand and non-ASCII round-trips", s3.get_object(Bucket="artifacts", Key=odd)["Body"].read() == b"odd")

# Ranged and conditional GETs.
ranged = s3.get_object(Bucket="artifacts", Key="dir/bundle.zip", Range="bytes=100-199")
check("a ranged GET returns 206 and the bytes", ranged["ResponseMetadata"]["HTTPStatusCode"] == 206 and ranged["Body"].read() == body[100:200])
check("Content-Range names the range", ranged["ContentRange"] == "bytes 100-199/%d" % len(body))
suffix = s3.get_object(Bucket="artifacts", Key="dir/bundle.zip", Range="bytes=-10")["Body"].read()
check("a suffix range returns the last bytes", suffix == body[-10:])
check("a range past the end is InvalidRange", error_of(s3.get_object, Bucket="artifacts", Key="dir/bundle.zip", Range="bytes=999999999-")[0] == "InvalidRange")
etag = md5(body)
check("If-Match with the ETag succeeds", s3.get_object(Bucket="artifacts", Key="dir/bundle.zip", IfMatch=etag)["ContentLength"] == len(body))
check("If-Match with another ETag is PreconditionFailed", error_of(s3.get_object, Bucket="artifacts", Key="dir/bundle.zip", IfMatch="0" * 32)[0] == "PreconditionFailed")
check("If-None-Match with the ETag is 304", error_of(s3.get_object, Bucket="artifacts", Key="dir/bundle.zip", IfNoneMatch=etag)[1] == 304)

# Listing: prefix, delimiter, pagination.
for i in range(25):
    s3.put_object(Bucket="artifacts", Key="many/%03d" % i, Body=b"x")
keys = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="artifacts", Prefix="many/", PaginationConfig={"PageSize": 7}):
    keys.extend(o["Key"] for o in page.get("Contents", []))
check("list_objects_v2 pages through every key once", keys == ["many/%03d" % i for i in range(25)], keys[:3])
top = s3.list_objects_v2(Bucket="artifacts", Delimiter="/")
check("a delimiter groups common prefixes", [p["Prefix"] for p in top["CommonPrefixes"]] == ["dir/", "many/", "odd key/"], top.get("CommonPrefixes"))
check("and lists the keys outside them", [o["Key"] for o in top["Contents"]] == ["empty"])

# Multipart upload: parts of 5 MiB and a short last one; ETag is md5 of part md5s, then -n.
parts_data = [os.urandom(5 << 20), os.urandom(5 << 20), os.urandom(1000)]
upload = s3.create_multipart_upload(Bucket="artifacts", Key="big.bin")["UploadId"]
parts = []
for number, data in enumerate(parts_data, start=1):
    part = s3.upload_part(Bucket="artifacts", Key="big.bin", UploadId=upload, PartNumber=number, Body=data)
    parts.append({"PartNumber": number, "ETag": part["ETag"]})
listed = s3.list_parts(Bucket="artifacts", Key="big.bin", UploadId=upload)["Parts"]
check("list_parts lists the uploaded parts", [p["PartNumber"] for p in listed] == [1, 2, 3])
check("list_multipart_uploads lists the upload", [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="artifacts").get("Uploads", [])] == [upload])
done = s3.complete_multipart_upload(Bucket="artifacts", Key="big.bin", UploadId=upload, MultipartUpload={"Parts": parts})
expected = hashlib.md5(b"".join(hashlib.md5(d).digest() for d in parts_data)).hexdigest() + "-3"
check("the multipart ETag is the MD5 of the part MD5s and the part count", done["ETag"] == '"%s"' % expected, done["ETag"])
check("the assembled object reads back", s3.get_object(Bucket="artifacts", Key="big.bin")["Body"].read() == b"".join(parts_data))
small = s3.create_multipart_upload(Bucket="artifacts", Key="small.bin")["UploadId"]
p1 = s3.upload_part(Bucket="artifacts", Key="small.bin", UploadId=small, PartNumber=1, Body=b"a" * 100)
p2 = s3.upload_part(Bucket="artifacts", Key="small.bin", UploadId=small, PartNumber=2, Body=b"b" * 100)
code = error_of(
    s3.complete_multipart_upload, Bucket="artifacts", Key="small.bin", UploadId=small,
    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]},
)[0]
check("a part under 5 MiB that is not the last is EntityTooSmall", code == "EntityTooSmall", code)
s3.abort_multipart_upload(Bucket="artifacts", Key="small.bin", UploadId=small)
check("an aborted upload is NoSuchUpload", error_of(s3.list_parts, Bucket="artifacts", Key="small.bin", UploadId=small)[0] == "NoSuchUpload")

# CopyObject and DeleteObjects.
copied = s3.copy_object(Bucket="artifacts", Key="copy.zip", CopySource={"Bucket": "artifacts", "Key": "dir/bundle.zip"})
check("copy_object keeps the ETag", copied["CopyObjectResult"]["ETag"] == '"%s"' % etag)
check("the copy reads back", s3.get_object(Bucket="artifacts", Key="copy.zip")["Body"].read() == body)
deleted = s3.delete_objects(Bucket="artifacts", Delete={"Objects": [{"Key": "many/%03d" % i} for i in range(25)]})
check("delete_objects deletes every key", len(deleted["Deleted"]) == 25 and not deleted.get("Errors"))
check("nothing is left under the prefix", s3.list_objects_v2(Bucket="artifacts", Prefix="many/")["KeyCount"] == 0)

# Versioning.
s3.create_bucket(Bucket="versioned")
s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
check("get_bucket_versioning says Enabled", s3.get_bucket_versioning(Bucket="versioned")["Status"] == "Enabled")
v1 = s3.put_object(Bucket="versioned", Key="model.tar", Body=b"one")["VersionId"]
v2 = s3.put_object(Bucket="versioned", Key="model.tar", Body=b"two")["VersionId"]
check("each put of a versioned bucket returns a new version id", v1 and v2 and v1 != v2)
check("the latest version is current", s3.get_object(Bucket="versioned", Key="model.tar")["Body"].read() == b"two")
check("an older version reads by id", s3.get_object(Bucket="versioned", Key="model.tar", VersionId=v1)["Body"].read() == b"one")
marker = s3.delete_object(Bucket="versioned", Key="model.tar")
check("a delete leaves a delete marker", marker.get("DeleteMarker") is True)
check("the key is gone after the marker", error_of(s3.get_object, Bucket="versioned", Key="model.tar")[0] == "NoSuchKey")
check("old versions survive the marker", s3.get_object(Bucket="versioned", Key="model.tar", VersionId=v2)["Body"].read() == b"two")

# Presigned URLs with curl: SigV4 query signatures, and the older form boto3 and `aws s3 presign` make by default.
v4 = boto3.client("s3", config=Config(signature_version="s3v4"))
plain_curl = ["curl", "-sS"] + (["--cacert", CA] if CA else [])
curl = plain_curl + ["--fail"]
for name, client in [("SigV4", v4), ("default", s3)]:
    url = client.generate_presigned_url("get_object", Params={"Bucket": "artifacts", "Key": "dir/signed.bin"}, ExpiresIn=300)
    fetched = subprocess.run(curl + [url], capture_output=True)
    check("curl downloads a %s presigned GET URL" % name, fetched.returncode == 0 and fetched.stdout == b"signed payload", fetched.stderr)
    tampered = url.replace("dir/signed.bin", "dir/bundle.zip")
    refused = subprocess.run(plain_curl + ["-o", "/dev/null", "-w", "%{http_code}", tampered], capture_output=True)
    check("a %s presigned URL used for another key is refused" % name, refused.stdout == b"403", refused.stdout)
cli = subprocess.run(["aws", "s3", "presign", "s3://artifacts/dir/signed.bin"], capture_output=True, text=True)
fetched = subprocess.run(curl + [cli.stdout.strip()], capture_output=True)
check("curl downloads what `aws s3 presign` prints", fetched.stdout == b"signed payload", cli.stderr + fetched.stderr.decode())
expired = v4.generate_presigned_url("get_object", Params={"Bucket": "artifacts", "Key": "dir/signed.bin"}, ExpiresIn=1)
time.sleep(2)
refused = subprocess.run(plain_curl + ["-w", "%{http_code}", expired], capture_output=True)
check("an expired presigned URL is AccessDenied", refused.stdout.endswith(b"403") and b"expired" in refused.stdout, refused.stdout)
put_url = v4.generate_presigned_url("put_object", Params={"Bucket": "artifacts", "Key": "presigned-put"}, ExpiresIn=300)
uploaded = subprocess.run(curl + ["-X", "PUT", "--data-binary", "via curl", put_url], capture_output=True)
check("curl uploads to a presigned PUT URL", uploaded.returncode == 0, uploaded.stderr)
check("the presigned upload reads back", s3.get_object(Bucket="artifacts", Key="presigned-put")["Body"].read() == b"via curl")


# A hand-signed STREAMING-AWS4-HMAC-SHA256-PAYLOAD upload (the signed-chunk mode of other SDKs).
def hmac_sha256(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def streaming_put(key, chunks, access_key, secret, tamper=False):
    parsed = urllib.parse.urlparse(ENDPOINT)
    host = parsed.netloc
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = "%s/%s/s3/aws4_request" % (day, REGION)
    path = "/artifacts/" + urllib.parse.quote(key)
    total = sum(len(c) for c in chunks)
    headers = {
        "host": host,
        "content-encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "x-amz-date": stamp,
        "x-amz-decoded-content-length": str(total),
    }
    names = sorted(headers)
    canonical = "\n".join(
        ["PUT", path, "", "".join("%s:%s\n" % (n, headers[n]) for n in names), ";".join(names), headers["x-amz-content-sha256"]]
    )
    string_to_sign = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (stamp, scope, hashlib.sha256(canonical.encode()).hexdigest())
    signing_key = hmac_sha256(hmac_sha256(hmac_sha256(hmac_sha256(("AWS4" + secret).encode(), day), REGION), "s3"), "aws4_request")
    previous = hmac.new(signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        access_key, scope, ";".join(names), previous)
    encoded = b""
    empty = hashlib.sha256(b"").hexdigest()
    for chunk in chunks + [b""]:
        to_sign = "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n%s\n%s" % (stamp, scope, previous, empty, hashlib.sha256(chunk).hexdigest())
        previous = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
        sent = chunk[:-1] + b"X" if tamper and chunk else chunk
        encoded += b"%x;chunk-signature=%s\r\n" % (len(chunk), previous.encode()) + sent + b"\r\n"
    headers["content-length"] = str(len(encoded))
    context = ssl.create_default_context(cafile=CA) if parsed.scheme == "https" else None
    connection = (
        http.client.HTTPSConnection(host, context=context) if context else http.client.HTTPConnection(host)
    )
    connection.request("PUT", path, body=encoded, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


session = boto3.session.Session()
credentials = session.get_credentials()
status, _ = streaming_put("chunked.bin", [b"a" * 70000, b"b" * 70000, b"c" * 10], credentials.access_key, credentials.secret_key)
check("a signed-chunk upload is accepted", status == 200, status)
check("and reads back decoded", s3.get_object(Bucket="artifacts", Key="chunked.bin")["Body"].read() == b"a" * 70000 + b"b" * 70000 + b"c" * 10)
status, reply = streaming_put("forged.bin", [b"a" * 1000, b"b" * 10], credentials.access_key, credentials.secret_key, tamper=True)
check("a chunk altered in transit is SignatureDoesNotMatch", status == 403 and b"SignatureDoesNotMatch" in reply, reply)
check("and the forged object does not exist", error_of(s3.head_object, Bucket="artifacts", Key="forged.bin")[1] == 404)

# Refusals: a wrong secret, an agent key writing.
wrong = boto3.client("s3", aws_access_key_id=credentials.access_key, aws_secret_access_key="x" * 40)
check("a wrong secret is SignatureDoesNotMatch", error_of(wrong.list_buckets)[0] == "SignatureDoesNotMatch")
check("an unknown key is InvalidAccessKeyId", error_of(boto3.client("s3", aws_access_key_id="AKIAUNKNOWN000000000", aws_secret_access_key="x" * 40).list_buckets)[0] == "InvalidAccessKeyId")
agent = boto3.client(
    "s3", aws_access_key_id=os.environ["SLIPWAY_AGENT_KEY_ID"], aws_secret_access_key=os.environ["SLIPWAY_AGENT_SECRET"]
)
refused = error_of(agent.get_object, Bucket="artifacts", Key="dir/signed.bin")
check("an agent key reads no object its host is not deploying", refused == ("AccessDenied", 403), refused)
check("an agent key may not write", error_of(agent.put_object, Bucket="artifacts", Key="agent", Body=b"x")[0] == "AccessDenied")
check("an agent key may not delete", error_of(agent.delete_object, Bucket="artifacts", Key="dir/signed.bin")[0] == "AccessDenied")

# Deleting.
check("a bucket with objects is BucketNotEmpty", error_of(s3.delete_bucket, Bucket="artifacts")[0] == "BucketNotEmpty")
s3.create_bucket(Bucket="scratch")
s3.delete_bucket(Bucket="scratch")
check("an empty bucket can be deleted", error_of(s3.head_bucket, Bucket="scratch")[1] == 404)

print("artifact store checks passed")
