"""Alarms through the AWS CLI and boto3, with scripted agents speaking the command protocol.

Usage: alarms.py cloudwatch     Slipway's CloudWatch API; an alarm set to ALARM stops a deployment and rolls it
                                back; overrideAlarmConfiguration; a bake time, and an alarm during it
       alarms.py poll-failure   the alarm source cannot be read: ignorePollAlarmFailure both ways
       alarms.py prometheus     a real Prometheus scraping a service whose error rate v2 raises: its alert stops the
                                deployment and the rollback brings v1 back (PROMETHEUS_PORT: where the server
                                reads it; with ALERTMANAGER_PORT, the server reads the Alertmanager that
                                Prometheus sends its alerts to)

Needs the dev profile in the environment (AWS_*), SLIPWAY_BIN and SLIPWAY_DATA_DIR (for agent keys), and a server
started with --poll-hold 1 and --alarm-poll-interval 1 (poll-failure: with --prometheus at a closed port)."""

import http.server
import json
import os
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import boto3
from botocore.config import Config

from deployments import (IN_PLACE, ACCOUNT, agent_for, aws, expect_error, run_host, upload, wait_for)

codedeploy = boto3.client("codedeploy")
cloudwatch = boto3.client("cloudwatch")
# Sends what botocore's own checks would refuse, so that the server's are tested.
unchecked = boto3.client("cloudwatch", config=Config(parameter_validation=False))
s3 = boto3.client("s3")


def aws_fails(*arguments):
    """Runs the AWS CLI expecting it to fail; returns its error output."""
    result = subprocess.run(["aws", *arguments], capture_output=True, text=True, check=False)
    assert result.returncode != 0, f"aws {' '.join(arguments)} succeeded: {result.stdout}"
    return result.stderr


def group(name, hosts, alarms="", tags=(), rollback="DEPLOYMENT_FAILURE,DEPLOYMENT_STOP_ON_ALARM"):
    """Registers `hosts`, tags them with the group's name and creates the group with the AWS CLI."""
    for host in hosts:
        codedeploy.register_on_premises_instance(instanceName=host, iamUserArn=f"arn:aws:iam::{ACCOUNT}:user/{host}")
    codedeploy.add_tags_to_on_premises_instances(instanceNames=hosts, tags=[{"Key": "fleet", "Value": name}])
    arguments = ["deploy", "create-deployment-group", "--application-name", "shop", "--deployment-group-name", name,
                 "--service-role-arn", f"arn:aws:iam::{ACCOUNT}:role/CodeDeploy",
                 "--deployment-config-name", "CodeDeployDefault.OneAtATime",
                 "--on-premises-instance-tag-filters", f"Key=fleet,Value={name},Type=KEY_AND_VALUE",
                 "--auto-rollback-configuration", f"enabled=true,events={rollback}"]
    if alarms:
        arguments += ["--alarm-configuration", alarms]
    if tags:
        arguments += ["--tags", *tags]
    aws(*arguments)
    return {host: agent_for(host) for host in hosts}


def deploy(group_name, revision, *extra):
    location = revision["s3Location"]
    return aws("deploy", "create-deployment", "--application-name", "shop", "--deployment-group-name", group_name,
               "--s3-location", f"bucket={location['bucket']},key={location['key']},bundleType=zip,"
               f"eTag={location['eTag']}", *extra)["deploymentId"]


def set_state(alarm, state):
    aws("cloudwatch", "set-alarm-state", "--alarm-name", alarm, "--state-value", state, "--state-reason",
        f"set to {state} by the alarm test", "--state-reason-data", json.dumps({"by": "alarms.py"}))


