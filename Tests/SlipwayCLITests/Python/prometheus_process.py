"""Prometheus (and Alertmanager) as services of a test: a configuration of the test's own (scrape targets, alert rules), a data
directory, started in the foreground as an unprivileged process (under root, as CI runs, as nobody), waited for until
it is ready, and killed at the end."""

import grp
import json
import os
import pwd
import subprocess
import time
import urllib.parse
import urllib.request


def start(directory, port, targets, rules, interval="1s", alertmanager=None, slipway=None, seconds=30):
    """Writes `directory`/prometheus.yml scraping `targets` (host:port) and `directory`/rules.yml holding `rules` (the
    text of one rule group's `rules:` list), starts Prometheus on 127.0.0.1:`port` and returns its process once it
    answers ready. With `alertmanager` (a port), Prometheus sends its alerts there. With `slipway` (address, CA file,
    token file), it also scrapes that server's /metrics over HTTPS with the token."""
    with open(os.path.join(directory, "rules.yml"), "w") as file:
        file.write(f"groups:\n  - name: test\n    interval: {interval}\n    rules:\n{rules}")
    scrape_slipway = ""
    if slipway:
        address, ca, token = slipway
        # Prometheus runs as another user: it reads copies of the CA and the token in its own directory.
        for source, name in ((ca, "slipway-ca.pem"), (token, "slipway-token")):
            with open(source) as original, open(os.path.join(directory, name), "w") as copy:
                copy.write(original.read())
        scrape_slipway = f"""  - job_name: slipway
    scheme: https
    tls_config:
      ca_file: {os.path.join(directory, "slipway-ca.pem")}
    authorization:
      credentials_file: {os.path.join(directory, "slipway-token")}
    static_configs:
      - targets: ['{address}']
"""
    alerting = "" if alertmanager is None else (
        f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{alertmanager}']\n")
    with open(os.path.join(directory, "prometheus.yml"), "w") as file:
        file.write(f"""global:
  scrape_interval: {interval}
  evaluation_interval: {interval}
rule_files: [{os.path.join(directory, "rules.yml")}]
{alerting}scrape_configs:
  - job_name: test
    static_configs:
      - targets: {json.dumps(targets)}
{scrape_slipway}""")
    data = os.path.join(directory, "data")
    command = ["prometheus", f"--config.file={os.path.join(directory, 'prometheus.yml')}",
               f"--storage.tsdb.path={data}", f"--web.listen-address=127.0.0.1:{port}"]
    return run(directory, data, command, f"http://127.0.0.1:{port}/-/ready", "prometheus", seconds)


def start_alertmanager(directory, port, seconds=30):
    """Starts an Alertmanager on 127.0.0.1:`port` that keeps the alerts it is sent (and notifies nobody), without
    clustering; returns its process once it answers ready."""
    path = os.path.join(directory, "alertmanager.yml")
    with open(path, "w") as file:
        file.write("route:\n  receiver: nobody\nreceivers:\n  - name: nobody\n")
    data = os.path.join(directory, "alertmanager-data")
    command = ["prometheus-alertmanager", f"--config.file={path}", f"--storage.path={data}",
               f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="]
    return run(directory, data, command, f"http://127.0.0.1:{port}/-/ready", "alertmanager", seconds)


def run(directory, data, command, ready_url, name, seconds):
    """Starts `command` (as nobody under root, with `data` its own), logging to `directory`/`name`.log, and waits until
    `ready_url` answers 200."""
    os.makedirs(data, exist_ok=True)
    if os.getuid() == 0:
        nobody, nogroup = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
        for path in (directory, data):
            os.chown(path, nobody, nogroup)
        parent = os.path.dirname(directory)
        os.chmod(parent, os.stat(parent).st_mode | 0o011)
        command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
    log_path = os.path.join(directory, f"{name}.log")
    log = open(log_path, "w")
    process = subprocess.Popen(command, stdout=log, stderr=log)
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(ready_url, timeout=1) as response:
                if response.status == 200:
                    return process
        except OSError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    process.wait()
    with open(log_path) as file:
        raise AssertionError(f"{name} did not become ready:\n" + file.read()[-2000:])


def alerts(port):
    """The alerts Prometheus has, as its API answers them."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/alerts", timeout=2) as response:
        return json.load(response)["data"]["alerts"]


def query(port, expression):
    """The result of an instant query."""
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)["data"]["result"]
