import { describe, expect, it } from "vitest";
import { type MeshArrival, type MeshNodeRecord, meshReport, parseNodeOutput } from "../../lab/probe-mesh.ts";

const A = "198.18.0.11";
const B = "198.18.0.12";

/** A node that sent seq 0..n-1 at t = seq * 10 ms. */
function sender(member: string, vint0: string, gen: number, n: number, from = 0): MeshNodeRecord {
  return {
    member,
    vint0,
    gen,
    sent: Array.from({ length: n }, (_, i) => [from + i, (from + i) * 10] as const),
    got: [],
  };
}

function got(node: MeshNodeRecord, arrivals: MeshArrival[]): MeshNodeRecord {
  return { ...node, got: arrivals };
}

const arrival = (from: string, gen: number, seq: number, delay = 1): MeshArrival => [
  from,
  gen,
  seq,
  seq * 10,
  seq * 10 + delay,
];

describe("meshReport", () => {
  it("counts a packet received when any instance of the destination got it, each seq once", () => {
    const a = sender("a", A, 0, 10);
    const bOld = got(
      sender("b", B, 0, 0),
      [0, 1, 2, 3, 4].map((s) => arrival(A, 0, s)),
    );
    const bNew = got(
      sender("b", B, 1, 0),
      [4, 5, 6, 7, 8, 9].map((s) => arrival(A, 0, s, 2)),
    );
    const r = meshReport([a, bOld, bNew], []);
    const ab = r.pairs.find((p) => p.from === "a" && p.to === "b")!;
    expect(ab).toMatchObject({ sent: 10, received: 10, lost: 0 });
    expect(ab.longestGapMs).toBe(11); // seq 4 at 41 (old), seq 5 at 52 (new)
  });

  it("counts what no instance got as lost, and ignores packets outside their sender's window", () => {
    const a0 = sender("a", A, 0, 10);
    const a1 = sender("a", A, 1, 10, 0);
    // b got a0's 0..5 (6..9 were sent after a's announce: outside its window) and a1's 8, 9 only
    const b = got(sender("b", B, 0, 0), [
      ...[0, 1, 2, 3, 4, 5].map((s) => arrival(A, 0, s)),
      arrival(A, 1, 8),
      arrival(A, 1, 9),
    ]);
    const windows = [
      { member: "a", gen: 0, from: null, to: 60 },
      { member: "a", gen: 1, from: 70, to: null },
    ];
    const ab = meshReport([a0, a1, b], windows).pairs.find((p) => p.from === "a")!;
    // a0: seqs 0..5 count (t < 60), all received; a1: seqs 7..9 count (t >= 70), 7 lost
    expect(ab).toMatchObject({ sent: 9, received: 8, lost: 1 });
    expect(meshReport([a0, a1, b], windows)).toMatchObject({ sent: 9, lost: 1 }); // b sent nothing
  });

  it("parses a node's JSON lines and skips a line cut by a kill", () => {
    const out = `${JSON.stringify({ sent: [[0, 1.5]] })}\n${JSON.stringify({ got: [[A, 0, 0, 1.5, 2]] })}\n{"sent":[[1,`;
    expect(parseNodeOutput("b", B, 0, out)).toEqual({
      member: "b",
      vint0: B,
      gen: 0,
      sent: [[0, 1.5]],
      got: [[A, 0, 0, 1.5, 2]],
    });
  });
});
