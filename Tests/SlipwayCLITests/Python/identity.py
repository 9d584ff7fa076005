"""Identity and access through the AWS CLI and boto3: `aws deploy register` and `deregister`, the key it writes, the
IAM API's answers and errors, and policies that allow and deny.

Run by IdentityIntegrationTests with the dev profile's environment (an admin key, AWS_ENDPOINT_URL, ...) and a server
started with a short --poll-hold (1 s). Each check prints one line; the first failure raises and the script exits
non-zero with the reason.
"""

import io
import json
import os
import stat
import subprocess
import tempfile
import zipfile

import boto3
import botocore.exceptions

from scripted_agent import CommandError, ScriptedAgent

ACCOUNT = "000000000000"
IN_PLACE = ["ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall", "ApplicationStart",
            "ValidateService"]

iam = boto3.client("iam")
codedeploy = boto3.client("codedeploy")
s3 = boto3.client("s3")


def check(name, condition, detail=""):
    if not condition:
        raise AssertionError("%s: %s" % (name, detail))
    print("ok:", name)


def error_of(call, **kwargs):
    """(code, message, HTTP status) of a refused call, or None when it succeeds."""
    try:
        call(**kwargs)
    except botocore.exceptions.ClientError as error:
        return (error.response["Error"]["Code"], error.response["Error"]["Message"],
                error.response["ResponseMetadata"]["HTTPStatusCode"])
    return None


def aws(*arguments, cwd=None):
    result = subprocess.run(["aws", *arguments], capture_output=True, text=True, cwd=cwd, check=False)
    return result


def read_config(path):
    """The flat `key: value` lines of codedeploy.onpremises.yml."""
    values = {}
    with open(path) as handle:
        for line in handle:
            if ":" in line and not line.startswith("---"):
                key, value = line.split(":", 1)
                values[key.strip()] = value.strip()
    return values


def clients_for(key_id, secret):
    session = boto3.session.Session(aws_access_key_id=key_id, aws_secret_access_key=secret)
    return session.client("codedeploy"), session.client("s3"), session.client("iam")


# --- aws deploy register -------------------------------------------------------------------------------------------

workdir = tempfile.mkdtemp(prefix="slipway-register-")
registered = aws("deploy", "register", "--instance-name", "gpu-7", "--tags", "Key=fleet,Value=identity", cwd=workdir)
check("aws deploy register succeeds", registered.returncode == 0 and "ERROR" not in registered.stderr,
      registered.stdout + registered.stderr)
config_path = os.path.join(workdir, "codedeploy.onpremises.yml")
config = read_config(config_path)
host = "arn:aws:iam::%s:user/AWS/CodeDeploy/gpu-7" % ACCOUNT
check("the on-premises file names the user's ARN and region", config.get("iam_user_arn") == host
      and config.get("region") == os.environ["AWS_REGION"], config)
check("the on-premises file is private (0600)", stat.S_IMODE(os.stat(config_path).st_mode) == 0o600)

user = iam.get_user(UserName="gpu-7")["User"]
check("the user exists under /AWS/CodeDeploy/", user["Path"] == "/AWS/CodeDeploy/" and user["Arn"] == host, user)
check("the user id is IAM-shaped", user["UserId"].startswith("AIDA") and len(user["UserId"]) == 20, user)
policy = iam.get_user_policy(UserName="gpu-7", PolicyName="codedeploy-agent")["PolicyDocument"]
check("the register policy reads back decoded", policy["Statement"][0]["Action"] == ["s3:Get*", "s3:List*"], policy)
instance = codedeploy.get_on_premises_instance(instanceName="gpu-7")["instanceInfo"]
check("the instance is registered with the user's ARN and its tags", instance["iamUserArn"] == host
      and instance["tags"] == [{"Key": "fleet", "Value": "identity"}], instance)

# --- the written key: its own host's commands, revisions from S3, nothing else ------------------------------------

agent = ScriptedAgent(host, config["aws_access_key_id"], config["aws_secret_access_key"])
check("the key polls for its own host (an empty poll)", agent.poll() is None)

other_host = "arn:aws:iam::%s:user/other-host" % ACCOUNT
codedeploy.register_on_premises_instance(instanceName="other", iamUserArn=other_host)
try:
    agent.call("PollHostCommand", {"HostIdentifier": other_host})
    raise AssertionError("gpu-7's key polled for another host")
except CommandError as error:
    check("the key cannot read another host's commands", error.status == 403
          and error.error_type == "AccessDeniedException", error)

instance_codedeploy, instance_s3, instance_iam = clients_for(config["aws_access_key_id"],
                                                             config["aws_secret_access_key"])
refused = error_of(instance_codedeploy.create_application, applicationName="sneaky")
check("the key cannot create applications", refused is not None and refused[0] == "AccessDeniedException"
      and "codedeploy:CreateApplication" in refused[1], refused)
