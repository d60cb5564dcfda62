import { connect, type Socket } from "node:net";
import { datapathIdFor } from "../../../../contract/dataplane/index.ts";
import { type CompileOptions, compileSwitch } from "../../../../controller/compiler/flow-compiler.ts";
import { type Rule, ruleContent } from "../../../../controller/compiler/rule.ts";
import type { ClusterState } from "../../../../controller/model/cluster-state.ts";
import type { EmulatedSwitch } from "../../../../controller/openflow/emulator/emulated-switch.ts";
import type { SwitchEmulator } from "../../../../controller/openflow/emulator/emulator.ts";
import { decodeEntry } from "../../../../controller/openflow/emulator/flow-table.ts";
import {
  decodeMessage,
  encodeMessage,
  MessageFramer,
  OFPBMC,
  OFPET,
  type OfpMessage,
} from "../../../../proto/index.ts";

/** What an emulated switch holds, as rules. */
export function tableRules(sw: EmulatedSwitch): Rule[] {
  return [...sw.table.entries()].map((e) => {
    const m = decodeEntry(e);
    return {
      tableId: m.tableId,
      priority: m.priority,
      cookie: m.cookie,
      match: m.match,
      instructions: m.instructions,
    };
  });
}

/** Rule sets compared as sets of (identity, cookie, instructions). */
export function contents(rules: readonly Rule[]): string[] {
  return rules.map(ruleContent).sort();
}

export function expectedContents(state: ClusterState, vmId: string, options: CompileOptions): string[] {
  return contents(compileSwitch(state, vmId, options));
}

/** A raw TCP client for misbehaving-peer tests: collects what the controller sends. */
export class RawClient {
  readonly received: OfpMessage[] = [];
  readonly closed: Promise<void>;
  readonly socket: Socket;
  readonly #framer = new MessageFramer();

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.on("close", () => resolve()));
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      try {
        for (const b of this.#framer.push(chunk)) this.received.push(decodeMessage(b));
      } catch {
        // the test looks at what decoded
      }
    });
  }

  static async open(port: number): Promise<RawClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port }, () => resolve(s));
      s.once("error", reject);
    });
    return new RawClient(socket);
  }

  send(m: OfpMessage): void {
    this.socket.write(encodeMessage(m));
  }

  write(bytes: Uint8Array | string): void {
    this.socket.write(bytes);
  }
}

/**
 * The switches of members 198.18.0.1 and .2 of VNI 42 on `emu`; the first refuses ADDs of ingress
 * rules (BAD_MATCH/BAD_PREREQ) while `refusing()` holds. Returns the first.
 */
export function pairRefusingIngress(emu: SwitchEmulator, refusing: () => boolean): EmulatedSwitch {
  const INGRESS = 3n << 24n;
  const a = emu.add({
    dpid: datapathIdFor(42, "198.18.0.1"),
    refuse: (m) =>
      refusing() && (m.cookie & 0xff000000n) === INGRESS && m.command === "ADD"
        ? { errorType: OFPET.BAD_MATCH, code: OFPBMC.BAD_PREREQ }
        : undefined,
  });
  emu.add({ dpid: datapathIdFor(42, "198.18.0.2") });
  return a;
}
