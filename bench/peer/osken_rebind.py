"""The peer of the controller bench: os-ken doing our rebind's switch round, minimally.

Run by osken-manager (Debian's python3-os-ken) with ICSDN_OSKEN_COMMAND_PORT naming a TCP port on
127.0.0.1. There, one JSON object per line in, one per line out:
  {"op": "switches"}                 -> {"switches": N}            (connected datapaths)
  {"op": "setup", "vni": V, "members": [{"dpid": "0x..", "vint0": "a.b.c.d", "endpoint": "..."}]}
                                     -> {"ms": T}  every switch gets an ip and an arp egress rule
                                        per peer (ADD), then a barrier
  {"op": "rebind", "dpid": "0x..", "endpoint": "..."}
                                     -> {"ms": T}  every peer's ip and arp rule of that member
                                        rewritten (MODIFY_STRICT), then a barrier; T runs from the
                                        command's arrival to the last barrier reply
Its rules carry their own cookie and priority, so they live beside the icsdn controller's on the
same bridges without touching them (OpenFlow identifies a flow by table, priority and match).
"""

import json
import os
import time

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib import hub
from os_ken.ofproto import ofproto_v1_3

COOKIE = 0x05EB000000000000
PRIORITY = 50
PORT_TUNNEL = 1
PORT_VINT0 = 2


class RebindPeer(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.datapaths = {}
        self.members = []
        self.vni = 0
        self.waiting = {}
        self.server = hub.StreamServer(("127.0.0.1", int(os.environ["ICSDN_OSKEN_COMMAND_PORT"])), self.serve)
        hub.spawn(self.server.serve_forever)

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def features(self, ev):
        self.datapaths[ev.msg.datapath.id] = ev.msg.datapath

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def barrier_reply(self, ev):
        done = self.waiting.pop((ev.msg.datapath.id, ev.msg.xid), None)
        if done is not None:
            done.set()

    def egress(self, dp, command, peer, endpoint):
        parser = dp.ofproto_parser
        actions = [
            parser.OFPActionSetField(tun_ipv4_dst=endpoint),
            parser.OFPActionSetField(tunnel_id=self.vni),
            parser.OFPActionOutput(PORT_TUNNEL),
        ]
        inst = [parser.OFPInstructionActions(dp.ofproto.OFPIT_APPLY_ACTIONS, actions)]
        for match in (
            parser.OFPMatch(in_port=PORT_VINT0, eth_type=0x0800, ipv4_dst=peer["vint0"]),
            parser.OFPMatch(in_port=PORT_VINT0, eth_type=0x0806, arp_tpa=peer["vint0"]),
        ):
            dp.send_msg(
                parser.OFPFlowMod(
                    dp, cookie=COOKIE, command=command, priority=PRIORITY, match=match, instructions=inst
                )
            )

    def barriers(self, dps):
        events = []
        for dp in dps:
            req = dp.ofproto_parser.OFPBarrierRequest(dp)
            dp.set_xid(req)
            done = hub.Event()
            self.waiting[(dp.id, req.xid)] = done
            events.append(done)
            dp.send_msg(req)
        if not all(done.wait(timeout=10) for done in events):
            raise RuntimeError("a switch did not answer its barrier within 10 s")

    def setup(self, cmd):
        self.vni = cmd["vni"]
        self.members = [dict(m, dpid=int(m["dpid"], 16)) for m in cmd["members"]]
        dps = [self.datapaths[m["dpid"]] for m in self.members]
        for me, dp in zip(self.members, dps):
            for peer in self.members:
                if peer is not me:
                    self.egress(dp, dp.ofproto.OFPFC_ADD, peer, peer["endpoint"])
        self.barriers(dps)

    def rebind(self, cmd):
        moved = next(m for m in self.members if m["dpid"] == int(cmd["dpid"], 16))
        moved["endpoint"] = cmd["endpoint"]
        peers = [self.datapaths[m["dpid"]] for m in self.members if m is not moved]
        for dp in peers:
            self.egress(dp, dp.ofproto.OFPFC_MODIFY_STRICT, moved, cmd["endpoint"])
        self.barriers(peers)

    def serve(self, sock, _addr):
        stream = sock.makefile("rwb")
        for line in stream:
            start = time.perf_counter()
            cmd = json.loads(line)
            try:
                if cmd["op"] == "switches":
                    reply = {"switches": len(self.datapaths)}
                else:
                    {"setup": self.setup, "rebind": self.rebind}[cmd["op"]](cmd)
                    reply = {"ms": (time.perf_counter() - start) * 1000}
            except Exception as err:  # the bench reports it and stops
                reply = {"error": repr(err)}
            stream.write(json.dumps(reply).encode() + b"\n")
            stream.flush()
