import { describe, expect, it } from "vitest";
import {
  type Action,
  decodeMessage,
  encodeMessage,
  formatIpv6,
  formatMac,
  type Instruction,
  OFPAT,
  OFPIT,
  OFPP,
  OFPVID_PRESENT,
  type OfpMessage,
  OXM_FIELDS,
  type OxmField,
  type OxmFieldName,
  ProtoError,
  type ProtoErrorCode,
  parseIpv4,
  parseIpv6,
  parseMac,
} from "../../proto/index.ts";
import { hex, roundTrip, unhex } from "./helpers.ts";
import { expectOvsDecodes } from "./ovs-oracle.ts";
import { expectTsharkDecodes } from "./tshark-oracle.ts";

function flowMod(match: OxmField[], instructions: Instruction[] = []): OfpMessage {
  return {
    type: "FLOW_MOD",
    xid: 1,
    cookie: 0n,
    cookieMask: 0n,
    tableId: 0,
    command: "ADD",
    idleTimeout: 0,
    hardTimeout: 0,
    priority: 1,
    bufferId: 0xffffffff,
    outPort: OFPP.ANY,
    outGroup: 0xffffffff,
    flags: 0,
    match,
    instructions,
  };
}

function errorOf(f: () => unknown): ProtoError {
  try {
    f();
  } catch (e) {
    if (e instanceof ProtoError) return e;
    throw new Error(`expected a ProtoError, got ${String(e)}`);
  }
  throw new Error("expected a ProtoError, nothing was thrown");
}

function expectCode(f: () => unknown, code: ProtoErrorCode, text?: RegExp): void {
  const err = errorOf(f);
  expect(err.code, err.message).toBe(code);
  if (text) expect(err.message).toMatch(text);
}

