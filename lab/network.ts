/** The lab's network: the daemon, the root-namespace bridges, the cloud routers and the WAN links. */
import { must, startDaemon } from "./daemon.ts";
import type { Logger } from "./log.ts";
import { cloud } from "./lookup.ts";
import { MGMT_PREFIX, names, ROUTER_MGMT_IF, ROUTER_PROVIDER_IF, wanIf } from "./plan.ts";
import { run, scriptIn } from "./sh.ts";
import { type CloudState, LabError, type LabState, writeState } from "./state.ts";

export async function buildNetwork(state: LabState, log: Logger): Promise<void> {
  const n = names(state.name);
  const sock = state.daemon.socket;
  state.daemon.pid = await startDaemon(sock, state.daemon.log);
  writeState(state);
  log(`lab daemon pid ${state.daemon.pid}`);

  // Bridges in the root namespace: management network (with the machine's address) and one provider network per cloud.
  state.rootLinks.push(state.host.bridge, ...state.clouds.map((c) => c.bridge));
  writeState(state);
  await must(sock, { op: "addBridge", name: state.host.bridge });
  for (const c of state.clouds) await must(sock, { op: "addBridge", name: c.bridge });
  await run("ip", ["addr", "add", `${state.host.address}/${state.host.prefix}`, "dev", state.host.bridge]);

  // Routers: a leg on the provider network, a leg on the management network.
  for (const c of state.clouds) {
    const r = c.router;
    state.netns.push(r.netns);
    state.rootLinks.push(n.routerProviderPort(c.name), n.routerMgmtPort(c.name));
    writeState(state);
    r.pid = await addHost(state, r.node);
    await link(state, r.node, c.bridge, ROUTER_PROVIDER_IF, n.routerProviderPort(c.name));
    await link(state, r.node, state.host.bridge, ROUTER_MGMT_IF, n.routerMgmtPort(c.name));
  }
  // WAN: a point-to-point link per pair of clouds, HTB-limited when asked.
  for (const w of state.wan) {
    const ra = cloud(state, w.a).router;
    const rb = cloud(state, w.b).router;
    await must(sock, {
      op: "addLink",
      node1: ra.node,
      node2: rb.node,
      intf1: wanIf(w.b),
      intf2: wanIf(w.a),
      bw: w.mbit,
    });
  }
  writeState(state);
  await Promise.all(state.clouds.map((c) => configureRouter(c)));
  for (const c of state.clouds) {
    await run("ip", ["route", "add", c.floatingRange, "via", c.router.mgmtIp, "dev", state.host.bridge]);
  }
}

export async function addHost(state: LabState, node: string): Promise<number> {
  const reply = await must(state.daemon.socket, { op: "addHost", name: node });
  const pid = reply.pid;
  if (pid === undefined) throw new LabError("DAEMON", `lab daemon gave no pid for ${node}`);
  // A named namespace, like `ip netns add`: `ip netns exec` works, and it outlives the daemon until `lab down`.
  await run("ip", ["netns", "attach", node, String(pid)]);
  return pid;
}

export async function link(
  state: LabState,
  node: string,
  bridge: string,
  inside: string,
  rootPort: string,
): Promise<void> {
  await must(state.daemon.socket, {
    op: "addLink",
    node1: node,
    node2: bridge,
    intf1: inside,
    intf2: rootPort,
    bw: null,
  });
}

async function configureRouter(c: CloudState): Promise<void> {
  const r = c.router;
  const lines = [
    "ip link set lo up",
    "sysctl -qw net.ipv4.ip_forward=1",
    // Hairpin (one VM to another's floating IP in the same cloud) goes back out the provider leg: no redirects.
    "sysctl -qw net.ipv4.conf.all.send_redirects=0",
    `sysctl -qw net.ipv4.conf.${ROUTER_PROVIDER_IF}.send_redirects=0`,
    `ip addr add ${r.providerIp}/${c.providerPrefix} dev ${ROUTER_PROVIDER_IF}`,
    `ip addr add ${r.mgmtIp}/${MGMT_PREFIX} dev ${ROUTER_MGMT_IF}`,
    ...r.wan.map((w) => `ip addr add ${w.ip}/30 dev ${w.intf}`),
    // TX checksum offload off: a forwarded TCP packet must reach a VM's userspace OVS (AF_PACKET)
    // with its checksum finished, or the VM drops it.
    ...[ROUTER_PROVIDER_IF, ROUTER_MGMT_IF, ...r.wan.map((w) => w.intf)].flatMap((i) => [
      `ip link set ${i} up`,
      `ethtool -K ${i} tx off >/dev/null 2>&1 || true`,
    ]),
    ...r.routes.map((route) => `ip route add ${route}`),
  ];
  await scriptIn(r.netns, lines.join("\n"));
}
