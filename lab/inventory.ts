/** What is on the machine: named namespaces, the pids inside one, root-namespace links. */
import { run } from "./sh.ts";

export async function listNetns(): Promise<string[]> {
  const res = await run("ip", ["netns", "list"], { check: false });
  return res.stdout
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter(Boolean);
}

export async function netnsPids(ns: string): Promise<number[]> {
  const res = await run("ip", ["netns", "pids", ns], { check: false });
  if (res.code !== 0) return [];
  return res.stdout
    .split("\n")
    .map((l) => Number(l.trim()))
    .filter((p) => Number.isInteger(p) && p > 1);
}

export async function rootLinks(): Promise<string[]> {
  const res = await run("ip", ["-j", "link", "show"], { check: false });
  if (res.code !== 0 || !res.stdout) return [];
  return (JSON.parse(res.stdout) as { ifname: string }[]).map((l) => l.ifname);
}

export async function deleteLink(ifname: string): Promise<boolean> {
  const res = await run("ip", ["link", "del", ifname], { check: false });
  return res.code === 0;
}