check("nothing was created", "sneaky" not in codedeploy.list_applications()["applications"])

s3.create_bucket(Bucket="releases")
archive = io.BytesIO()
with zipfile.ZipFile(archive, "w") as bundle:
    bundle.writestr("appspec.yml", "version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: /srv\n")
    bundle.writestr("app/VERSION", "1")
etag = s3.put_object(Bucket="releases", Key="app.zip", Body=archive.getvalue())["ETag"].strip('"')
refused = error_of(instance_s3.get_object, Bucket="releases", Key="app.zip")
check("the key reads no object while its host runs no deployment of it", refused is not None
      and refused[0] == "AccessDenied" and "--agent-read-prefix" in refused[1], refused)
refused = error_of(instance_s3.put_object, Bucket="releases", Key="planted", Body=b"x")
check("the key cannot write to S3", refused is not None and refused[0] == "AccessDenied"
      and "s3:PutObject" in refused[1], refused)
check("nothing was written", "Contents" not in s3.list_objects_v2(Bucket="releases", Prefix="planted"))
refused = error_of(instance_iam.create_user, UserName="escalate")
check("the key cannot use IAM", refused is not None and refused[0] == "AccessDenied"
      and refused[2] == 403 and "iam:CreateUser" in refused[1], refused)

# A deployment to the registered host, run by the written key.
codedeploy.create_application(applicationName="identity")
codedeploy.create_deployment_group(
    applicationName="identity", deploymentGroupName="hosts", serviceRoleArn="arn:aws:iam::%s:role/r" % ACCOUNT,
    onPremisesInstanceTagFilters=[{"Key": "fleet", "Value": "identity", "Type": "KEY_AND_VALUE"}])
deployment = codedeploy.create_deployment(
    applicationName="identity", deploymentGroupName="hosts",
    revision={"revisionType": "S3", "s3Location": {"bucket": "releases", "key": "app.zip", "bundleType": "zip",
                                                   "eTag": etag}})["deploymentId"]
ran = []
downloaded = []


def download(name):
    if name == "DownloadBundle":
        downloaded.append(instance_s3.get_object(Bucket="releases", Key="app.zip")["Body"].read())
        refused = error_of(instance_s3.get_object, Bucket="releases", Key="planted-elsewhere")
        downloaded.append(refused is not None and refused[0] == "AccessDenied")


while len(ran) < len(IN_PLACE):
    step = agent.run_command(during=download)
    assert step is not None, "gpu-7 got no command after %s" % ran
    ran.append(step[0])
check("the key runs a deployment's lifecycle on its host", ran == IN_PLACE, ran)
check("during DownloadBundle the key reads its revision, and only it", downloaded == [archive.getvalue(), True],
      downloaded[1:])
codedeploy.get_waiter("deployment_successful").wait(deploymentId=deployment,
                                                    WaiterConfig={"Delay": 1, "MaxAttempts": 30})

# --- IAM: shapes and errors ---------------------------------------------------------------------------------------

error = error_of(iam.get_user, UserName="nobody")
check("a missing user is NoSuchEntity (404)", error is not None and error[0] == "NoSuchEntity" and error[2] == 404,
      error)
error = error_of(iam.create_user, UserName="GPU-7")
check("a user name taken in another case is EntityAlreadyExists (409)", error is not None
      and error[0] == "EntityAlreadyExists" and error[2] == 409, error)
iam.create_user(UserName="ci")
first = iam.create_access_key(UserName="ci")["AccessKey"]
second = iam.create_access_key(UserName="ci")["AccessKey"]
error = error_of(iam.create_access_key, UserName="ci")
check("a third key is LimitExceeded (409)", error is not None and error[0] == "LimitExceeded" and error[2] == 409,
      error)
keys = iam.list_access_keys(UserName="ci")["AccessKeyMetadata"]
check("list_access_keys lists both keys without secrets",
      sorted(k["AccessKeyId"] for k in keys) == sorted([first["AccessKeyId"], second["AccessKeyId"]])
      and all("SecretAccessKey" not in k for k in keys), keys)
error = error_of(iam.delete_user, UserName="ci")
check("deleting a user with keys is DeleteConflict (409)", error is not None and error[0] == "DeleteConflict"
      and error[2] == 409, error)
