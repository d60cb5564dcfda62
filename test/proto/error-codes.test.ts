import { describe, expect, it } from "vitest";
import {
  decodeMessage,
  ERROR_CODES,
  encodeMessage,
  errorCodeName,
  errorTypeName,
  experimenterErrorName,
  OFPBFC,
  OFPET,
} from "../../proto/index.ts";
import { expectOvsDecodes } from "./ovs-oracle.ts";

/** The prefix of each type's code names in openflow.h (OFPBRC_BAD_TYPE ...). */
const PREFIX: Record<keyof typeof ERROR_CODES, string> = {
  HELLO_FAILED: "OFPHFC",
  BAD_REQUEST: "OFPBRC",
  BAD_ACTION: "OFPBAC",
  BAD_INSTRUCTION: "OFPBIC",
  BAD_MATCH: "OFPBMC",
  FLOW_MOD_FAILED: "OFPFMFC",
  GROUP_MOD_FAILED: "OFPGMFC",
  PORT_MOD_FAILED: "OFPPMFC",
  TABLE_MOD_FAILED: "OFPTMFC",
  QUEUE_OP_FAILED: "OFPQOFC",
  SWITCH_CONFIG_FAILED: "OFPSCFC",
  ROLE_REQUEST_FAILED: "OFPRRFC",
  METER_MOD_FAILED: "OFPMMFC",
  TABLE_FEATURES_FAILED: "OFPTFFC",
};

/** Where OVS 3.1 prints another (older or shared) name for the same type and code. */
const OVS_NAME: Record<string, string> = {
  OFPBRC_BAD_MULTIPART: "OFPBRC_BAD_STAT",
  OFPBRC_BAD_EXPERIMENTER: "OFPBRC_BAD_VENDOR",
  OFPBRC_BAD_EXP_TYPE: "OFPBRC_BAD_SUBTYPE",
  OFPBRC_IS_SLAVE: "OFPBRC_IS_SECONDARY",
  OFPBAC_BAD_EXPERIMENTER: "OFPBAC_BAD_VENDOR",
  OFPBAC_BAD_EXP_TYPE: "OFPBAC_BAD_VENDOR_TYPE",
  OFPTFFC_BAD_TYPE: "OFPBPC_BAD_TYPE",
  OFPTFFC_BAD_LEN: "OFPBPC_BAD_LEN",
  OFPTFFC_BAD_ARGUMENT: "OFPBPC_BAD_VALUE",
};

const table = Object.entries(ERROR_CODES).flatMap(([typeName, codes]) =>
  Object.entries(codes).map(([codeName, code]) => ({
    typeName: typeName as keyof typeof ERROR_CODES,
    codeName,
    errorType: OFPET[typeName as keyof typeof ERROR_CODES],
    code,
  })),
);

describe("OpenFlow 1.3 error types and codes", () => {
  it("names all 14 standard types and the 111 codes of openflow.h 1.3.5", () => {
    expect(Object.keys(ERROR_CODES)).toHaveLength(14);
    expect(table).toHaveLength(111);
    expect(OFPET.EXPERIMENTER).toBe(0xffff);
    expect(errorTypeName(0xffff)).toBe("EXPERIMENTER");
    expect(errorTypeName(14)).toBeUndefined();
    expect(errorCodeName(OFPET.BAD_REQUEST, 14)).toBeUndefined();
    expect(errorCodeName(OFPET.EXPERIMENTER, 0)).toBeUndefined();
  });

  it.each(table)(
    "$typeName/$codeName decodes, is named, and OVS agrees",
    ({ typeName, codeName, errorType, code }) => {
      const bytes = encodeMessage({ type: "ERROR", xid: 0x11, errorType, code, data: new Uint8Array(0) });
      expect(decodeMessage(bytes)).toEqual({
        type: "ERROR",
        xid: 0x11,
        errorType,
        code,
        data: new Uint8Array(0),
      });
      expect(errorTypeName(errorType)).toBe(typeName);
      expect(errorCodeName(errorType, code)).toBe(codeName);
      const ofpName = `${PREFIX[typeName]}_${codeName}`;
      expectOvsDecodes(bytes, `OFPT_ERROR (OF1.3) (xid=0x11): ${OVS_NAME[ofpName] ?? ofpName}\n`);
    },
  );

  it.each(Object.entries(OFPBFC))(
    "ONF bundle error %s (experimenter form) is named, and OVS agrees",
    (name, expType) => {
      const bytes = encodeMessage({
        type: "ERROR",
        xid: 1,
        errorType: OFPET.EXPERIMENTER,
        expType,
        experimenter: 0x4f4e4600,
        data: new Uint8Array(0),
      });
      expect(experimenterErrorName(0x4f4e4600, expType)).toBe(name);
      expect(experimenterErrorName(0x2320, expType)).toBeUndefined();
      expectOvsDecodes(bytes, `OFPT_ERROR (OF1.3) (xid=0x1): OFPBFC_${name}\n`);
    },
  );
});