def cloudwatch_api():
    # Definitions and states through the AWS CLI.
    aws("cloudwatch", "put-metric-alarm", "--alarm-name", "model-errors", "--alarm-description", "5xx of the model",
        "--metric-name", "Errors", "--namespace", "Shop", "--statistic", "Sum", "--period", "60",
        "--evaluation-periods", "1", "--threshold", "1", "--comparison-operator", "GreaterThanOrEqualToThreshold")
    described = aws("cloudwatch", "describe-alarms", "--alarm-names", "model-errors")["MetricAlarms"]
    assert len(described) == 1, described
    alarm = described[0]
    assert alarm["StateValue"] == "INSUFFICIENT_DATA" and alarm["Threshold"] == 1.0, alarm
    assert alarm["AlarmArn"] == f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:model-errors", alarm
    set_state("model-errors", "OK")
    alarm = cloudwatch.describe_alarms(AlarmNames=["model-errors"])["MetricAlarms"][0]
    assert alarm["StateValue"] == "OK" and alarm["StateReason"] == "set to OK by the alarm test", alarm
    assert json.loads(alarm["StateReasonData"]) == {"by": "alarms.py"}, alarm
    assert alarm["AlarmDescription"] == "5xx of the model" and alarm["Period"] == 60, alarm
    for index in range(3):
        cloudwatch.put_metric_alarm(AlarmName=f"spare-{index}", EvaluationPeriods=1,
                                    ComparisonOperator="GreaterThanThreshold")
    page = cloudwatch.describe_alarms(AlarmNamePrefix="spare-", MaxRecords=2)
    assert [a["AlarmName"] for a in page["MetricAlarms"]] == ["spare-0", "spare-1"], page
    rest = cloudwatch.describe_alarms(AlarmNamePrefix="spare-", MaxRecords=2, NextToken=page["NextToken"])
    assert [a["AlarmName"] for a in rest["MetricAlarms"]] == ["spare-2"] and "NextToken" not in rest, rest
    assert [a["AlarmName"] for a in cloudwatch.describe_alarms(StateValue="OK")["MetricAlarms"]] == ["model-errors"]
    cloudwatch.delete_alarms(AlarmNames=["spare-0", "spare-1", "spare-2"])
    assert [a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]] == ["model-errors"]

    # Hostile and wrong input is refused with CloudWatch's errors.
    assert "ResourceNotFound" in aws_fails("cloudwatch", "set-alarm-state", "--alarm-name", "nope",
                                           "--state-value", "ALARM", "--state-reason", "x")
    expect_error("InvalidParameterValue", unchecked.set_alarm_state, AlarmName="model-errors", StateValue="BROKEN",
                 StateReason="x")
    expect_error("InvalidFormat", unchecked.set_alarm_state, AlarmName="model-errors", StateValue="OK",
                 StateReason="x", StateReasonData="{not json")
    expect_error("InvalidParameterValue", unchecked.put_metric_alarm, AlarmName="bad\u0000name",
                 EvaluationPeriods=1, ComparisonOperator="GreaterThanThreshold")
    expect_error("InvalidParameterValue", unchecked.put_metric_alarm, AlarmName="x" * 256,
                 EvaluationPeriods=1, ComparisonOperator="GreaterThanThreshold")
    expect_error("InvalidParameterValue", unchecked.put_metric_alarm, AlarmName="neg", EvaluationPeriods=-1,
                 ComparisonOperator="GreaterThanThreshold")
    expect_error("InvalidParameterValue", unchecked.put_metric_alarm, AlarmName="huge",
                 EvaluationPeriods=2 ** 62, ComparisonOperator="GreaterThanThreshold")
    expect_error("InvalidParameterValue", unchecked.put_metric_alarm, AlarmName="op", EvaluationPeriods=1,
                 ComparisonOperator="Sideways")
    expect_error("ResourceNotFound", unchecked.delete_alarms, AlarmNames=["model-errors", "nope"])
    expect_error("InvalidParameterValue", unchecked.put_metric_alarm, AlarmName=["list"], EvaluationPeriods=1,
                 ComparisonOperator="GreaterThanThreshold")
    expect_error("InvalidParameterValue", unchecked.describe_alarms, MaxRecords=0)
    expect_error("InvalidParameterCombination", unchecked.describe_alarms, AlarmNames=["a"], AlarmNamePrefix="a")
    expect_error("MissingParameter", unchecked.set_alarm_state, AlarmName="model-errors", StateValue="OK")
    assert cloudwatch.describe_alarms(AlarmNames=["model-errors"])["MetricAlarms"], "a refused delete deleted"


