import { expect } from "vitest";
import {
  decodeMessage,
  encodeMessage,
  type FlowMod,
  OFP_NO_BUFFER,
  OFPG,
  OFPP,
  type OfpMessage,
  ProtoError,
} from "../../proto/index.ts";

export const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
export const unhex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ""), "hex"));

/** Encodes `m`, checks that decoding gives `m` back, and returns the bytes. */
export function roundTrip(m: OfpMessage): Uint8Array {
  const bytes = encodeMessage(m);
  expect(decodeMessage(bytes)).toEqual(m);
  return bytes;
}

/** The ProtoError `f` throws; fails the test if it throws something else or nothing. */
export function protoErrorOf(f: () => unknown): ProtoError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ProtoError);
    return e as ProtoError;
  }
  throw new Error("expected a ProtoError, nothing was thrown");
}

/**
 * The egress rule a rebind installs on a peer, laid out as vm-init builds the bridge (vint0 is
 * port 2, enc0 port 1): IPv4 to the moved VM's cluster address goes into the tunnel to its new
 * endpoint with the cluster's VNI.
 */
export function egressFlowMod(xid = 0x10): FlowMod {
  return flowMod(xid, {
    cookie: 0x1c00002a01000000n,
    match: [
      { field: "IN_PORT", value: 2 },
      { field: "ETH_TYPE", value: 0x0800 },
      { field: "IPV4_DST", value: "198.18.0.2" },
    ],
    instructions: [
      {
        kind: "APPLY_ACTIONS",
        actions: [
          { kind: "SET_FIELD", oxm: { field: "TUN_IPV4_DST", value: "203.0.113.20" } },
          { kind: "SET_FIELD", oxm: { field: "TUNNEL_ID", value: 42n } },
          { kind: "OUTPUT", port: 1, maxLen: 0 },
        ],
      },
    ],
  });
}

/** An ADD to table 0 at priority 100 with no match and no instructions, then `over`. */
export function flowMod(xid: number, over: Partial<Omit<FlowMod, "type" | "xid">> = {}): FlowMod {
  return {
    type: "FLOW_MOD",
    xid,
    cookie: 0n,
    cookieMask: 0n,
    tableId: 0,
    command: "ADD",
    idleTimeout: 0,
    hardTimeout: 0,
    priority: 100,
    bufferId: OFP_NO_BUFFER,
    outPort: OFPP.ANY,
    outGroup: OFPG.ANY,
    flags: 0,
    match: [],
    instructions: [],
    ...over,
  };
}
