"""A Slipway that reads its alarms from, and publishes its triggers to, another AWS-protocol service: here a second
Slipway standing in for AWS CloudWatch and AWS SNS (another account), reached over HTTPS with signed requests.

Usage: outbound.py remote   an alarm set in the other service's CloudWatch stops a deployment; the deployment's
                            trigger notifications reach a receiver subscribed to the other service's topic

Needs SLIPWAY_BIN. Starts both servers and the receiver itself."""

import json
import os
import subprocess
import sys
import tempfile
import time

from notifications import Receiver, Server, receiver_certificate


def aws_with(environment, *arguments):
    result = subprocess.run(["aws", *arguments, "--output", "json"], capture_output=True, text=True, check=False,
                            env=environment)
    assert result.returncode == 0, f"aws {' '.join(arguments)} failed: {result.stderr}"
    return json.loads(result.stdout) if result.stdout.strip() else {}


def remote():
    directory = tempfile.mkdtemp(prefix="slipway-outbound-")
    certificate, key = receiver_certificate(directory)
    other_directory = os.path.join(directory, "other")
    os.makedirs(other_directory)
    other = Server(other_directory, ["--account-id", "111111111111", "--outbound-ca", certificate])
    other.start()
    other_environment = dict(os.environ)
    keys = json.loads(subprocess.run(
        [os.environ["SLIPWAY_BIN"], "keys", "create", "--role", "deployer", "--json", "--data-dir",
         other.data], capture_output=True, text=True, check=True).stdout)["AccessKey"]
    receiver = Receiver(certificate, key)
    receiver.start()
    own = None
    try:
        # The other service: an alarm, and a topic with the receiver subscribed.
        aws_with(other_environment, "cloudwatch", "put-metric-alarm", "--alarm-name", "shared-errors",
                 "--evaluation-periods", "1", "--comparison-operator", "GreaterThanThreshold", "--threshold", "0")
        aws_with(other_environment, "cloudwatch", "set-alarm-state", "--alarm-name", "shared-errors",
                 "--state-value", "OK", "--state-reason", "quiet")
        topic = aws_with(other_environment, "sns", "create-topic", "--name", "fleet-events")["TopicArn"]
        assert topic == "arn:aws:sns:us-east-1:111111111111:fleet-events", topic
        aws_with(other_environment, "sns", "subscribe", "--topic-arn", topic, "--protocol", "https",
                 "--notification-endpoint", f"https://127.0.0.1:{receiver.port}/hook")
        deadline = time.time() + 15
        while receiver.confirmations == 0 and time.time() < deadline:
            time.sleep(0.1)
        assert receiver.confirmations == 1, receiver.failures

        # This Slipway reads alarms from it and publishes to it.
        own_directory = os.path.join(directory, "own")
        os.makedirs(own_directory)
        endpoint = other_environment["AWS_ENDPOINT_URL"]
        os.environ.update({
            "SLIPWAY_CLOUDWATCH_ACCESS_KEY_ID": keys["AccessKeyId"],
            "SLIPWAY_CLOUDWATCH_SECRET_ACCESS_KEY": keys["SecretAccessKey"],
            "SLIPWAY_SNS_ACCESS_KEY_ID": keys["AccessKeyId"],
            "SLIPWAY_SNS_SECRET_ACCESS_KEY": keys["SecretAccessKey"],
        })
        own = Server(own_directory, ["--alarm-poll-interval", "1", "--cloudwatch", endpoint,
                                     "--sns-endpoint", endpoint, "--outbound-ca",
                                     other_environment["AWS_CA_BUNDLE"]])
        own.start()
        sys.path.insert(0, os.path.dirname(__file__))
        import deployments
        from deployments import IN_PLACE, agent_for, run_host, upload, wait_for
        codedeploy = deployments.codedeploy
        deployments.s3.create_bucket(Bucket="releases")
        codedeploy.create_application(applicationName="shop")
        codedeploy.register_on_premises_instance(instanceName="web-1",
                                                 iamUserArn="arn:aws:iam::000000000000:user/web-1")
        codedeploy.register_on_premises_instance(instanceName="web-2",
                                                 iamUserArn="arn:aws:iam::000000000000:user/web-2")
        codedeploy.add_tags_to_on_premises_instances(instanceNames=["web-1", "web-2"],
                                                     tags=[{"Key": "fleet", "Value": "web"}])
        codedeploy.create_deployment_group(
            applicationName="shop", deploymentGroupName="web", serviceRoleArn="arn:aws:iam::000000000000:role/x",
            deploymentConfigName="CodeDeployDefault.OneAtATime",
            onPremisesInstanceTagFilters=[{"Key": "fleet", "Value": "web", "Type": "KEY_AND_VALUE"}],
            alarmConfiguration={"enabled": True, "alarms": [{"name": "shared-errors"}]},
            triggerConfigurations=[{"triggerName": "fleet", "triggerTargetArn": topic,
                                    "triggerEvents": ["DeploymentStart", "DeploymentStop", "InstanceSuccess"]}])
        agent = agent_for("web-1")
        deployment = codedeploy.create_deployment(
            applicationName="shop", deploymentGroupName="web", revision=upload("shop/v1.zip", "v1"))["deploymentId"]
        assert run_host(agent, deployment) == IN_PLACE
        time.sleep(2)
        assert codedeploy.get_deployment(deploymentId=deployment)["deploymentInfo"]["status"] == "InProgress"
        aws_with(other_environment, "cloudwatch", "set-alarm-state", "--alarm-name", "shared-errors",
                 "--state-value", "ALARM", "--state-reason", "errors")
        info = wait_for(deployment, seconds=15)
        assert info["status"] == "Stopped" and info["errorInformation"]["code"] == "ALARM_ACTIVE", info
        received = receiver.wait_for(3, 30)
        subjects = [n["Subject"].split(":")[0] for n in received]
        assert subjects == ["IN_PROGRESS", "SUCCEEDED", "STOPPED"], [n["Subject"] for n in received]
        assert all(n["TopicArn"] == topic for n in received), received
        stopped = json.loads(received[2]["Message"])
        assert stopped["deploymentId"] == deployment and stopped["accountId"] == "000000000000", stopped
        print("outbound checks passed")
    finally:
        receiver.stop()
        for server in (own, other):
            if server:
                server.stop()


if __name__ == "__main__":
    if sys.argv[1:] == ["remote"]:
        remote()
    else:
        sys.exit(__doc__)