def cloudwatch_scenario():
    cloudwatch_api()
    s3.create_bucket(Bucket="releases")
    codedeploy.create_application(applicationName="shop")
    v1, v2 = upload("shop/v1.zip", "v1"), upload("shop/v2.zip", "v2")

    # At most 10 alarms, each with a name.
    eleven = ",".join("{name=a%d}" % i for i in range(11))
    assert "AlarmsLimitExceededException" in aws_fails(
        "deploy", "create-deployment-group", "--application-name", "shop", "--deployment-group-name", "many",
        "--service-role-arn", f"arn:aws:iam::{ACCOUNT}:role/CodeDeploy",
        "--alarm-configuration", f"enabled=true,alarms=[{eleven}]")
    expect_error("ValidationException", codedeploy.create_deployment_group, applicationName="shop",
                 deploymentGroupName="unnamed", serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/CodeDeploy",
                 alarmConfiguration={"enabled": True, "alarms": [{"name": "bad\nname"}]})
    for name in ("", "x" * 256):
        expect_error("InvalidAlarmConfigException", codedeploy.create_deployment_group, applicationName="shop",
                     deploymentGroupName="unnamed", serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/CodeDeploy",
                     alarmConfiguration={"enabled": True, "alarms": [{"name": name}]})

    # 1. An alarm set to ALARM mid-deployment stops it with ALARM_ACTIVE and rolls back to v1.
    agents = group("prod", ["web-1", "web-2"], alarms="enabled=true,ignorePollAlarmFailure=false,"
                   "alarms=[{name=model-errors}]")
    configured = codedeploy.get_deployment_group(applicationName="shop", deploymentGroupName="prod")[
        "deploymentGroupInfo"]["alarmConfiguration"]
    assert configured == {"enabled": True, "ignorePollAlarmFailure": False,
                          "alarms": [{"name": "model-errors"}]}, configured
    first = deploy("prod", v1)
    for host in ("web-1", "web-2"):
        assert run_host(agents[host], first) == IN_PLACE
    assert wait_for(first)["status"] == "Succeeded"

    bad = deploy("prod", v2)
    assert run_host(agents["web-1"], bad) == IN_PLACE
    raised = time.time()
    set_state("model-errors", "ALARM")
    info = wait_for(bad, seconds=15)
    stopped_after = time.time() - raised
    assert info["status"] == "Stopped", info
    assert info["errorInformation"]["code"] == "ALARM_ACTIVE", info
    assert "model-errors" in info["errorInformation"]["message"], info
    rollback = info["rollbackInfo"]["rollbackDeploymentId"]
    print(f"set-alarm-state ALARM to Stopped: {stopped_after:.2f} s")
    rolled = codedeploy.get_deployment(deploymentId=rollback)["deploymentInfo"]
    assert rolled["creator"] == "codeDeployRollback", rolled
    assert rolled["revision"]["s3Location"]["key"] == "shop/v1.zip", rolled
    # The rollback watches no alarm: the one still in ALARM does not stop it.
    for host in ("web-1", "web-2"):
        assert run_host(agents[host], rollback) == IN_PLACE
    assert wait_for(rollback)["status"] == "Succeeded"

    # 2. overrideAlarmConfiguration: a deployment that turns the group's alarms off goes on while they are in ALARM.
    forced = deploy("prod", v2, "--override-alarm-configuration", "enabled=false")
    shown = codedeploy.get_deployment(deploymentId=forced)["deploymentInfo"]
    assert shown["overrideAlarmConfiguration"]["enabled"] is False, shown
    for host in ("web-1", "web-2"):
        assert run_host(agents[host], forced) == IN_PLACE
    assert wait_for(forced)["status"] == "Succeeded"
    set_state("model-errors", "OK")

    # 3. A bake time (the group tag slipway:bake-time) holds the next host; an alarm during it stops the deployment.
    expect_error("InvalidTagsToAddException", codedeploy.create_deployment_group, applicationName="shop",
                 deploymentGroupName="wrong-bake", serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/CodeDeploy",
                 tags=[{"Key": "slipway:bake-time", "Value": "-5m"}])
    baked = group("baked", ["bake-1", "bake-2"], alarms="enabled=true,alarms=[{name=model-errors}]",
                  tags=("Key=slipway:bake-time,Value=3",))
    timed = deploy("baked", v1)
    assert run_host(baked["bake-1"], timed) == IN_PLACE
    done = time.time()
    assert baked["bake-2"].poll() is None, "bake-2 got a command during the bake time"
    messages = codedeploy.get_deployment(deploymentId=timed)["deploymentInfo"]["deploymentStatusMessages"]
    assert messages and messages[0].startswith("Baking: watching the alarm model-errors until"), messages
    command = None
    while command is None and time.time() - done < 10:
        command = baked["bake-2"].poll()
    assert command is not None and command["CommandName"] == "ApplicationStop", command
    assert time.time() - done >= 2.5, "bake-2 started before the bake time was over"
    print(f"bake-2 offered its first command {time.time() - done:.2f} s after bake-1 ended (bake time 3 s)")
    baked["bake-2"].acknowledge(command)
    baked["bake-2"].complete(command)
    assert ["ApplicationStop"] + run_host(baked["bake-2"], timed) == IN_PLACE
    assert wait_for(timed, seconds=15)["status"] == "Succeeded"
    again = deploy("baked", v2)
    assert run_host(baked["bake-1"], again) == IN_PLACE
    set_state("model-errors", "ALARM")
    info = wait_for(again, seconds=15)
    assert info["status"] == "Stopped" and info["errorInformation"]["code"] == "ALARM_ACTIVE", info
    print("alarm checks passed")