error = error_of(iam.put_user_policy, UserName="ci", PolicyName="p", PolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                                            "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}))
check("an unsupported policy feature is MalformedPolicyDocument with a reason", error is not None
      and error[0] == "MalformedPolicyDocument" and "Condition" in error[1], error)
error = error_of(iam.put_user_policy, UserName="ci", PolicyName="p", PolicyDocument="{not json")
check("a policy that is not JSON is MalformedPolicyDocument", error is not None
      and error[0] == "MalformedPolicyDocument", error)

# A policy with resources and an explicit Deny, for the CI user.
iam.put_user_policy(UserName="ci", PolicyName="deploy-web", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "codedeploy:*",
         "Resource": "arn:aws:codedeploy:*:%s:application:web-*" % ACCOUNT},
        {"Effect": "Allow", "Action": ["codedeploy:List*", "s3:Get*"], "Resource": "*"},
        {"Effect": "Deny", "Action": "codedeploy:DeleteApplication", "Resource": "*"},
    ]}))
ci_codedeploy, ci_s3, _ = clients_for(first["AccessKeyId"], first["SecretAccessKey"])
ci_codedeploy.create_application(applicationName="web-shop")
check("the policy allows its applications", "web-shop" in ci_codedeploy.list_applications()["applications"])
error = error_of(ci_codedeploy.create_application, applicationName="billing")
check("the policy's resource pattern refuses other applications", error is not None
      and error[0] == "AccessDeniedException", error)
error = error_of(ci_codedeploy.delete_application, applicationName="web-shop")
check("an explicit Deny wins over an Allow", error is not None and error[0] == "AccessDeniedException"
      and "explicit deny" in error[1], error)
check("the denied delete changed nothing", "web-shop" in codedeploy.list_applications()["applications"])
error = error_of(ci_s3.put_object, Bucket="releases", Key="ci", Body=b"x")
check("s3:Get* does not allow PutObject", error is not None and error[0] == "AccessDenied", error)

ci_arn = iam.get_user(UserName="ci")["User"]["Arn"]
try:
    ScriptedAgent(ci_arn, first["AccessKeyId"], first["SecretAccessKey"]).poll()
    raise AssertionError("a user that is no registered instance polled")
except CommandError as error:
    check("a user that is no registered instance cannot use the command API", error.status == 403
          and error.error_type == "AccessDeniedException", error)

iam.update_access_key(UserName="ci", AccessKeyId=first["AccessKeyId"], Status="Inactive")
error = error_of(ci_codedeploy.list_applications)
check("an inactive key is refused", error is not None and error[0] == "UnrecognizedClientException", error)

names = ["user-%02d" % i for i in range(7)]
for name in names:
    iam.create_user(UserName=name, Path="/batch/")
listed = []
pages = 0
for page in iam.get_paginator("list_users").paginate(PathPrefix="/batch/", PaginationConfig={"PageSize": 3}):
    pages += 1
    listed.extend(u["UserName"] for u in page["Users"])
check("list_users pages with Marker", listed == names and pages == 3, (listed, pages))

# --- aws deploy deregister -----------------------------------------------------------------------------------------

deregistered = aws("deploy", "deregister", "--instance-name", "gpu-7", cwd=workdir)
check("aws deploy deregister succeeds", deregistered.returncode == 0 and "ERROR" not in deregistered.stderr,
      deregistered.stdout + deregistered.stderr)
error = error_of(iam.get_user, UserName="gpu-7")
check("deregister deleted the user", error is not None and error[0] == "NoSuchEntity", error)
instance = codedeploy.get_on_premises_instance(instanceName="gpu-7")["instanceInfo"]
check("deregister deregistered the instance and removed its tags", "deregisterTime" in instance
      and not instance.get("tags"), instance)
try:
    agent.poll()
    raise AssertionError("the deleted key still polls")
except CommandError as error:
    check("the deleted key is refused", error.status == 403 and error.error_type == "UnrecognizedClientException",
          error)

# Deregistering but keeping the user: its key no longer acts as the host.
kept_dir = tempfile.mkdtemp(prefix="slipway-register-")
registered = aws("deploy", "register", "--instance-name", "gpu-8", cwd=kept_dir)
check("a second host registers", registered.returncode == 0 and "ERROR" not in registered.stderr, registered.stderr)
kept = read_config(os.path.join(kept_dir, "codedeploy.onpremises.yml"))
kept_agent = ScriptedAgent(kept["iam_user_arn"], kept["aws_access_key_id"], kept["aws_secret_access_key"])
check("its key polls", kept_agent.poll() is None)
deregistered = aws("deploy", "deregister", "--instance-name", "gpu-8", "--no-delete-iam-user", cwd=kept_dir)
check("deregister --no-delete-iam-user succeeds", deregistered.returncode == 0, deregistered.stderr)
check("the kept user still exists", iam.get_user(UserName="gpu-8")["User"]["Arn"] == kept["iam_user_arn"])
try:
    kept_agent.poll()
    raise AssertionError("a deregistered host's key still polls")
except CommandError as error:
    check("a deregistered host's key no longer uses the command API", error.status == 403
          and error.error_type == "AccessDeniedException", error)

print("identity checks passed")
