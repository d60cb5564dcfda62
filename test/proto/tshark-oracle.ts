import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";

/**
 * Wireshark's OpenFlow 1.3 dissector as a second oracle, for the spec features Open vSwitch does not
 * implement (and so refuses to print): IN_PHY_PORT, PBB_ISID, IPV6_EXTHDR, COPY_TTL_*, PBB actions.
 * The message is wrapped in a one-packet pcap as a TCP segment from port 6653.
 */
function pcapOf(payload: Uint8Array): Uint8Array {
  const ipLen = 20 + 20 + payload.length;
  const frame = new Uint8Array(14 + ipLen);
  const f = new DataView(frame.buffer);
  f.setUint16(12, 0x0800);
  f.setUint8(14, 0x45);
  f.setUint16(16, ipLen);
  f.setUint8(22, 64);
  f.setUint8(23, 6);
  frame.set([127, 0, 0, 1, 127, 0, 0, 1], 26);
  let sum = 0;
  for (let i = 14; i < 34; i += 2) sum += f.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  f.setUint16(24, ~sum & 0xffff);
  f.setUint16(34, 6653);
  f.setUint16(36, 40000);
  f.setUint32(38, 1);
  f.setUint8(46, 0x50);
  f.setUint8(47, 0x18);
  f.setUint16(48, 0xffff);
  frame.set(payload, 54);
  const out = new Uint8Array(24 + 16 + frame.length);
  const o = new DataView(out.buffer);
  o.setUint32(0, 0xa1b2c3d4, true);
  o.setUint16(4, 2, true);
  o.setUint16(6, 4, true);
  o.setUint32(16, 0xffff, true);
  o.setUint32(20, 1, true); // LINKTYPE_ETHERNET
  o.setUint32(32, frame.length, true);
  o.setUint32(36, frame.length, true);
  out.set(frame, 40);
  return out;
}

export function tsharkPrint(bytes: Uint8Array): string {
  const dir = mkdtempSync(join(tmpdir(), "icsdn-tshark-"));
  try {
    const file = join(dir, "msg.pcap");
    writeFileSync(file, pcapOf(bytes));
    const res = spawnSync("tshark", ["-r", file, "-O", "openflow_v4", "-o", "tcp.check_checksum:FALSE"], {
      encoding: "utf8",
    });
    if (res.error) throw res.error;
    return res.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Asserts Wireshark dissects `bytes` as OpenFlow 1.3 without complaint and shows every `expected` piece. */
export function expectTsharkDecodes(bytes: Uint8Array, ...expected: (string | RegExp)[]): string {
  const out = tsharkPrint(bytes);
  const context = `tshark said:\n${out}`;
  expect(out, context).toContain("OpenFlow 1.3");
  // Notes ("Undecoded" experimenter bodies) are fine; warnings and errors are not.
  expect(out, context).not.toMatch(/Malformed|Expert Info \((Warning|Error)/);
  for (const e of expected) {
    if (typeof e === "string") expect(out, context).toContain(e);
    else expect(out, context).toMatch(e);
  }
  return out;
}