def poll_failure_scenario():
    s3.create_bucket(Bucket="releases")
    codedeploy.create_application(applicationName="shop")
    v1 = upload("shop/v1.zip", "v1")
    strict = group("strict", ["strict-1"], alarms="enabled=true,ignorePollAlarmFailure=false,alarms=[{name=errors}]")
    lenient = group("lenient", ["lenient-1"],
                    alarms="enabled=true,ignorePollAlarmFailure=true,alarms=[{name=errors}]")
    stopped = deploy("strict", v1)
    info = wait_for(stopped, seconds=15)
    assert info["status"] == "Stopped" and info["errorInformation"]["code"] == "ALARM_ACTIVE", info
    assert "could not be read" in info["errorInformation"]["message"], info
    assert "Prometheus at http://127.0.0.1:9" in info["errorInformation"]["message"], info
    assert strict["strict-1"].poll() is None
    going = deploy("lenient", v1)
    assert run_host(lenient["lenient-1"], going) == IN_PLACE
    assert wait_for(going)["status"] == "Succeeded"
    print("poll failure checks passed")


class ModelService:
    """A stand-in for the model's inference service: /predict answers 500 while `degraded`, and /metrics counts the
    answers by code in Prometheus' text format. A steady client calls /predict every 20 ms."""

    def __init__(self):
        self.degraded = False
        self.counts = {"200": 0, "500": 0}
        self.lock = threading.Lock()
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/metrics":
                    with service.lock:
                        lines = [f'model_requests_total{{code="{code}"}} {count}'
                                 for code, count in service.counts.items()]
                    body = ("# TYPE model_requests_total counter\n" + "\n".join(lines) + "\n").encode()
                    status = 200
                else:
                    status = 500 if service.degraded else 200
                    with service.lock:
                        service.counts[str(status)] += 1
                    body = b"prediction\n"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *arguments):
                pass

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.running = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        threading.Thread(target=self.client, daemon=True).start()

    def client(self):
        while self.running:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/predict", timeout=2).read()
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.02)

    def stop(self):
        self.running = False
        self.server.shutdown()


def run_host_with(agent, deployment, on_event):
    """run_host, calling `on_event(name)` after each event the host completes."""
    names = []
    while names[-1:] != [IN_PLACE[-1]]:
        command = agent.poll()
        assert command is not None, f"{agent.host} got no command after {names}"
        agent.acknowledge(command)
        agent.complete(command)
        names.append(command["CommandName"])
        on_event(command["CommandName"])
    return names