describe("addresses", () => {
  it("MAC text <-> bytes, lowercase out", () => {
    expect(hex(parseMac("AA:bb:0c:dd:ee:0F"))).toBe("aabb0cddee0f");
    expect(formatMac(unhex("aabb0cddee0f"))).toBe("aa:bb:0c:dd:ee:0f");
  });

  it("IPv4 dotted <-> u32", () => {
    expect(parseIpv4("198.18.0.2")).toBe(0xc6120002);
    expect(parseIpv4("255.255.255.255")).toBe(0xffffffff);
    expect(parseIpv4("0.0.0.0")).toBe(0);
  });

  it.each([
    ["::", "::"],
    ["::1", "::1"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // first of two equal runs
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single zero word stays
    ["2001:0db8::0001", "2001:db8::1"],
    ["fe80::", "fe80::"],
    ["1:0:0:2:0:0:0:3", "1:0:0:2::3"], // the longest run wins
    ["::ffff:192.0.2.1", "::ffff:192.0.2.1"],
    ["::ffff:c000:0201", "::ffff:192.0.2.1"],
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
  ])("IPv6 %s is written %s (RFC 5952)", (text, canonical) => {
    expect(formatIpv6(parseIpv6(text))).toBe(canonical);
  });

  it.each([
    ["MAC", () => parseMac("aa:bb:cc:dd:ee", "ETH_DST")],
    ["MAC", () => parseMac("aa-bb-cc-dd-ee-ff", "ETH_DST")],
    ["MAC", () => parseMac("gg:bb:cc:dd:ee:ff", "ETH_DST")],
    ["IPv4", () => parseIpv4("1.2.3", "IPV4_DST")],
    ["IPv4", () => parseIpv4("1.2.3.256", "IPV4_DST")],
    ["IPv4", () => parseIpv4("01.2.3.4", "IPV4_DST")],
    ["IPv4", () => parseIpv4("1.2.3.4 ", "IPV4_DST")],
    ["IPv4", () => parseIpv4("1..3.4", "IPV4_DST")],
    ["IPv6", () => parseIpv6("1::2::3", "IPV6_DST")],
    ["IPv6", () => parseIpv6("1:2:3:4:5:6:7:8:9", "IPV6_DST")],
    ["IPv6", () => parseIpv6("1:2:3:4::5:6:7:8", "IPV6_DST")],
    ["IPv6", () => parseIpv6("12345::", "IPV6_DST")],
    ["IPv6", () => parseIpv6("1:", "IPV6_DST")],
    ["IPv6", () => parseIpv6(":1", "IPV6_DST")],
    ["IPv6", () => parseIpv6("fe80::1%eth0", "IPV6_DST")],
    ["IPv6", () => parseIpv6("1.2.3.4::", "IPV6_DST")],
  ])("invalid %s text is BAD_VALUE naming the field", (_kind, f) => {
    expectCode(f, "BAD_VALUE", /^(ETH_DST|IPV4_DST|IPV6_DST): /);
  });
});

/**
 * One row per named field: prerequisites OVS insists on, a value, OVS's text for it, and for a
 * maskable field a mask and OVS's text for the masked match. Fields OVS does not implement are
 * checked against Wireshark's dissector instead.
 */
interface FieldCase {
  prereq: OxmField[];
  value: OxmField;
  text: string;
  masked?: { value: OxmField; text: string };
  oracle?: "tshark";
}

const ip: OxmField[] = [{ field: "ETH_TYPE", value: 0x0800 }];
const ipv6: OxmField[] = [{ field: "ETH_TYPE", value: 0x86dd }];
const arp: OxmField[] = [{ field: "ETH_TYPE", value: 0x0806 }];
const mpls: OxmField[] = [{ field: "ETH_TYPE", value: 0x8847 }];
const proto = (base: OxmField[], p: number): OxmField[] => [...base, { field: "IP_PROTO", value: p }];
const icmp6 = (type: number): OxmField[] => [...proto(ipv6, 58), { field: "ICMPV6_TYPE", value: type }];
const vlan: OxmField[] = [{ field: "VLAN_VID", value: OFPVID_PRESENT | 10 }];

const FIELD_CASES: Record<OxmFieldName, FieldCase> = {
  IN_PORT: { prereq: [], value: { field: "IN_PORT", value: 7 }, text: "in_port=7" },
  IN_PHY_PORT: {
    prereq: [{ field: "IN_PORT", value: 7 }],
    value: { field: "IN_PHY_PORT", value: 3 },
    text: "OFPXMT_OFB_IN_PHY_PORT (1)",
    oracle: "tshark",
  },
  METADATA: {
    prereq: [],
    value: { field: "METADATA", value: 0x1122334455667788n },
    text: "metadata=0x1122334455667788",
    masked: { value: { field: "METADATA", value: 0x1200n, mask: 0xff00n }, text: "metadata=0x1200/0xff00" },
  },
  ETH_DST: {
    prereq: [],
    value: { field: "ETH_DST", value: "02:00:00:00:00:01" },
    text: "dl_dst=02:00:00:00:00:01",
    masked: {
      value: { field: "ETH_DST", value: "01:00:00:00:00:00", mask: "01:00:00:00:00:00" },
      text: "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00",
    },
  },
  ETH_SRC: {
    prereq: [],
    value: { field: "ETH_SRC", value: "02:00:00:00:00:02" },
    text: "dl_src=02:00:00:00:00:02",
    masked: {
      value: { field: "ETH_SRC", value: "02:00:00:00:00:00", mask: "ff:ff:ff:00:00:00" },
      text: "dl_src=02:00:00:00:00:00/ff:ff:ff:00:00:00",
    },
  },
  ETH_TYPE: { prereq: [], value: { field: "ETH_TYPE", value: 0x88cc }, text: "dl_type=0x88cc" },
  VLAN_VID: {
    prereq: [],
    value: { field: "VLAN_VID", value: OFPVID_PRESENT | 10 },
    text: "dl_vlan=10",
    masked: {
      value: { field: "VLAN_VID", value: OFPVID_PRESENT, mask: OFPVID_PRESENT },
      text: "vlan_tci=0x1000/0x1000",
    },
  },
  VLAN_PCP: { prereq: vlan, value: { field: "VLAN_PCP", value: 5 }, text: "dl_vlan_pcp=5" },
  IP_DSCP: { prereq: ip, value: { field: "IP_DSCP", value: 46 }, text: "nw_tos=184" },
  IP_ECN: { prereq: ip, value: { field: "IP_ECN", value: 3 }, text: "nw_ecn=3" },
  IP_PROTO: { prereq: ip, value: { field: "IP_PROTO", value: 47 }, text: "ip,nw_proto=47" },
  IPV4_SRC: {
    prereq: ip,
    value: { field: "IPV4_SRC", value: "10.0.0.1" },
    text: "nw_src=10.0.0.1",
    masked: {
      value: { field: "IPV4_SRC", value: "10.0.0.0", mask: "255.0.0.0" },
      text: "nw_src=10.0.0.0/8",
    },
  },
  IPV4_DST: {
    prereq: ip,
    value: { field: "IPV4_DST", value: "198.18.0.2" },
    text: "ip,nw_dst=198.18.0.2",
    masked: {
      value: { field: "IPV4_DST", value: "198.18.0.0", mask: "255.255.255.0" },
      text: "nw_dst=198.18.0.0/24",
    },
  },
  TCP_SRC: { prereq: proto(ip, 6), value: { field: "TCP_SRC", value: 80 }, text: "tcp,tp_src=80" },
  TCP_DST: { prereq: proto(ip, 6), value: { field: "TCP_DST", value: 443 }, text: "tcp,tp_dst=443" },
  UDP_SRC: { prereq: proto(ip, 17), value: { field: "UDP_SRC", value: 53 }, text: "udp,tp_src=53" },
  UDP_DST: { prereq: proto(ip, 17), value: { field: "UDP_DST", value: 4789 }, text: "udp,tp_dst=4789" },
  SCTP_SRC: { prereq: proto(ip, 132), value: { field: "SCTP_SRC", value: 9 }, text: "sctp,tp_src=9" },
  SCTP_DST: { prereq: proto(ip, 132), value: { field: "SCTP_DST", value: 10 }, text: "sctp,tp_dst=10" },
  ICMPV4_TYPE: { prereq: proto(ip, 1), value: { field: "ICMPV4_TYPE", value: 8 }, text: "icmp,icmp_type=8" },
  ICMPV4_CODE: { prereq: proto(ip, 1), value: { field: "ICMPV4_CODE", value: 3 }, text: "icmp,icmp_code=3" },
  ARP_OP: { prereq: arp, value: { field: "ARP_OP", value: 2 }, text: "arp,arp_op=2" },
  ARP_SPA: {
    prereq: arp,
    value: { field: "ARP_SPA", value: "10.0.0.1" },
    text: "arp_spa=10.0.0.1",
    masked: {
      value: { field: "ARP_SPA", value: "10.0.0.0", mask: "255.255.0.0" },
      text: "arp_spa=10.0.0.0/16",
    },
  },
  ARP_TPA: {
    prereq: arp,
    value: { field: "ARP_TPA", value: "10.0.0.2" },
    text: "arp_tpa=10.0.0.2",
    masked: {
      value: { field: "ARP_TPA", value: "10.0.0.0", mask: "255.255.255.0" },
      text: "arp_tpa=10.0.0.0/24",
    },
  },
  ARP_SHA: {
    prereq: arp,
    value: { field: "ARP_SHA", value: "00:11:22:33:44:55" },
    text: "arp_sha=00:11:22:33:44:55",
    masked: {
      value: { field: "ARP_SHA", value: "00:11:22:00:00:00", mask: "ff:ff:ff:00:00:00" },
      text: "arp_sha=00:11:22:00:00:00/ff:ff:ff:00:00:00",
    },
  },
  ARP_THA: {
    prereq: arp,
    value: { field: "ARP_THA", value: "00:11:22:33:44:66" },
    text: "arp_tha=00:11:22:33:44:66",
    masked: {
      value: { field: "ARP_THA", value: "00:11:22:00:00:00", mask: "ff:ff:ff:00:00:00" },
      text: "arp_tha=00:11:22:00:00:00/ff:ff:ff:00:00:00",
    },
  },
  IPV6_SRC: {
    prereq: ipv6,
    value: { field: "IPV6_SRC", value: "2001:db8::1" },
    text: "ipv6,ipv6_src=2001:db8::1",
    masked: {
      value: { field: "IPV6_SRC", value: "2001:db8::", mask: "ffff:ffff::" },
      text: "ipv6_src=2001:db8::/32",
    },
  },
  IPV6_DST: {
    prereq: ipv6,
    value: { field: "IPV6_DST", value: "fd00::2" },
    text: "ipv6_dst=fd00::2",
    masked: {
      value: { field: "IPV6_DST", value: "fd00::", mask: "ff00::" },
      text: "ipv6_dst=fd00::/8",
    },
  },
  IPV6_FLABEL: {
    prereq: ipv6,
    value: { field: "IPV6_FLABEL", value: 0x12345 },
    text: "ipv6_label=0x12345",
    masked: {
      value: { field: "IPV6_FLABEL", value: 0x12300, mask: 0xfff00 },
      text: "ipv6_label=0x12300/0xfff00",
    },
  },
  ICMPV6_TYPE: {
    prereq: proto(ipv6, 58),
    value: { field: "ICMPV6_TYPE", value: 128 },
    text: "icmp6,icmp_type=128",
  },
  ICMPV6_CODE: {
    prereq: proto(ipv6, 58),
    value: { field: "ICMPV6_CODE", value: 1 },
    text: "icmp6,icmp_code=1",
  },
  IPV6_ND_TARGET: {
    prereq: icmp6(135),
    value: { field: "IPV6_ND_TARGET", value: "fe80::1" },
    text: "nd_target=fe80::1",
  },
  IPV6_ND_SLL: {
    prereq: icmp6(135),
    value: { field: "IPV6_ND_SLL", value: "00:11:22:33:44:55" },
    text: "nd_sll=00:11:22:33:44:55",
  },
  IPV6_ND_TLL: {
    prereq: icmp6(136),
    value: { field: "IPV6_ND_TLL", value: "00:11:22:33:44:55" },
    text: "nd_tll=00:11:22:33:44:55",
  },
  MPLS_LABEL: {
    prereq: mpls,
    value: { field: "MPLS_LABEL", value: 0xfffff },
    text: "mpls,mpls_label=1048575",
  },
  MPLS_TC: { prereq: mpls, value: { field: "MPLS_TC", value: 5 }, text: "mpls_tc=5" },
  MPLS_BOS: { prereq: mpls, value: { field: "MPLS_BOS", value: 1 }, text: "mpls_bos=1" },
  PBB_ISID: {
    prereq: [{ field: "ETH_TYPE", value: 0x88e7 }],
    value: { field: "PBB_ISID", value: 0x123456 },
    text: "OFPXMT_OFB_PBB_ISID (37)",
    masked: {
      value: { field: "PBB_ISID", value: 0x123400, mask: 0xffff00 },
      text: "Mask: ffff00",
    },
    oracle: "tshark",
  },
  TUNNEL_ID: {
    prereq: [],
    value: { field: "TUNNEL_ID", value: 42n },
    text: "tun_id=0x2a",
    masked: { value: { field: "TUNNEL_ID", value: 0x2a00n, mask: 0xff00n }, text: "tun_id=0x2a00/0xff00" },
  },
  IPV6_EXTHDR: {
    prereq: ipv6,
    value: { field: "IPV6_EXTHDR", value: 0x1ff },
    text: "OFPXMT_OFB_IPV6_EXTHDR (39)",
    masked: { value: { field: "IPV6_EXTHDR", value: 0x001, mask: 0x101 }, text: "Mask: 0101" },
    oracle: "tshark",
  },
  TUN_IPV4_SRC: {
    prereq: [],
    value: { field: "TUN_IPV4_SRC", value: "192.0.2.1" },
    text: "tun_src=192.0.2.1",
    masked: {
      value: { field: "TUN_IPV4_SRC", value: "192.0.2.0", mask: "255.255.255.0" },
      text: "tun_src=192.0.2.0/24",
    },
  },
  TUN_IPV4_DST: {
    prereq: [],
    value: { field: "TUN_IPV4_DST", value: "192.0.2.20" },
    text: "tun_dst=192.0.2.20",
    masked: {
      value: { field: "TUN_IPV4_DST", value: "192.0.0.0", mask: "255.255.0.0" },
      text: "tun_dst=192.0.0.0/16",
    },
  },
};

function checkByOracle(c: FieldCase, bytes: Uint8Array, text: string): void {
  if (c.oracle === "tshark") expectTsharkDecodes(bytes, text);
  else expectOvsDecodes(bytes, text);
}

describe("OXM fields", () => {
  it("the test table covers every named field, and masks exactly where the spec allows them", () => {
    expect(Object.keys(FIELD_CASES).sort()).toEqual(Object.keys(OXM_FIELDS).sort());
    for (const [name, c] of Object.entries(FIELD_CASES)) {
      expect(c.masked !== undefined, name).toBe(OXM_FIELDS[name as OxmFieldName].maskable);
    }
  });

  it.each(Object.entries(FIELD_CASES))("%s encodes, round-trips and reads back", (_name, c) => {
    const bytes = roundTrip(flowMod([...c.prereq, c.value]));
    checkByOracle(c, bytes, c.text);
  });

  it.each(Object.entries(FIELD_CASES).filter(([, c]) => c.masked))("%s with a mask", (_name, c) => {
    const bytes = roundTrip(flowMod([...c.prereq, c.masked!.value]));
    checkByOracle(c, bytes, c.masked!.text);
  });

  it("writes the spec's header words: class, field, has-mask bit and payload length", () => {
    const bytes = encodeMessage(
      flowMod([
        { field: "IN_PORT", value: 1 },
        { field: "TUN_IPV4_DST", value: "192.0.2.0", mask: "255.255.255.0" },
        { field: "PBB_ISID", value: 0x010203 },
      ]),
    );
    // Match at 48: type 1, length 4 + 8 + 12 + 7 = 31, then padding to 32.
    expect(hex(bytes.subarray(48, 48 + 32))).toBe(
      "0001001f 80000004 00000001 00014108 c0000200 ffffff00 80004a03 010203 00".replace(/ /g, ""),
    );
  });

  it("keeps a field we do not name as raw bytes, which round-trip (NXM reg0, OVS reads it)", () => {
    const reg0: OxmField = {
      field: "UNKNOWN",
      oxmClass: 0x0001,
      oxmField: 0,
      hasMask: false,
      value: unhex("0000002a"),
    };
    const bytes = roundTrip(flowMod([reg0]));
    expectOvsDecodes(bytes, "reg0=0x2a");
    const masked: OxmField = { ...reg0, hasMask: true, value: unhex("0000002a000000ff") };
    expectOvsDecodes(roundTrip(flowMod([masked])), "reg0=0x2a/0xff");
  });

  it("an empty match is valid: match every packet", () => {
    const bytes = roundTrip(flowMod([]));
    expect(hex(bytes.subarray(48, 56))).toBe("0001000400000000");
    expectOvsDecodes(bytes, "ADD priority=1 actions=drop");
  });
});

/** One row per action kind, with the match OVS wants for it, and OVS's (or Wireshark's) text. */
const ACTION_CASES: [Action["kind"], Action[], OxmField[], string, "tshark"?][] = [
  ["OUTPUT", [{ kind: "OUTPUT", port: OFPP.CONTROLLER, maxLen: 0xffff }], [], "actions=CONTROLLER:65535"],
  ["COPY_TTL_OUT", [{ kind: "COPY_TTL_OUT" }], mpls, "OFPAT_COPY_TTL_OUT (11)", "tshark"],
  ["COPY_TTL_IN", [{ kind: "COPY_TTL_IN" }], mpls, "OFPAT_COPY_TTL_IN (12)", "tshark"],
  ["SET_MPLS_TTL", [{ kind: "SET_MPLS_TTL", ttl: 9 }], mpls, "actions=set_mpls_ttl(9)"],
  ["DEC_MPLS_TTL", [{ kind: "DEC_MPLS_TTL" }], mpls, "actions=dec_mpls_ttl"],
  ["PUSH_VLAN", [{ kind: "PUSH_VLAN", ethertype: 0x88a8 }], [], "actions=push_vlan:0x88a8"],
  ["POP_VLAN", [{ kind: "POP_VLAN" }], vlan, "actions=pop_vlan"],
  ["PUSH_MPLS", [{ kind: "PUSH_MPLS", ethertype: 0x8847 }], ip, "actions=push_mpls:0x8847"],
  ["POP_MPLS", [{ kind: "POP_MPLS", ethertype: 0x0800 }], mpls, "actions=pop_mpls:0x0800"],
  ["SET_QUEUE", [{ kind: "SET_QUEUE", queueId: 3 }], [], "actions=set_queue:3"],
  ["GROUP", [{ kind: "GROUP", groupId: 5 }], [], "actions=group:5"],
  ["SET_NW_TTL", [{ kind: "SET_NW_TTL", ttl: 9 }], ip, "actions=mod_nw_ttl:9"],
  ["DEC_NW_TTL", [{ kind: "DEC_NW_TTL" }], ip, "actions=dec_ttl"],
  [
    "SET_FIELD",
    [{ kind: "SET_FIELD", oxm: { field: "ETH_DST", value: "02:00:00:00:00:09" } }],
    [],
    "actions=set_field:02:00:00:00:00:09->eth_dst",
  ],
  ["PUSH_PBB", [{ kind: "PUSH_PBB", ethertype: 0x88e7 }], [], "OFPAT_PUSH_PBB (26)", "tshark"],
  ["POP_PBB", [{ kind: "POP_PBB" }], [], "OFPAT_POP_PBB (27)", "tshark"],
  [
    "EXPERIMENTER",
    // Nicira resubmit (subtype 1) to port 5: OVS's own extension, so OVS reads it.
    [{ kind: "EXPERIMENTER", experimenter: 0x2320, data: unhex("0001 0005 00000000") }],
    [],
    "actions=resubmit:5",
  ],
];

describe("actions", () => {
  it("the test table covers every action type", () => {
    expect(ACTION_CASES.map((c) => c[0]).sort()).toEqual(Object.keys(OFPAT).sort());
  });

  it.each(ACTION_CASES)("%s", (_kind, actions, match, text, oracle) => {
    const bytes = roundTrip(flowMod(match, [{ kind: "APPLY_ACTIONS", actions }]));
    if (oracle === "tshark") expectTsharkDecodes(bytes, text);
    else expectOvsDecodes(bytes, text);
  });

  it.each<[string, Action, string]>([
    [
      "tun_dst (NXM)",
      { kind: "SET_FIELD", oxm: { field: "TUN_IPV4_DST", value: "192.0.2.20" } },
      "192.0.2.20->tun_dst",
    ],
    [
      "tun_id",
      { kind: "SET_FIELD", oxm: { field: "TUNNEL_ID", value: 0x1234n } },
      "set_field:0x1234->tun_id",
    ],
    ["ipv4_dst", { kind: "SET_FIELD", oxm: { field: "IPV4_DST", value: "10.1.2.3" } }, "10.1.2.3->ip_dst"],
    [
      "vlan_vid",
      { kind: "SET_FIELD", oxm: { field: "VLAN_VID", value: OFPVID_PRESENT | 7 } },
      "4103->vlan_vid",
    ],
    ["ipv6_src", { kind: "SET_FIELD", oxm: { field: "IPV6_SRC", value: "fd00::7" } }, "fd00::7->ipv6_src"],
    ["metadata", { kind: "SET_FIELD", oxm: { field: "METADATA", value: 9n } }, "set_field:0x9->metadata"],
  ])("set_field %s", (_name, action, text) => {
    const match: OxmField[] = action.kind === "SET_FIELD" && action.oxm.field === "IPV6_SRC" ? ipv6 : ip;
    const withVlan =
      action.kind === "SET_FIELD" && action.oxm.field === "VLAN_VID" ? [...match, ...vlan] : match;
    expectOvsDecodes(roundTrip(flowMod(withVlan, [{ kind: "APPLY_ACTIONS", actions: [action] }])), text);
  });

  it("pads set_field to 8 bytes: a 4-byte OXM makes a 16-byte action", () => {
    const bytes = encodeMessage(
      flowMod(
        [],
        [
          {
            kind: "APPLY_ACTIONS",
            actions: [{ kind: "SET_FIELD", oxm: { field: "TUN_IPV4_DST", value: "192.0.2.20" } }],
          },
        ],
      ),
    );
    expect(hex(bytes.subarray(56 + 8))).toBe("00190010 00014004 c0000214 00000000".replace(/ /g, ""));
  });
});

const INSTRUCTION_CASES: [Instruction["kind"], Instruction[], string, "tshark"?][] = [
  ["GOTO_TABLE", [{ kind: "GOTO_TABLE", tableId: 3 }], "actions=goto_table:3"],
  [
    "WRITE_METADATA",
    [{ kind: "WRITE_METADATA", metadata: 0x5n, mask: 0xffn }],
    "actions=write_metadata:0x5/0xff",
  ],
  [
    "WRITE_ACTIONS",
    [{ kind: "WRITE_ACTIONS", actions: [{ kind: "OUTPUT", port: 2, maxLen: 0 }] }],
    "actions=write_actions(output:2)",
  ],
  [
    "APPLY_ACTIONS",
    [
      {
        kind: "APPLY_ACTIONS",
        actions: [
          { kind: "OUTPUT", port: 1, maxLen: 0 },
          { kind: "OUTPUT", port: 2, maxLen: 0 },
        ],
      },
    ],
    "actions=output:1,output:2",
  ],
  ["CLEAR_ACTIONS", [{ kind: "CLEAR_ACTIONS" }], "actions=clear_actions"],
  ["METER", [{ kind: "METER", meterId: 7 }], "actions=meter:7"],
  [
    "EXPERIMENTER",
    [{ kind: "EXPERIMENTER", experimenter: 0x00abcdef, data: unhex("0102030405060708") }],
    "Experimenter: 0x00abcdef",
    "tshark",
  ],
];

describe("instructions", () => {
  it("the test table covers every instruction type", () => {
    expect(INSTRUCTION_CASES.map((c) => c[0]).sort()).toEqual(Object.keys(OFPIT).sort());
  });

  it.each(INSTRUCTION_CASES)("%s", (_kind, instructions, text, oracle) => {
    const bytes = roundTrip(flowMod([], instructions));
    if (oracle === "tshark") expectTsharkDecodes(bytes, text);
    else expectOvsDecodes(bytes, text);
  });

  it("several instructions in the spec's order", () => {
    const bytes = roundTrip(
      flowMod(vlan, [
        { kind: "METER", meterId: 1 },
        { kind: "APPLY_ACTIONS", actions: [{ kind: "POP_VLAN" }] },
        { kind: "CLEAR_ACTIONS" },
        { kind: "WRITE_ACTIONS", actions: [{ kind: "GROUP", groupId: 2 }] },
        { kind: "WRITE_METADATA", metadata: 1n, mask: 1n },
        { kind: "GOTO_TABLE", tableId: 4 },
      ]),
    );
    expectOvsDecodes(
      bytes,
      "actions=meter:1,pop_vlan,clear_actions,write_actions(group:2),write_metadata:0x1/0x1,goto_table:4",
    );
  });
});

/** A FLOW_MOD's bytes with `match` hex at offset 48 and `instructions` hex after it. */
function rawFlowMod(matchHex: string, instructionsHex = ""): Uint8Array {
  const body =
    unhex(`0000000000000000 0000000000000000 00 00 0000 0000 0001 ffffffff ffffffff ffffffff 0000 0000
    ${matchHex} ${instructionsHex}`);
  const msg = new Uint8Array(8 + body.length);
  msg.set(unhex("040e0000 00000001"));
  msg.set(body, 8);
  new DataView(msg.buffer).setUint16(2, msg.length);
  return msg;
}

describe("bad input", () => {
  it("is decodable when well formed (the baseline the cases below break)", () => {
    const ok = rawFlowMod(
      "0001 000c 80000004 00000001 00000000",
      "0004 0018 00000000 0000 0010 00000002 0000 000000000000",
    );
    expect(decodeMessage(ok)).toMatchObject({
      type: "FLOW_MOD",
      match: [{ field: "IN_PORT", value: 2 - 1 }],
    });
    expectOvsDecodes(ok, "in_port=1 actions=output:2");
  });

  it.each<[string, string, string, ProtoErrorCode, RegExp]>([
    [
      "zero-length action",
      "0001 0004 00000000",
      "0004 0010 00000000 0000 0000 00000000",
      "BAD_LENGTH",
      /action length 0/,
    ],
    [
      "action length not a multiple of 8",
      "0001 0004 00000000",
      "0004 0018 00000000 0000 000c 00000002 00000000 00000000",
      "BAD_LENGTH",
      /action length 12 is not a multiple of 8/,
    ],
    [
      "action past its instruction",
      "0001 0004 00000000",
      "0004 0010 00000000 0000 0010 00000002",
      "BAD_LENGTH",
      /past its container/,
    ],
    [
      "OUTPUT of the wrong size",
      "0001 0004 00000000",
      "0004 0020 00000000 0000 0018 00000002 0000 000000000000 0000000000000000",
      "BAD_LENGTH",
      /length 24, expected 16/,
    ],
    [
      "unknown action type",
      "0001 0004 00000000",
      "0004 0010 00000000 0063 0008 00000000",
      "BAD_TYPE",
      /action type 99/,
    ],
    [
      "zero-length instruction",
      "0001 0004 00000000",
      "0001 0000 00000000",
      "BAD_LENGTH",
      /instruction length 0/,
    ],
    [
      "unknown instruction type",
      "0001 0004 00000000",
      "0063 0008 00000000",
      "BAD_TYPE",
      /instruction type 99/,
    ],
    ["zero-length OXM", "0001 0008 80000000 00000000", "", "BAD_LENGTH", /OXM payload length 0/],
    [
      "wrong OXM length for a known field",
      "0001 000e 80000006 000000010000 0000",
      "",
      "BAD_FIELD",
      /IN_PORT: OXM length 6, expected 4/,
    ],
    [
      "masked OXM of the wrong length",
      "0001 000c 80001704 0a000000 00000000",
      "",
      "BAD_FIELD",
      /IPV4_SRC \(masked\)/,
    ],
    [
      "OXM running past its match",
      "0001 000a 80000004 000000 00000000 00",
      "",
      "BAD_LENGTH",
      /past its match/,
    ],
    [
      "match length past its container",
      "0001 0040 80000004 00000001",
      "",
      "BAD_LENGTH",
      /match length 64 runs past/,
    ],
    ["match length < 4", "0001 0002 00000000", "", "BAD_LENGTH", /match length 2 < 4/],
    ["a match of type STANDARD (OpenFlow 1.1)", "0000 0004 00000000", "", "BAD_TYPE", /match type 0/],
    [
      "a value over its field's bits",
      "0001 000a 80000c02 2000 000000000000",
      "",
      "BAD_VALUE",
      /VLAN_VID: 8192 is over 8191/,
    ],
    [
      "a masked value with bits outside its mask",
      "0001 0010 80001908 0a000001 ff000000",
      "",
      "BAD_VALUE",
      /IPV4_DST: value has 1-bits/,
    ],
    [
      "set_field with a masked OXM",
      "0001 0004 00000000",
      "0004 0018 00000000 0019 0010 80001908 0a000000 ff000000",
      "BAD_FIELD",
      /set_field OXM cannot have a mask/,
    ],
    [
      "set_field with room for two OXMs",
      "0001 0004 00000000",
      "0004 0020 00000000 0019 0018 80000004 00000001 80000004 00000002 00000000",
      "BAD_LENGTH",
      /set_field/,
    ],
    ["unknown flow_mod command", "0001 0004 00000000", "", "BAD_VALUE", /flow_mod command: unknown value 9/],
  ])("%s gives %s", (_name, matchHex, instructionsHex, code, text) => {
    const bytes = rawFlowMod(matchHex, instructionsHex);
    if (_name === "unknown flow_mod command") bytes[8 + 17] = 9;
    expectCode(() => decodeMessage(bytes), code, text);
  });

  it("every length error names an offset inside the message", () => {
    const bytes = rawFlowMod("0001 0004 00000000", "0004 0010 00000000 0000 0000 00000000");
    const err = errorOf(() => decodeMessage(bytes));
    expect(err.offset).toBe(56 + 8);
  });

  it.each<[string, OxmField[], Instruction[], ProtoErrorCode, RegExp]>([
    [
      "set_field with a mask",
      [],
      [
        {
          kind: "APPLY_ACTIONS",
          actions: [
            {
              kind: "SET_FIELD",
              // A caller bypassing the type: the encoder still refuses it.
              oxm: { field: "IPV4_DST", value: "10.0.0.0", mask: "255.0.0.0" } as unknown as {
                field: "IPV4_DST";
                value: string;
              },
            },
          ],
        },
      ],
      "BAD_FIELD",
      /set_field IPV4_DST: a set_field OXM cannot have a mask/,
    ],
    [
      "a mask where the spec has none",
      [{ field: "IN_PORT", value: 1, mask: 1 }],
      [],
      "BAD_FIELD",
      /IN_PORT is not maskable/,
    ],
    [
      "a value over its field's bits",
      [{ field: "VLAN_PCP", value: 8 }],
      [],
      "BAD_VALUE",
      /VLAN_PCP: 8 is not an integer in 0..7/,
    ],
    [
      "a mask over its field's bits",
      [{ field: "IPV6_FLABEL", value: 1, mask: 0x100001 }],
      [],
      "BAD_VALUE",
      /IPV6_FLABEL mask/,
    ],
    [
      "value bits outside the mask",
      [{ field: "IPV4_DST", value: "10.0.0.1", mask: "255.0.0.0" }],
      [],
      "BAD_VALUE",
      /value has 1-bits/,
    ],
    [
      "a bad address",
      [{ field: "IPV4_DST", value: "10.0.0" }],
      [],
      "BAD_VALUE",
      /IPV4_DST: '10.0.0' is not an IPv4 address/,
    ],
    [
      "a bad MAC mask",
      [{ field: "ETH_DST", value: "02:00:00:00:00:00", mask: "ff:ff" }],
      [],
      "BAD_VALUE",
      /ETH_DST mask/,
    ],
    [
      "a number for a bigint field",
      [{ field: "TUNNEL_ID", value: 5 as unknown as bigint }],
      [],
      "BAD_VALUE",
      /TUNNEL_ID/,
    ],
    [
      "an unknown field name",
      [{ field: "NOPE" } as unknown as OxmField],
      [],
      "BAD_FIELD",
      /unknown OXM field 'NOPE'/,
    ],
    [
      "experimenter action data not a multiple of 8",
      [],
      [
        {
          kind: "APPLY_ACTIONS",
          actions: [{ kind: "EXPERIMENTER", experimenter: 1, data: new Uint8Array(3) }],
        },
      ],
      "BAD_LENGTH",
      /multiple of 8/,
    ],
    [
      "an unknown action kind",
      [],
      [{ kind: "APPLY_ACTIONS", actions: [{ kind: "NOPE" } as unknown as Action] }],
      "BAD_TYPE",
      /unknown action kind 'NOPE'/,
    ],
  ])("encoding %s gives %s", (_name, match, instructions, code, text) => {
    expectCode(() => encodeMessage(flowMod(match, instructions)), code, text);
  });
});
