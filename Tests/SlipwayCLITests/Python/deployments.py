"""In-place deployments through boto3 and scripted agents speaking the command protocol.

Usage: deployments.py lifecycle            success, isolation, failure with rollback, duplicate reports, stop, timeout
       deployments.py restart-before STATE  start a deployment and leave a command running, state saved to STATE
       deployments.py restart-after STATE   after the server was killed and restarted: finish it
       deployments.py held-poll             a poll held while the server shuts down

Needs the dev profile in the environment (AWS_*), SLIPWAY_BIN and SLIPWAY_DATA_DIR (for agent keys), and a server
started with a short --pickup-timeout (8 s) and --poll-hold (1 s)."""

import io
import json
import os
import subprocess
import sys
import time
import zipfile

import boto3
import botocore.exceptions

from scripted_agent import CommandError, ScriptedAgent

ACCOUNT = "000000000000"
IN_PLACE = ["ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall", "ApplicationStart",
            "ValidateService"]

codedeploy = boto3.client("codedeploy")
s3 = boto3.client("s3")


def expect_error(code, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except botocore.exceptions.ClientError as error:
        actual = error.response["Error"]["Code"]
        assert actual == code, f"expected {code}, got {actual}: {error}"
        return error.response["Error"]["Message"]
    raise AssertionError(f"expected {code}, the call succeeded")


def aws(*arguments):
    """Runs the AWS CLI with the same environment and returns its JSON output."""
    result = subprocess.run(["aws", *arguments, "--output", "json"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"aws {' '.join(arguments)} failed: {result.stderr}"
    return json.loads(result.stdout) if result.stdout.strip() else {}


def bundle(version):
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("appspec.yml", "version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: /srv\n")
        archive.writestr("app/VERSION", version)
    return data.getvalue()


def upload(key, version):
    answer = s3.put_object(Bucket="releases", Key=key, Body=bundle(version))
    return {"revisionType": "S3", "s3Location": {
        "bucket": "releases", "key": key, "bundleType": "zip", "eTag": answer["ETag"].strip('"')}}


def agent_for(instance):
    """An agent key bound to the instance, made with `slipway keys create --role agent`."""
    output = subprocess.run(
        [os.environ["SLIPWAY_BIN"], "keys", "create", "--role", "agent", "--instance-name", instance, "--json",
         "--data-dir", os.environ["SLIPWAY_DATA_DIR"]], capture_output=True, text=True, check=True).stdout
    key = json.loads(output)["AccessKey"]
    return ScriptedAgent(f"arn:aws:iam::{ACCOUNT}:user/{instance}", key["AccessKeyId"], key["SecretAccessKey"])


def set_up(group, hosts, tag, rollback_events=("DEPLOYMENT_FAILURE",)):
    for host in hosts:
        codedeploy.register_on_premises_instance(instanceName=host, iamUserArn=f"arn:aws:iam::{ACCOUNT}:user/{host}")
    codedeploy.add_tags_to_on_premises_instances(instanceNames=hosts, tags=[{"Key": "fleet", "Value": tag}])
    codedeploy.create_deployment_group(
        applicationName="shop", deploymentGroupName=group, serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/CodeDeploy",
        deploymentConfigName="CodeDeployDefault.OneAtATime",
        onPremisesInstanceTagFilters=[{"Key": "fleet", "Value": tag, "Type": "KEY_AND_VALUE"}],
        autoRollbackConfiguration={"enabled": bool(rollback_events), "events": list(rollback_events)})
    return {host: agent_for(host) for host in hosts}


def run_host(agent, deployment, fail_on=()):
    """Runs commands for one host until its lifecycle ends (all events, or the first failure)."""
    names = []
    while True:
        ran = agent.run_command(fail_on=fail_on)
        assert ran is not None, f"{agent.host} got no command after {names}"
        name, spec_deployment = ran
        assert spec_deployment == deployment, f"{agent.host} ran {name} of {spec_deployment}, not {deployment}"
        names.append(name)
        if name in fail_on or name == IN_PLACE[-1]:
            return names


def wait_for(deployment, statuses=("Succeeded", "Failed", "Stopped"), seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        info = codedeploy.get_deployment(deploymentId=deployment)["deploymentInfo"]
        if info["status"] in statuses:
            return info
        time.sleep(0.2)
    raise AssertionError(f"{deployment} is still {info['status']} after {seconds} s")


def targets(deployment):
    ids = codedeploy.list_deployment_targets(deploymentId=deployment)["targetIds"]
    answer = codedeploy.batch_get_deployment_targets(deploymentId=deployment, targetIds=ids)
    return {t["instanceTarget"]["targetId"]: t["instanceTarget"] for t in answer["deploymentTargets"]}


def lifecycle():
    s3.create_bucket(Bucket="releases")
    codedeploy.create_application(applicationName="shop")
    agents = set_up("prod", ["web-1", "web-2", "web-3"], "prod")
    v1 = upload("shop/v1.zip", "v1")

    # A revision must exist in S3 as named.
    missing = {"revisionType": "S3", "s3Location": {"bucket": "releases", "key": "shop/none.zip", "bundleType": "zip"}}
    message = expect_error("RevisionDoesNotExistException", codedeploy.create_deployment,
                           applicationName="shop", deploymentGroupName="prod", revision=missing)
    assert "s3://releases/shop/none.zip" in message, message
    stale = {"revisionType": "S3", "s3Location": dict(v1["s3Location"], eTag="0123456789abcdef0123456789abcdef")}
    expect_error("InvalidRevisionException", codedeploy.create_deployment,
                 applicationName="shop", deploymentGroupName="prod", revision=stale)

    # 1. OneAtATime to three hosts: one host at a time, every event in order, the signed specification.
    location = v1["s3Location"]
    first = aws("deploy", "create-deployment", "--application-name", "shop", "--deployment-group-name", "prod",
                "--description", "first release", "--s3-location",
                f"bucket={location['bucket']},key={location['key']},bundleType=zip,eTag={location['eTag']}")[
        "deploymentId"]
    assert first.startswith("d-") and len(first) == 11 and first[2:].isalnum() and first[2:].isupper(), first
    info = codedeploy.get_deployment(deploymentId=first)["deploymentInfo"]
    assert info["status"] == "InProgress" and info["creator"] == "user", info
    assert info["deploymentOverview"]["Pending"] == 2 and info["deploymentOverview"]["InProgress"] == 1, info
    message = expect_error("DeploymentLimitExceededException", codedeploy.create_deployment,
                           applicationName="shop", deploymentGroupName="prod", revision=v1)
    assert message == f"The Deployment Group 'prod' already has an active Deployment '{first}'", message

    command = agents["web-1"].poll()
    answer, envelope, spec = agents["web-1"].specification(command)
    assert answer["DeploymentSystem"] == "CodeDeploy" and envelope["Format"] == "PKCS7/JSON", answer
    assert spec["DeploymentId"] == first and spec["ApplicationName"] == "shop", spec
    assert spec["DeploymentGroupName"] == "prod" and spec["DeploymentCreator"] == "user", spec
    assert spec["Revision"]["RevisionType"] == "S3", spec
    assert spec["Revision"]["S3Revision"]["Key"] == "shop/v1.zip", spec
    assert spec["Revision"]["S3Revision"]["ETag"] == v1["s3Location"]["eTag"], spec
    assert "AllPossibleLifecycleEvents" not in spec, spec
    assert command["CommandName"] == "ApplicationStop", command
    assert agents["web-2"].poll() is None, "OneAtATime offered a second host a command"
    assert agents["web-1"].acknowledge(command) == "InProgress"
    agents["web-1"].complete(command)
    assert ["ApplicationStop"] + run_host(agents["web-1"], first) == IN_PLACE

    # An agent key acts only for its own host.
    try:
        agents["web-2"].call("PollHostCommand", {"HostIdentifier": agents["web-1"].host})
        raise AssertionError("web-2's key polled for web-1")
    except CommandError as error:
        assert error.status == 403 and error.error_type == "AccessDeniedException", error

    assert run_host(agents["web-2"], first) == IN_PLACE
    assert run_host(agents["web-3"], first) == IN_PLACE
    waiter = codedeploy.get_waiter("deployment_successful")
    waiter.wait(deploymentId=first, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    info = codedeploy.get_deployment(deploymentId=first)["deploymentInfo"]
    assert info["deploymentOverview"]["Succeeded"] == 3 and "completeTime" in info, info
    for target in targets(first).values():
        assert target["status"] == "Succeeded", target
        assert [e["lifecycleEventName"] for e in target["lifecycleEvents"]] == IN_PLACE, target
        assert all(e["status"] == "Succeeded" for e in target["lifecycleEvents"]), target
        assert target["lifecycleEvents"][0]["diagnostics"]["errorCode"] == "Success", target
    group = codedeploy.get_deployment_group(applicationName="shop", deploymentGroupName="prod")["deploymentGroupInfo"]
    assert group["lastSuccessfulDeployment"]["deploymentId"] == first, group
    assert group["targetRevision"]["s3Location"]["key"] == "shop/v1.zip", group
    # The AWS CLI sees the same: its waiter, get-deployment and the target listings.
    aws("deploy", "wait", "deployment-successful", "--deployment-id", first)
    assert aws("deploy", "get-deployment", "--deployment-id", first)["deploymentInfo"]["status"] == "Succeeded"
    listed_targets = aws("deploy", "list-deployment-targets", "--deployment-id", first)["targetIds"]
    assert sorted(listed_targets) == ["web-1", "web-2", "web-3"], listed_targets
    described = aws("deploy", "batch-get-deployment-targets", "--deployment-id", first, "--target-ids", "web-2")
    assert described["deploymentTargets"][0]["instanceTarget"]["status"] == "Succeeded", described
    revision = codedeploy.get_application_revision(applicationName="shop", revision=v1)["revisionInfo"]
    assert revision["deploymentGroups"] == ["prod"] and "firstUsedTime" in revision, revision

    # 2. A failing ValidateService: the host fails, the others are skipped, a rollback to v1 runs and succeeds.
    v2 = upload("shop/v2.zip", "v2-broken")
    broken = codedeploy.create_deployment(applicationName="shop", deploymentGroupName="prod", revision=v2)[
        "deploymentId"]
    assert run_host(agents["web-1"], broken, fail_on={"ValidateService"}) == IN_PLACE
    info = wait_for(broken)
    assert info["status"] == "Failed", info
    assert info["errorInformation"]["code"] == "HEALTH_CONSTRAINTS", info
    rollback = info["rollbackInfo"]["rollbackDeploymentId"]
    failed_targets = targets(broken)
    web1 = failed_targets["web-1"]
    assert web1["status"] == "Failed", web1
    validate = web1["lifecycleEvents"][-1]
    assert validate["status"] == "Failed" and validate["diagnostics"]["errorCode"] == "ScriptFailed", validate
    assert "broke" in validate["diagnostics"]["logTail"], validate
    assert failed_targets["web-2"]["status"] == "Skipped" and failed_targets["web-3"]["status"] == "Skipped"
    # Target filters are a map of lists on the wire; both clients send it as a JSON object.
    only_failed = codedeploy.list_deployment_targets(deploymentId=broken, targetFilters={"TargetStatus": ["Failed"]})
    assert only_failed["targetIds"] == ["web-1"], only_failed
    skipped = aws("deploy", "list-deployment-targets", "--deployment-id", broken,
                  "--target-filters", '{"TargetStatus": ["Skipped"]}')["targetIds"]
    assert sorted(skipped) == ["web-2", "web-3"], skipped

    rolled = codedeploy.get_deployment(deploymentId=rollback)["deploymentInfo"]
    assert rolled["creator"] == "codeDeployRollback", rolled
    assert rolled["rollbackInfo"]["rollbackTriggeringDeploymentId"] == broken, rolled
    assert rolled["revision"]["s3Location"]["key"] == "shop/v1.zip", rolled
    for host in ["web-1", "web-2", "web-3"]:
        assert run_host(agents[host], rollback) == IN_PLACE
    assert wait_for(rollback)["status"] == "Succeeded"

    # 3. StopDeployment while a command runs: Pending until it ends, then Stopped, the rest skipped.
    stopped = codedeploy.create_deployment(applicationName="shop", deploymentGroupName="prod", revision=v2,
                                           autoRollbackConfiguration={"enabled": False})["deploymentId"]
    command = agents["web-1"].poll()
    assert agents["web-1"].acknowledge(command) == "InProgress"
    answer = codedeploy.stop_deployment(deploymentId=stopped, autoRollbackEnabled=False)
    assert answer["status"] == "Pending", answer
    agents["web-1"].complete(command)
    info = wait_for(stopped)
    assert info["status"] == "Stopped", info
    assert "rollbackDeploymentId" not in info.get("rollbackInfo", {}), info
    stopped_targets = targets(stopped)
    assert stopped_targets["web-2"]["status"] == "Skipped", stopped_targets
    assert agents["web-1"].poll() is None
    # The secure endpoint's flavour (enable_auth_policy): target prefix CodeDeployCommandService, signing name
    # codedeploy-commands-secure.
    agents["web-1"].secure = True
    assert agents["web-1"].poll() is None
    agents["web-1"].secure = False
    expect_error("DeploymentAlreadyCompletedException", codedeploy.stop_deployment, deploymentId=stopped)

    # 4. A host whose agent never polls fails after the pickup timeout, with CodeDeploy's message.
    set_up("lonely", ["idle-1"], "lonely", rollback_events=())
    lonely = codedeploy.create_deployment(applicationName="shop", deploymentGroupName="lonely", revision=v1)[
        "deploymentId"]
    info = wait_for(lonely, seconds=40)
    assert info["status"] == "Failed", info
    event = targets(lonely)["idle-1"]["lifecycleEvents"][0]
    assert event["status"] == "Failed", event
    assert "CodeDeploy agent was not able to receive the lifecycle event" in event["diagnostics"]["message"], event

    listed = codedeploy.list_deployments(applicationName="shop", deploymentGroupName="prod")["deployments"]
    assert set(listed) == {first, broken, rollback, stopped}, listed
    failed_only = codedeploy.list_deployments(includeOnlyStatuses=["Failed"])["deployments"]
    assert set(failed_only) == {broken, lonely}, failed_only
    failed_in_prod = codedeploy.list_deployments(
        applicationName="shop", deploymentGroupName="prod", includeOnlyStatuses=["Failed"])["deployments"]
    assert failed_in_prod == [broken], failed_in_prod
    expect_error("DeploymentGroupNameRequiredException", codedeploy.list_deployments, applicationName="shop")
    expect_error("DeploymentDoesNotExistException", codedeploy.get_deployment, deploymentId="d-AAAAAAAAA")
    print("deployment checks passed")


def restart_before(state_path):
    s3.create_bucket(Bucket="releases")
    codedeploy.create_application(applicationName="shop")
    agents = set_up("prod", ["web-1", "web-2"], "prod")
    v1 = upload("shop/v1.zip", "v1")
    deployment = codedeploy.create_deployment(applicationName="shop", deploymentGroupName="prod", revision=v1)[
        "deploymentId"]
    agent = agents["web-1"]
    done = [agent.run_command()[0] for _ in range(3)]
    running = agent.poll()
    assert agent.acknowledge(running) == "InProgress"
    with open(state_path, "w") as handle:
        json.dump({"deployment": deployment, "done": done, "running": running, "etag": v1["s3Location"]["eTag"],
                   "keys": {h: [a.credentials.access_key, a.credentials.secret_key] for h, a in agents.items()}},
                  handle)
    print("deployment started")


def restart_after(state_path):
    with open(state_path) as handle:
        state = json.load(handle)
    agents = {host: ScriptedAgent(f"arn:aws:iam::{ACCOUNT}:user/{host}", key, secret)
              for host, (key, secret) in state["keys"].items()}
    deployment, running = state["deployment"], state["running"]
    # The bundle uploaded before the crash is still there.
    head = s3.head_object(Bucket="releases", Key="shop/v1.zip")
    assert head["ETag"].strip('"') == state["etag"], head
    agent = agents["web-1"]
    # The command that was running when the server died is still running: no command is handed out meanwhile.
    assert agent.poll() is None, "a command was handed out while another one was running"
    assert agent.acknowledge(running) == "InProgress"
    agent.complete(running)
    names = state["done"] + [running["CommandName"]] + run_host(agent, deployment)
    assert names == IN_PLACE, f"web-1 ran {names}"
    assert run_host(agents["web-2"], deployment) == IN_PLACE
    info = wait_for(deployment)
    assert info["status"] == "Succeeded", info
    print("deployment resumed")


def held_poll():
    """Polls for a host that has no command, and reports how the held poll ended."""
    codedeploy.list_applications()  # the server answers
    admin = boto3.Session().get_credentials()
    agent = ScriptedAgent(f"arn:aws:iam::{ACCOUNT}:user/nobody", admin.access_key, admin.secret_key)
    started = time.time()
    assert agent.poll() is None
    print(f"poll answered empty after {time.time() - started:.1f} s")


if __name__ == "__main__":
    scenario = sys.argv[1]
    if scenario == "lifecycle":
        lifecycle()
    elif scenario == "restart-before":
        restart_before(sys.argv[2])
    elif scenario == "restart-after":
        restart_after(sys.argv[2])
    elif scenario == "held-poll":
        held_poll()
    else:
        raise SystemExit(f"unknown scenario {scenario}")