def prometheus_scenario():
    import prometheus_process
    port = int(os.environ["PROMETHEUS_PORT"])
    directory = tempfile.mkdtemp(prefix="slipway-prometheus-")
    service = ModelService()
    rules = """      - alert: HighErrorRate
        expr: sum(rate(model_requests_total{code="500"}[4s])) / sum(rate(model_requests_total[4s])) > 0.1
        labels:
          application: shop
          deployment_group: model
"""
    alertmanager_port = os.environ.get("ALERTMANAGER_PORT")
    alertmanager = None
    if alertmanager_port:
        alertmanager = prometheus_process.start_alertmanager(directory, int(alertmanager_port))
    slipway = None
    if os.environ.get("METRICS_TOKEN_FILE"):
        address = os.environ["AWS_ENDPOINT_URL"].split("://", 1)[1].rstrip("/")
        slipway = (address, os.environ["AWS_CA_BUNDLE"], os.environ["METRICS_TOKEN_FILE"])
    prometheus = prometheus_process.start(
        directory, port, [f"127.0.0.1:{service.port}"], rules, alertmanager=alertmanager_port, slipway=slipway)
    try:
        s3.create_bucket(Bucket="releases")
        codedeploy.create_application(applicationName="shop")
        v1, v2 = upload("shop/v1.zip", "v1"), upload("shop/v2-degraded.zip", "v2-degraded")
        selector = 'HighErrorRate{application="shop",deployment_group="model"}'
        agents = group("model", ["model-1", "model-2"], alarms=json.dumps(
            {"enabled": True, "ignorePollAlarmFailure": False, "alarms": [{"name": selector}]}))
        first = deploy("model", v1)
        for host in ("model-1", "model-2"):
            assert run_host(agents[host], first) == IN_PLACE
        assert wait_for(first)["status"] == "Succeeded"

        # v2-degraded passes ValidateService on model-1, then raises the error rate under the steady client.
        bad = deploy("model", v2)

        def v2_starts(event):
            if event == "ApplicationStart":
                service.degraded = True

        assert run_host_with(agents["model-1"], bad, v2_starts) == IN_PLACE
        firing_at = None
        deadline = time.time() + 30
        while firing_at is None and time.time() < deadline:
            if any(a["state"] == "firing" for a in prometheus_process.alerts(port)):
                firing_at = time.time()
            time.sleep(0.1)
        assert firing_at is not None, "the alert never fired"
        info = wait_for(bad, seconds=15)
        stopped_after = time.time() - firing_at
        assert info["status"] == "Stopped" and info["errorInformation"]["code"] == "ALARM_ACTIVE", info
        assert selector in info["errorInformation"]["message"], info
        print(f"{'Alertmanager' if alertmanager else 'Prometheus'} alert firing to Stopped: {stopped_after:.2f} s")
        assert targets_status(bad) == {"model-1": "Succeeded", "model-2": "Skipped"}

        # The rollback brings v1 back: the error rate falls and the alert resolves.
        rollback = info["rollbackInfo"]["rollbackDeploymentId"]

        def v1_starts(event):
            if event == "ApplicationStart":
                service.degraded = False

        for host in ("model-1", "model-2"):
            assert run_host_with(agents[host], rollback, v1_starts) == IN_PLACE
        assert wait_for(rollback)["status"] == "Succeeded"
        deadline = time.time() + 30
        while any(a["state"] == "firing" for a in prometheus_process.alerts(port)) and time.time() < deadline:
            time.sleep(0.2)
        assert not any(a["state"] == "firing" for a in prometheus_process.alerts(port)), "the alert kept firing"
        if slipway:
            # The same Prometheus scraped Slipway's /metrics during the deployments.
            deadline = time.time() + 15
            ended = {}
            while time.time() < deadline and ended.get("Stopped", 0) < 1:
                time.sleep(0.5)
                ended = {r["metric"]["status"]: float(r["value"][1])
                         for r in prometheus_process.query(port, "slipway_deployments_ended_total")}
            assert ended.get("Stopped", 0) >= 1 and ended.get("Succeeded", 0) >= 2, ended
            started = prometheus_process.query(port, "slipway_deployments_started_total")
            assert started and float(started[0]["value"][1]) >= 3, started
            polls = {r["metric"]["outcome"]: float(r["value"][1])
                     for r in prometheus_process.query(port, "slipway_alarm_polls_total")}
            assert polls.get("alarm", 0) >= 1 and polls.get("ok", 0) >= 1, polls
            events = prometheus_process.query(
                port, 'slipway_lifecycle_event_duration_seconds_count{event="ValidateService"}')
            assert events and float(events[0]["value"][1]) >= 2, events
            print("Prometheus scraped the deployment's series from /metrics")
        print("prometheus checks passed")
    finally:
        for process in (prometheus, alertmanager):
            if process:
                process.kill()
                process.wait()
        service.stop()
        shutil.rmtree(directory, ignore_errors=True)


def targets_status(deployment):
    ids = codedeploy.list_deployment_targets(deploymentId=deployment)["targetIds"]
    answer = codedeploy.batch_get_deployment_targets(deploymentId=deployment, targetIds=ids)
    return {t["instanceTarget"]["targetId"]: t["instanceTarget"]["status"] for t in answer["deploymentTargets"]}


if __name__ == "__main__":
    scenario = sys.argv[1] if len(sys.argv) > 1 else ""
    if scenario == "cloudwatch":
        cloudwatch_scenario()
    elif scenario == "poll-failure":
        poll_failure_scenario()
    elif scenario == "prometheus":
        prometheus_scenario()
    else:
        sys.exit(__doc__)
