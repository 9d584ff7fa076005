"""HAProxy as a service of a test: a configuration with the runtime API socket Slipway drives, started in the
foreground as an unprivileged process (under root, as CI runs, as nobody), and waited for until it serves."""

import grp
import os
import pwd
import subprocess
import time


def start(directory, socket_path, proxies, ready, check_interval="300ms", seconds=15):
    """Writes `directory`/haproxy.cfg (the global and defaults sections, then `proxies`: frontends and backends),
    starts HAProxy and returns its process once `ready()` is true. Every file HAProxy reads must be in `directory`
    or readable by others."""
    configuration = f"""global
    stats socket {socket_path} mode 600 level admin expose-fd listeners
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    option httpchk GET /health
    default-server inter {check_interval} rise 2 fall 2
{proxies}
"""
    path = os.path.join(directory, "haproxy.cfg")
    with open(path, "w") as file:
        file.write(configuration)
    command = ["haproxy", "-db", "-f", path]
    if os.getuid() == 0:
        # HAProxy makes its socket in a directory it owns, and must be able to reach it through the ones above.
        os.chown(directory, pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid)
        parent = os.path.dirname(directory)
        os.chmod(parent, os.stat(parent).st_mode | 0o011)
        command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if ready():
                return process
        except OSError:
            pass
        time.sleep(0.1)
    process.kill()
    process.wait()
    raise AssertionError("HAProxy did not start serving")
