import { ProtoError } from "../errors.ts";

/** A closed set of spec names for a numeric wire field (commands, reasons, group types). */
export interface NameTable<N extends string> {
  readonly names: readonly N[];
  /** The wire number for `name`; BAD_VALUE naming `what` if it is not one of ours. */
  code(name: N, what: string, at: number): number;
  /** The name for a wire number; BAD_VALUE naming `what` if the spec has none. */
  name(code: number, what: string, at: number): N;
}

export function nameTable<const N extends string>(codes: Record<N, number>): NameTable<N> {
  const toCode = new Map<string, number>();
  const toName = new Map<number, N>();
  for (const [n, c] of Object.entries(codes) as [N, number][]) {
    toCode.set(n, c);
    toName.set(c, n);
  }
  const names = [...toCode.keys()] as N[];
  return {
    names,
    code(name, what, at) {
      const c = toCode.get(name);
      if (c === undefined) {
        throw new ProtoError("BAD_VALUE", `${what}: '${String(name)}' is not one of ${names.join(", ")}`, at);
      }
      return c;
    },
    name(code, what, at) {
      const n = toName.get(code);
      if (n === undefined) throw new ProtoError("BAD_VALUE", `${what}: unknown value ${code}`, at);
      return n;
    },
  };
}
