"""A scripted host agent: speaks the CodeDeploy command protocol over HTTP exactly as an agent does (SigV4 with the
signing name codedeploy-commands, JSON 1.1, the agent-version header), but decides each command's outcome from the
test instead of running scripts. Used by the deployment integration tests."""

import json
import os
import ssl
import subprocess
import tempfile
import urllib.error
import urllib.request

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TARGET_PREFIX = "CodeDeployCommandService_v20141006"
SECURE_TARGET_PREFIX = "CodeDeployCommandService"


class CommandError(Exception):
    def __init__(self, status, error_type, message):
        super().__init__(f"{status} {error_type}: {message}")
        self.status = status
        self.error_type = error_type
        self.message = message


class ScriptedAgent:
    """One host's agent, identified by its host identifier (the instance's IAM ARN)."""

    def __init__(self, host_identifier, access_key, secret_key, endpoint=None, region=None, ca_bundle=None,
                 secure=False, version="SCRIPTED_1.0"):
        self.host = host_identifier
        self.credentials = Credentials(access_key, secret_key)
        self.endpoint = (endpoint or os.environ["AWS_ENDPOINT_URL"]).rstrip("/") + "/"
        self.region = region or os.environ.get("AWS_REGION", "us-east-1")
        bundle = ca_bundle or os.environ.get("AWS_CA_BUNDLE")
        self.tls = ssl.create_default_context(cafile=bundle) if bundle else ssl.create_default_context()
        self.secure = secure
        self.version = version

    def call(self, operation, body, timeout=90):
        prefix = SECURE_TARGET_PREFIX if self.secure else TARGET_PREFIX
        service = "codedeploy-commands-secure" if self.secure else "codedeploy-commands"
        request = AWSRequest(
            method="POST", url=self.endpoint, data=json.dumps(body).encode(),
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": f"{prefix}.{operation}",
                "x-amz-codedeploy-agent-version": self.version,
            })
        SigV4Auth(self.credentials, service, self.region).add_auth(request)
        prepared = urllib.request.Request(
            self.endpoint, data=request.body, headers=dict(request.headers.items()), method="POST")
        context = self.tls if self.endpoint.startswith("https:") else None
        try:
            with urllib.request.urlopen(prepared, timeout=timeout, context=context) as response:
                status, content = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, content = error.code, error.read()
        payload = json.loads(content) if content else {}
        if status != 200:
            raise CommandError(status, payload.get("__type", ""), payload.get("message", ""))
        return payload

    def poll(self):
        """The next command for this host, or None after an empty (long) poll."""
        return self.call("PollHostCommand", {"HostIdentifier": self.host}).get("HostCommand")

    def specification(self, command):
        """The deployment specification of a command: the signed envelope and the JSON inside it."""
        answer = self.call("GetDeploymentSpecification", {
            "DeploymentExecutionId": command["DeploymentExecutionId"], "HostIdentifier": self.host})
        envelope = answer["DeploymentSpecification"]["GenericEnvelope"]
        return answer, envelope, verified_content(envelope["Payload"])

    def acknowledge(self, command, noop=False):
        answer = self.call("PutHostCommandAcknowledgement", {
            "HostCommandIdentifier": command["HostCommandIdentifier"],
            "Diagnostics": {"Format": "JSON", "Payload": json.dumps({"IsCommandNoop": noop})}})
        return answer.get("CommandStatus")

    def complete(self, command, succeeded=True, error_code=None, script="", message=None, log=""):
        code = error_code if error_code is not None else (0 if succeeded else 4)
        diagnostics = {
            "error_code": code, "script_name": script,
            "message": message if message is not None else ("Succeeded" if succeeded else "Script failed"),
            "log": log}
        self.call("PutHostCommandComplete", {
            "HostCommandIdentifier": command["HostCommandIdentifier"],
            "CommandStatus": "Succeeded" if succeeded else "Failed",
            "Diagnostics": {"Format": "JSON", "Payload": json.dumps(diagnostics)}})

    def run_command(self, fail_on=(), during=None):
        """Polls one command, fetches its specification, acknowledges and completes it; fails it when its name is in
        fail_on. `during`, when given, is called with the command's name while the command runs (between the
        acknowledgement and the completion). Returns (command name, deployment id) or None when the poll came back
        empty."""
        command = self.poll()
        if command is None:
            return None
        _, _, spec = self.specification(command)
        status = self.acknowledge(command)
        assert status == "InProgress", f"acknowledgement answered {status}"
        name = command["CommandName"]
        if during is not None:
            during(name)
        if name in fail_on:
            self.complete(command, succeeded=False, script=f"scripts/{name}.sh",
                          message=f"Script at specified location: scripts/{name}.sh failed with exit code 1",
                          log=f"[stderr]{name} broke\n")
        else:
            self.complete(command)
        return name, spec["DeploymentId"]


def verified_content(pem):
    """The JSON inside a PKCS7 envelope, after `openssl smime -verify` has checked its signature against the
    certificate it carries (the signer's own, as the stock agent accepts it)."""
    assert pem.startswith("-----BEGIN PKCS7-----"), pem[:40]
    with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as handle:
        handle.write(pem)
        path = handle.name
    try:
        result = subprocess.run(
            ["openssl", "smime", "-verify", "-inform", "PEM", "-in", path, "-noverify"],
            capture_output=True, text=True, check=False)
    finally:
        os.unlink(path)
    assert result.returncode == 0, f"openssl smime -verify failed: {result.stderr}"
    return json.loads(result.stdout)
