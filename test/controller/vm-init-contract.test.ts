import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ENC0_PORT, VINT0_PORT } from "../../controller/compiler/pipeline.ts";
import { datapathIdFor, formatDpid, splitDatapathId } from "../../controller/model/dpid.ts";
import * as vmInitDpid from "../../vm-init/dpid.ts";
import { ENC_OFPORT, VINT_OFPORT } from "../../vm-init/names.ts";

// The controller recognises a switch by the dpid vm-init gives icbr0, and its rules name icbr0's
// ports by number. Until the lead makes one module of each, these keep the two sides equal.
describe("contract with vm-init", () => {
  it("computes the same datapath id, hex form and inverse", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 0xffffff }),
        fc.integer({ min: 1, max: 0xfffffffe }),
        (vni, ip) => {
          const vint0 = [ip >>> 24, (ip >>> 16) & 0xff, (ip >>> 8) & 0xff, ip & 0xff].join(".");
          const ours = datapathIdFor(vni, vint0);
          expect(ours).toBe(vmInitDpid.datapathIdFor(vni, vint0));
          expect(formatDpid(ours)).toBe(vmInitDpid.datapathIdHex(ours));
          const back = vmInitDpid.parseDatapathId(ours);
          expect(splitDatapathId(ours)).toEqual({ vni: back.vni, vint0: back.vint0Ipv4 });
        },
      ),
      { numRuns: 500 },
    );
  });

  it("numbers enc0 and vint0 the same way", () => {
    expect([ENC0_PORT, VINT0_PORT]).toEqual([ENC_OFPORT, VINT_OFPORT]);
  });
});
