/** Checks on the lab side of an OpenStack server: its namespace, router rules, disk (ssh: lab/openstack/ssh.ts). */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { openstackRoot } from "../../lab/openstack/services.ts";
import { names } from "../../lab/plan.ts";
import { run, runIn, sleep } from "../../lab/sh.ts";
import type { OpenStackLab } from "../support/openstack-lab.ts";

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  // The lab's network agent follows Neutron by polling; on a loaded machine a change took over 20 s.
  ms = 60_000,
) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(200);
  }
}

export function serverNetns(os: OpenStackLab, id: string): string {
  return names(os.labName).server(id);
}

export function routerNetns(os: OpenStackLab, cloud: string): string {
  return names(os.labName).router(cloud);
}

export function instanceDir(cloud: string, id: string): string {
  return join(openstackRoot(), "data", cloud, "nova", "instances", id);
}

/** The router's iptables rules (`iptables -S`, table `table`). */
export async function routerRules(os: OpenStackLab, cloud: string, table: "nat" | "filter"): Promise<string> {
  return (await runIn(routerNetns(os, cloud), "iptables", ["-w", "5", "-t", table, "-S"])).stdout;
}

/**
 * The rules the cloud's network agent has finished applying, `table`'s lines: it writes them once a
 * round is over (the router's rules replaced, the connections they no longer allow cut).
 */
export function netagentApplied(cloud: string, table: "nat" | "filter"): string {
  const status = join(openstackRoot(), "run", `${cloud}-netagent.json`);
  if (!existsSync(status)) return "";
  return (JSON.parse(readFileSync(status, "utf8")) as Record<typeof table, string[]>)[table].join("\n");
}

export async function netnsPids(ns: string): Promise<number[]> {
  const res = await run("ip", ["netns", "pids", ns], { check: false });
  return res.stdout.split("\n").filter(Boolean).map(Number);
}

export async function netnsExists(ns: string): Promise<boolean> {
  return (await run("ip", ["netns", "list"])).stdout.split("\n").some((l) => l.split(" ")[0] === ns);
}

export interface ServerView {
  readonly id: string;
  readonly status: string;
  readonly addresses: Record<string, string[]> | string;
}

/** The server's fixed IP (the first address Nova lists on `private`). */
export function fixedIp(s: ServerView): string {
  const a = s.addresses;
  const ip = typeof a === "string" ? /private=([\d.]+)/.exec(a)?.[1] : a.private?.[0];
  if (!ip) throw new Error(`server ${s.id} has no address on private: ${JSON.stringify(a)}`);
  return ip;
}

/** `openstack image create --file FILE NAME` (raw unless told, bare) as `entry`; returns the image's id. */
export async function uploadImageFile(
  os: OpenStackLab,
  entry: string,
  file: string,
  name: string,
  diskFormat = "raw",
): Promise<string> {
  const args = [
    "image",
    "create",
    "--disk-format",
    diskFormat,
    "--container-format",
    "bare",
    "--file",
    file,
    name,
  ];
  return (await os.json<{ id: string }>(entry, args, 300_000)).id;
}
