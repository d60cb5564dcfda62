/** The values the user-data emitter needs: JSON's, which YAML represents directly. */
export type YamlValue = string | number | boolean | YamlValue[] | { [key: string]: YamlValue };

/**
 * A small block-style YAML emitter for cloud-config. Strings are written as JSON strings (valid
 * YAML double-quoted scalars), multi-line text as literal blocks so files stay readable, and
 * lists nested in lists (runcmd argv) in flow style.
 */
export function toYaml(value: { [key: string]: YamlValue }): string {
  return `${mapping(value, 0).join("\n")}\n`;
}

function mapping(obj: { [key: string]: YamlValue }, indent: number): string[] {
  const pad = " ".repeat(indent);
  const out: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    const key = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(k) ? k : JSON.stringify(k);
    if (typeof v === "string" && literalOk(v)) {
      out.push(`${pad}${key}: ${literalHeader(v)}`, ...literalLines(v, indent + 2));
    } else if (isScalar(v)) {
      out.push(`${pad}${key}: ${scalar(v)}`);
    } else if (Array.isArray(v)) {
      if (v.length === 0) out.push(`${pad}${key}: []`);
      else out.push(`${pad}${key}:`, ...sequence(v, indent + 2));
    } else if (Object.keys(v).length === 0) {
      out.push(`${pad}${key}: {}`);
    } else {
      out.push(`${pad}${key}:`, ...mapping(v, indent + 2));
    }
  }
  return out;
}

function sequence(items: YamlValue[], indent: number): string[] {
  const pad = " ".repeat(indent);
  const out: string[] = [];
  for (const item of items) {
    if (isScalar(item)) out.push(`${pad}- ${scalar(item)}`);
    else if (Array.isArray(item)) out.push(`${pad}- ${flow(item)}`);
    else {
      const lines = mapping(item, indent + 2);
      if (lines.length === 0) out.push(`${pad}- {}`);
      else out.push(`${pad}- ${lines[0]!.slice(indent + 2)}`, ...lines.slice(1));
    }
  }
  return out;
}

function flow(items: YamlValue[]): string {
  return `[${items.map((i) => (isScalar(i) ? scalar(i) : Array.isArray(i) ? flow(i) : JSON.stringify(i))).join(", ")}]`;
}

function isScalar(v: YamlValue): v is string | number | boolean {
  return typeof v !== "object";
}

function scalar(v: string | number | boolean): string {
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}

/** Literal blocks need text whose first line does not start with a space and has no tabs or CRs. */
function literalOk(s: string): boolean {
  return s.includes("\n") && !/^[ \n]/.test(s) && !/[\t\r]/.test(s) && /^[\x20-\x7e\n]*$/.test(s);
}

function literalHeader(s: string): string {
  if (!s.endsWith("\n")) return "|-";
  return s.endsWith("\n\n") ? "|+" : "|";
}

function literalLines(s: string, indent: number): string[] {
  const pad = " ".repeat(indent);
  const body = s.endsWith("\n") && !s.endsWith("\n\n") ? s.slice(0, -1) : s;
  return body.split("\n").map((l) => (l === "" ? "" : `${pad}${l}`));
}
