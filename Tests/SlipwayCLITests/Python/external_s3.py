"""A revision in an external S3-compatible endpoint: a second Slipway server (plain HTTP) plays the external S3, the
server under test is started with --external-s3 pointing at it, and a deployment of a revision stored there is
created, checked (eTag) and handed to an agent. Needs SLIPWAY_BIN."""

import configparser
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import zipfile

import boto3
import botocore.exceptions

from scripted_agent import ScriptedAgent

BIN = os.environ["SLIPWAY_BIN"]
ACCOUNT = "000000000000"


def start_server(arguments, environment=None):
    """Starts `slipway server` and returns (process, banner text) once it has printed where it listens."""
    process = subprocess.Popen([BIN, "server", *arguments, "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=environment)
    banner = ""
    deadline = time.time() + 30
    while time.time() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        banner += line
        if "Then try:" in banner or "Slipway is serving" in banner:
            break
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    return process, banner


def admin_key(data_dir):
    output = subprocess.run([BIN, "keys", "create", "--role", "admin", "--json", "--data-dir", data_dir],
                            capture_output=True, text=True, check=True).stdout
    key = json.loads(output)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def main():
    work = tempfile.mkdtemp(prefix="slipway-external-s3-")
    processes = []
    try:
        # The external S3: a plain-HTTP Slipway and an admin key of its own.
        external_dir = os.path.join(work, "external")
        external, banner = start_server(["--plain-http", "--data-dir", external_dir])
        processes.append(external)
        external_key = admin_key(external_dir)
        external_url = re.search(r"http://127\.0\.0\.1:\d+", banner).group(0)
        s3 = boto3.client("s3", endpoint_url=external_url, region_name="us-east-1",
                          aws_access_key_id=external_key[0], aws_secret_access_key=external_key[1])
        s3.create_bucket(Bucket="team-releases")
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as bundle:
            bundle.writestr("appspec.yml", "version: 0.0\nos: linux\n")
        etag = s3.put_object(Bucket="team-releases", Key="shop/v1.zip", Body=archive.getvalue())["ETag"].strip('"')

        # The server under test, reading that endpoint for every bucket it does not host.
        environment = dict(os.environ, SLIPWAY_S3_ACCESS_KEY_ID=external_key[0],
                           SLIPWAY_S3_SECRET_ACCESS_KEY=external_key[1])
        server_dir = os.path.join(work, "server")
        server, banner = start_server(["--dev", "--data-dir", server_dir, "--external-s3", external_url],
                                      environment)
        processes.append(server)
        endpoint = re.search(r"export AWS_ENDPOINT_URL=(\S+)", banner).group(1)
        credentials = configparser.ConfigParser()
        credentials.read(os.path.join(server_dir, "aws", "credentials"))
        key_id = credentials["slipway"]["aws_access_key_id"]
        secret = credentials["slipway"]["aws_secret_access_key"]
        ca_bundle = os.path.join(server_dir, "tls", "ca.pem")
        codedeploy = boto3.client("codedeploy", endpoint_url=endpoint, region_name="us-east-1",
                                  aws_access_key_id=key_id, aws_secret_access_key=secret, verify=ca_bundle)

        codedeploy.create_application(applicationName="shop")
        host = f"arn:aws:iam::{ACCOUNT}:user/web-1"
        codedeploy.register_on_premises_instance(instanceName="web-1", iamUserArn=host)
        codedeploy.add_tags_to_on_premises_instances(instanceNames=["web-1"], tags=[{"Key": "env", "Value": "prod"}])
        codedeploy.create_deployment_group(
            applicationName="shop", deploymentGroupName="prod", serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/r",
            onPremisesInstanceTagFilters=[{"Key": "env", "Value": "prod", "Type": "KEY_AND_VALUE"}])

        def revision(key, etag=None):
            location = {"bucket": "team-releases", "key": key, "bundleType": "zip"}
            if etag:
                location["eTag"] = etag
            return {"revisionType": "S3", "s3Location": location}

        for key, wrong_etag, code in [("shop/none.zip", None, "RevisionDoesNotExistException"),
                                      ("shop/v1.zip", "0" * 32, "InvalidRevisionException")]:
            try:
                codedeploy.create_deployment(applicationName="shop", deploymentGroupName="prod",
                                             revision=revision(key, wrong_etag))
                raise AssertionError(f"{key} with eTag {wrong_etag} was accepted")
            except botocore.exceptions.ClientError as error:
                assert error.response["Error"]["Code"] == code, error

        deployment = codedeploy.create_deployment(
            applicationName="shop", deploymentGroupName="prod", revision=revision("shop/v1.zip"))["deploymentId"]
        agent = ScriptedAgent(host, key_id, secret, endpoint=endpoint, ca_bundle=ca_bundle)
        command = agent.poll()
        _, _, spec = agent.specification(command)
        s3_revision = spec["Revision"]["S3Revision"]
        assert s3_revision["Bucket"] == "team-releases" and s3_revision["ETag"] == etag, spec
        print("external S3 checks passed")
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
