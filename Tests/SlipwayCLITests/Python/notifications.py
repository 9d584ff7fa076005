"""Trigger notifications through Slipway's SNS API, the AWS CLI and a real HTTPS receiver that verifies SNS signatures.

Usage: notifications.py triggers   topics and subscriptions (with the confirmation handshake), Publish, every event of
                                   a failing-then-rolled-back deployment in order, a receiver down for a minute and
                                   the server killed with SIGKILL meanwhile (nothing lost), raw delivery, unsubscribing

Needs SLIPWAY_BIN. Starts its own `slipway server --dev` (to kill and restart it) and its own receiver."""

import base64
import http.server
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import end_to_end  # noqa: E402
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding


class Server(end_to_end.Server):
    """`slipway server --dev` on a fixed port and data directory, so that a restart is the same server; its dev
    profile goes into this process's environment, for boto3 and the AWS CLI."""

    def start(self):
        super().start()
        os.environ.update(self.env)
        os.environ["SLIPWAY_DATA_DIR"] = self.data


def receiver_certificate(directory):
    """A self-signed certificate and key for a receiver on 127.0.0.1, in `directory`."""
    certificate, key = os.path.join(directory, "receiver.pem"), os.path.join(directory, "receiver-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate,
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return certificate, key


def string_to_sign(document):
    names = (["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
             if document["Type"] == "Notification"
             else ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"])
    return "".join(f"{name}\n{document[name]}\n" for name in names if name in document)


class Receiver:
    """An HTTPS endpoint as an SNS subscriber writes one: it checks every message's signature against the certificate
    its SigningCertURL serves, confirms subscriptions by opening their SubscribeURL, and keeps the notifications."""

    def __init__(self, certificate, key, ca=None):
        self.port = end_to_end.free_port()
        # The CA of the server that signs the messages, whose links the receiver opens.
        self.ca = ca or os.environ["AWS_CA_BUNDLE"]
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certificate, key)
        self.notifications = []
        self.raw = []
        self.chat = []
        self.confirmations = 0
        self.failures = []
        self.lock = threading.Lock()
        self.server = None

    def trusted(self):
        return ssl.create_default_context(cafile=self.ca)

    def verify(self, document):
        with urllib.request.urlopen(document["SigningCertURL"], context=self.trusted(), timeout=10) as response:
            certificate = x509.load_pem_x509_certificate(response.read())
        algorithm = hashes.SHA256() if document["SignatureVersion"] == "2" else hashes.SHA1()
        certificate.public_key().verify(base64.b64decode(document["Signature"]),
                                        string_to_sign(document).encode(), padding.PKCS1v15(), algorithm)

    def handle(self, headers, body):
        kind = headers.get("x-amz-sns-message-type")
        if headers.get("x-amz-sns-rawdelivery") == "true":
            with self.lock:
                self.raw.append(body.decode())
            return
        document = json.loads(body)
        assert document["Type"] == kind, (kind, document)
        self.verify(document)
        if kind == "SubscriptionConfirmation":
            with urllib.request.urlopen(document["SubscribeURL"], context=self.trusted(), timeout=10) as response:
                assert response.status == 200, response.status
            with self.lock:
                self.confirmations += 1
        else:
            assert headers.get("x-amz-sns-subscription-arn"), headers
            with self.lock:
                self.notifications.append(document)

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path == "/chat":
                    with receiver.lock:
                        receiver.chat.append(json.loads(body))
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                try:
                    receiver.handle({k.lower(): v for k, v in self.headers.items()}, body)
                    self.send_response(200)
                except Exception as error:  # a bad message is a test failure, reported at the end
                    with receiver.lock:
                        receiver.failures.append(repr(error))
                    self.send_response(400)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *arguments):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.socket = self.context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            with self.lock:
                assert not self.failures, self.failures
                if len(self.notifications) >= count:
                    return list(self.notifications)
            time.sleep(0.1)
        raise AssertionError(f"{len(self.notifications)} notifications after {seconds} s, expected {count}: "
                             f"{[n.get('Subject') for n in self.notifications]}")


def aws(*arguments):
    result = subprocess.run(["aws", *arguments, "--output", "json"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"aws {' '.join(arguments)} failed: {result.stderr}"
    return json.loads(result.stdout) if result.stdout.strip() else {}


def aws_fails(*arguments):
    result = subprocess.run(["aws", *arguments], capture_output=True, text=True, check=False)
    assert result.returncode != 0, f"aws {' '.join(arguments)} succeeded"
    return result.stderr


def events(notifications):
    """(deployment, what) of each trigger notification, `what` the deployment's status or `instance STATUS`."""
    seen = []
    for notification in notifications:
        message = json.loads(notification["Message"])
        if "instanceStatus" in message:
            seen.append((message["deploymentId"], "instance " + message["instanceStatus"]))
        else:
            rollback = notification["Subject"].startswith("ROLLBACK")
            seen.append((message["deploymentId"], "rollback" if rollback else message["status"]))
    return seen


def triggers():
    directory = tempfile.mkdtemp(prefix="slipway-notify-")
    certificate, key = receiver_certificate(directory)
    server = Server(directory, ["--outbound-ca", certificate])
    server.start()
    receiver = Receiver(certificate, key)
    receiver.start()
    try:
        run_triggers(server, receiver)
    finally:
        receiver.stop()
        server.stop()


def run_triggers(server, receiver):
    sys.path.insert(0, os.path.dirname(__file__))
    import deployments
    from deployments import IN_PLACE, agent_for, run_host, upload, wait_for, expect_error
    import boto3
    sns = boto3.client("sns")
    codedeploy = deployments.codedeploy

    # 1. A topic, and an HTTPS subscription confirmed through the handshake.
    topic = aws("sns", "create-topic", "--name", "releases")["TopicArn"]
    assert topic == "arn:aws:sns:us-east-1:000000000000:releases", topic
    assert aws("sns", "create-topic", "--name", "releases")["TopicArn"] == topic
    endpoint = f"https://127.0.0.1:{receiver.port}/hook"
    answer = aws("sns", "subscribe", "--topic-arn", topic, "--protocol", "https", "--notification-endpoint", endpoint)
    assert answer["SubscriptionArn"] == "pending confirmation", answer
    deadline = time.time() + 15
    while receiver.confirmations == 0 and time.time() < deadline:
        time.sleep(0.1)
    assert receiver.confirmations == 1 and not receiver.failures, receiver.failures
    listed = aws("sns", "list-subscriptions-by-topic", "--topic-arn", topic)["Subscriptions"]
    assert len(listed) == 1 and listed[0]["SubscriptionArn"].startswith(topic + ":"), listed
    subscription = listed[0]["SubscriptionArn"]

    # Wrong input is refused with SNS's errors.
    expect_error("InvalidParameter", sns.subscribe, TopicArn=topic, Protocol="email", Endpoint="ops@example.com")
    expect_error("InvalidParameter", sns.subscribe, TopicArn=topic, Protocol="https", Endpoint="ftp://127.0.0.1/x")
    expect_error("InvalidParameter", sns.confirm_subscription, TopicArn=topic, Token="0" * 64)
    expect_error("NotFound", sns.publish, TopicArn="arn:aws:sns:us-east-1:000000000000:none", Message="x")
    expect_error("InvalidParameter", sns.publish, TopicArn="arn:aws:sns:eu-west-1:123456789012:elsewhere", Message="x")
    expect_error("InvalidParameter", sns.create_topic, Name="bad name")
    expect_error("InvalidParameter", sns.publish, TopicArn=topic, Message="x", Subject="s\nt")

    # 2. Publish reaches the receiver, signed.
    aws("sns", "publish", "--topic-arn", topic, "--subject", "greeting", "--message", "hello from the test")
    first = receiver.wait_for(1, 15)[0]
    assert first["Message"] == "hello from the test" and first["Subject"] == "greeting", first
    assert first["TopicArn"] == topic and first["UnsubscribeURL"].startswith("https://"), first

    # 3. Every event of a deployment that fails and is rolled back, in order.
    s3 = deployments.s3
    s3.create_bucket(Bucket="releases")
    codedeploy.create_application(applicationName="shop")
    codedeploy.register_on_premises_instance(instanceName="web-1",
                                             iamUserArn="arn:aws:iam::000000000000:user/web-1")
    codedeploy.add_tags_to_on_premises_instances(instanceNames=["web-1"], tags=[{"Key": "fleet", "Value": "web"}])
    every = ["DeploymentStart", "DeploymentSuccess", "DeploymentFailure", "DeploymentStop", "DeploymentRollback",
             "DeploymentReady", "InstanceStart", "InstanceSuccess", "InstanceFailure", "InstanceReady"]
    aws("deploy", "create-deployment-group", "--application-name", "shop", "--deployment-group-name", "web",
        "--service-role-arn", "arn:aws:iam::000000000000:role/CodeDeploy",
        "--on-premises-instance-tag-filters", "Key=fleet,Value=web,Type=KEY_AND_VALUE",
        "--auto-rollback-configuration", "enabled=true,events=DEPLOYMENT_FAILURE",
        "--trigger-configurations", json.dumps(
            [{"triggerName": "releases", "triggerTargetArn": topic, "triggerEvents": every}]))
    agent = agent_for("web-1")
    v1, v2 = upload("shop/v1.zip", "v1"), upload("shop/v2.zip", "v2")
    good = codedeploy.create_deployment(applicationName="shop", deploymentGroupName="web", revision=v1)[
        "deploymentId"]
    assert run_host(agent, good) == IN_PLACE and wait_for(good)["status"] == "Succeeded"
    bad = codedeploy.create_deployment(applicationName="shop", deploymentGroupName="web", revision=v2)[
        "deploymentId"]
    run_host(agent, bad, fail_on={"ValidateService"})
    rollback = wait_for(bad)["rollbackInfo"]["rollbackDeploymentId"]
    assert run_host(agent, rollback) == IN_PLACE and wait_for(rollback)["status"] == "Succeeded"
    expected = [
        (good, "IN_PROGRESS"), (good, "instance InProgress"), (good, "instance Succeeded"), (good, "SUCCEEDED"),
        (bad, "IN_PROGRESS"), (bad, "instance InProgress"), (bad, "instance Failed"), (bad, "FAILED"),
        (bad, "rollback"),
        (rollback, "IN_PROGRESS"), (rollback, "instance InProgress"), (rollback, "instance Succeeded"),
        (rollback, "SUCCEEDED"),
    ]
    received = receiver.wait_for(1 + len(expected), 30)[1:]
    assert events(received) == expected, events(received)
    failure = json.loads(received[7]["Message"])
    assert failure["errorInformation"]["ErrorCode"] == "HEALTH_CONSTRAINTS", failure
    assert failure["eventTriggerName"] == "releases" and failure["applicationName"] == "shop", failure
    print(f"{len(received)} trigger notifications received in order, every signature valid")

    # 4. The receiver is down for a minute, and the server is killed with SIGKILL meanwhile: nothing is lost.
    receiver.stop()
    down = time.time()
    again = codedeploy.create_deployment(applicationName="shop", deploymentGroupName="web", revision=v1)[
        "deploymentId"]
    assert run_host(agent, again) == IN_PLACE and wait_for(again)["status"] == "Succeeded"
    server.kill()
    server.start()
    assert sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]["PendingDeliveries"] == "4"
    # An attempt against a closed port lasts until the request's deadline: the HTTP client retries the connection.
    deadline = time.time() + 40
    attributes = {}
    while not attributes.get("LastDeliveryError") and time.time() < deadline:
        time.sleep(0.5)
        attributes = sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
    assert attributes["PendingDeliveries"] == "4" and attributes["LastDeliveryError"], attributes
    time.sleep(max(0, 60 - (time.time() - down)))
    receiver.start()
    after = receiver.wait_for(1 + len(expected) + 4, 75)[1 + len(expected):]
    assert events(after) == [(again, "IN_PROGRESS"), (again, "instance InProgress"), (again, "instance Succeeded"),
                             (again, "SUCCEEDED")], events(after)
    print(f"the receiver, down for {time.time() - down:.0f} s across a SIGKILL of the server, received everything")

    # 5. Raw delivery, the delivery counts, and the UnsubscribeURL.
    aws("sns", "set-subscription-attributes", "--subscription-arn", subscription, "--attribute-name",
        "RawMessageDelivery", "--attribute-value", "true")
    aws("sns", "publish", "--topic-arn", topic, "--message", "raw body")
    deadline = time.time() + 15
    while not receiver.raw and time.time() < deadline:
        time.sleep(0.1)
    assert receiver.raw == ["raw body"], receiver.raw
    # A chat webhook: Slack-style JSON, no handshake.
    chat = aws("sns", "subscribe", "--topic-arn", topic, "--protocol", "slack", "--notification-endpoint",
               f"https://127.0.0.1:{receiver.port}/chat")["SubscriptionArn"]
    assert chat.startswith(topic + ":"), chat
    aws("sns", "publish", "--topic-arn", topic, "--subject", "release", "--message", "v2 is out")
    deadline = time.time() + 15
    while not receiver.chat and time.time() < deadline:
        time.sleep(0.1)
    assert receiver.chat == [{"text": "release\nv2 is out"}], receiver.chat
    attributes = aws("sns", "get-subscription-attributes", "--subscription-arn", subscription)["Attributes"]
    # The confirmation, the first Publish, the trigger notifications, the raw message and the chat one.
    deadline = time.time() + 15
    while attributes["DeliveredCount"] != str(1 + 1 + len(expected) + 4 + 2) and time.time() < deadline:
        time.sleep(0.2)
        attributes = aws("sns", "get-subscription-attributes", "--subscription-arn", subscription)["Attributes"]
    assert attributes["DeliveredCount"] == str(1 + 1 + len(expected) + 4 + 2), attributes
    assert attributes["RawMessageDelivery"] == "true" and attributes["PendingDeliveries"] == "0", attributes
    assert receiver.raw == ["raw body", "v2 is out"], receiver.raw
    aws("sns", "unsubscribe", "--subscription-arn", chat)
    with urllib.request.urlopen(after[-1]["UnsubscribeURL"], context=receiver.trusted(), timeout=10) as response:
        assert response.status == 200
    assert aws("sns", "list-subscriptions-by-topic", "--topic-arn", topic)["Subscriptions"] == []
    aws("sns", "delete-topic", "--topic-arn", topic)
    assert aws("sns", "list-topics")["Topics"] == []
    print("notification checks passed")


if __name__ == "__main__":
    if sys.argv[1:] == ["triggers"]:
        triggers()
    else:
        sys.exit(__doc__)
