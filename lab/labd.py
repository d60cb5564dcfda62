#!/usr/bin/python3
"""icsdn lab daemon: holds one lab's mininet network until told to stop.

Run by `icsdn lab up` with Debian's /usr/bin/python3 (mininet lives in its dist-packages), detached,
one per lab. It only creates and deletes mininet nodes and links; every address, route, NAT rule and
Open vSwitch instance is made by the TypeScript side (lab/lab.ts), which enters the nodes' network
namespaces itself, so `lab exec` and `lab down` work without this process.

Control channel: a unix socket. One request per connection: one JSON object on one line, answered
by one JSON object on one line, {"ok": true, ...} or {"ok": false, "error": "..."}.

  {"op": "ping"}                                   -> {"pid": <this process>}
  {"op": "addBridge", "name": B}                   -> a Linux bridge B in the root namespace
  {"op": "addHost", "name": H}                     -> {"pid": <H's shell, in H's namespace>}
  {"op": "addLink", "node1": N1, "node2": N2, "intf1": I1, "intf2": I2, "bw": MBIT|null}
  {"op": "delHost", "name": H}                     -> H's links and H's shell are gone
  {"op": "nodes"}                                  -> {"nodes": [{"name", "kind", "pid", "intfs"}]}
  {"op": "stop"}                                   -> replies, then stops the network and exits
"""

import argparse
import json
import os
import signal
import socket
import sys
import time
import traceback

from mininet.link import Link, TCLink
from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import Host, Switch


class IpBridge(Switch):
    """A Linux bridge in the root namespace, made with iproute2.

    Mininet's own LinuxBridge needs brctl (bridge-utils), which this machine does not have."""

    def __init__(self, name, **params):
        # Switch derives a datapath id from the name unless given one; a Linux bridge has no use for it.
        params.setdefault("dpid", "1")
        Switch.__init__(self, name, **params)

    def connected(self):
        return True

    def start(self, _controllers):
        out = self.cmd("ip link add name", self.name, "type bridge stp_state 0 forward_delay 0")
        if out.strip():
            raise RuntimeError("cannot create bridge %s: %s" % (self.name, out.strip()))
        for intf in self.intfList():
            if intf.name != "lo":
                self.attach(intf)
        self.cmd("ip link set", self.name, "up")

    def attach(self, intf):
        self.cmd("ip link set", intf, "master", self.name, "up")

    def detach(self, intf):
        self.cmd("ip link set", intf, "nomaster")

    def stop(self, deleteIntfs=True):
        self.cmd("ip link del", self.name)
        Switch.stop(self, deleteIntfs)


class Daemon:
    def __init__(self, sock_path):
        self.sock_path = sock_path
        # No controller, no automatic addresses: the TypeScript side configures every interface.
        self.net = Mininet(topo=None, build=False, controller=None, switch=IpBridge, host=Host, link=Link)
        self.net.build()
        self.running = True

    # --- operations -------------------------------------------------------------------------------

    def op_ping(self, _req):
        return {"pid": os.getpid()}

    def op_addBridge(self, req):
        name = req["name"]
        if name in self.net.nameToNode:
            raise ValueError("node %s exists" % name)
        bridge = self.net.addSwitch(name, cls=IpBridge)
        bridge.start([])
        return {"pid": bridge.pid}

    def op_addHost(self, req):
        name = req["name"]
        if name in self.net.nameToNode:
            raise ValueError("node %s exists" % name)
        # ip=None: mininet would otherwise give the host a 10.0.0.x address.
        host = self.net.addHost(name, ip=None)
        return {"pid": host.pid}

    def op_addLink(self, req):
        node1 = self.node(req["node1"])
        node2 = self.node(req["node2"])
        params = {"intfName1": req["intf1"], "intfName2": req["intf2"]}
        bw = req.get("bw")
        if bw:
            # HTB only: this kernel has no netem, so no delay or loss parameters.
            link = self.net.addLink(node1, node2, cls=TCLink, bw=bw, **params)
        else:
            link = self.net.addLink(node1, node2, **params)
        for node, intf in ((node1, link.intf1), (node2, link.intf2)):
            if isinstance(node, IpBridge):
                node.attach(intf)
        return {}

    def op_delHost(self, req):
        host = self.node(req["name"])
        for link in list(self.net.links):
            ends = ((link.intf1.node, link.intf1), (link.intf2.node, link.intf2))
            if host not in (ends[0][0], ends[1][0]):
                continue
            for node, intf in ends:
                if isinstance(node, IpBridge):
                    node.detach(intf)
            self.net.delLink(link)
        self.net.delHost(host)
        return {}

    def op_nodes(self, _req):
        nodes = []
        for node in self.net.hosts + self.net.switches:
            nodes.append(
                {
                    "name": node.name,
                    "kind": "bridge" if isinstance(node, IpBridge) else "host",
                    "pid": node.pid,
                    "intfs": [i.name for i in node.intfList()],
                }
            )
        return {"nodes": nodes}

    def op_stop(self, _req):
        self.running = False
        return {}

    def node(self, name):
        node = self.net.nameToNode.get(name)
        if node is None:
            raise KeyError("no node %s" % name)
        return node

    # --- loop --------------------------------------------------------------------------------------

    def serve(self):
        if os.path.exists(self.sock_path):
            os.unlink(self.sock_path)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(self.sock_path)
        os.chmod(self.sock_path, 0o600)
        server.listen(8)
        try:
            while self.running:
                conn, _ = server.accept()
                with conn:
                    conn.settimeout(10)
                    self.handle(conn)
        finally:
            server.close()
            if os.path.exists(self.sock_path):
                os.unlink(self.sock_path)

    def handle(self, conn):
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        started = time.monotonic()
        try:
            req = json.loads(data.decode())
            fn = getattr(self, "op_" + str(req.get("op")), None)
            if fn is None:
                raise ValueError("unknown op %r" % req.get("op"))
            reply = {"ok": True}
            reply.update(fn(req))
        except Exception as err:  # one bad request must not kill the lab
            traceback.print_exc()
            reply = {"ok": False, "error": "%s: %s" % (type(err).__name__, err)}
        print("op %s took %.3fs -> %s" % (data.decode().strip(), time.monotonic() - started, reply["ok"]))
        sys.stdout.flush()
        try:
            conn.sendall((json.dumps(reply) + "\n").encode())
        except OSError:
            pass

    def stop(self):
        try:
            self.net.stop()
        except Exception:
            traceback.print_exc()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", required=True)
    args = parser.parse_args()
    setLogLevel("info")
    daemon = Daemon(args.socket)

    def on_term(_signum, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        daemon.serve()
    finally:
        daemon.stop()
    print("labd: stopped")


if __name__ == "__main__":
    main()
