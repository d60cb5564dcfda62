import { text } from "node:stream/consumers";
import { isHelp, type Subcommand, UsageError } from "../contract/cli/index.ts";
import { IcsdnError } from "../contract/errors/index.ts";
import {
  decodeMessage,
  encodeMessage,
  MessageFramer,
  messageFromJson,
  type OfpMessage,
  ProtoError,
  toJson,
} from "../proto/index.ts";

const USAGE = `usage:
  icsdn ofp print <hex>|-   decode OpenFlow 1.3 bytes (hex; spaces and colons allowed; - reads stdin)
                            and print each message as JSON (an array when there are several)
  icsdn ofp encode          read a message, or an array of messages, as JSON on stdin and print hex`;

function parseHex(input: string): Uint8Array {
  const clean = input.replace(/^0x/i, "").replace(/[\s:]/g, "");
  if (clean.length === 0) throw new IcsdnError("BAD_INPUT", "no bytes given");
  if (!/^([0-9a-fA-F]{2})+$/.test(clean)) {
    throw new IcsdnError("BAD_INPUT", "input is not an even-length hex string");
  }
  return new Uint8Array(Buffer.from(clean, "hex"));
}

function print(bytes: Uint8Array): string {
  const framer = new MessageFramer();
  const frames = framer.push(bytes);
  if (framer.buffered > 0) {
    throw new ProtoError(
      "TRUNCATED",
      `${framer.buffered} bytes after the last whole message`,
      bytes.length - framer.buffered,
    );
  }
  const messages = frames.map((f) => toJson(decodeMessage(f)));
  return JSON.stringify(messages.length === 1 ? messages[0] : messages, null, 2);
}

function encode(json: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new IcsdnError(
      "BAD_INPUT",
      `stdin is not valid JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const list: unknown[] = Array.isArray(parsed) ? parsed : [parsed];
  const messages: OfpMessage[] = list.map((v, i) =>
    messageFromJson(v, Array.isArray(parsed) ? `[${i}]` : "message"),
  );
  return messages.map((m) => Buffer.from(encodeMessage(m)).toString("hex")).join("");
}

const ofp: Subcommand = {
  summary: "decode and encode OpenFlow 1.3 messages (hex <-> JSON)",
  async run(argv) {
    const [verb, ...args] = argv;
    if (verb === "print") {
      const [arg] = args;
      if (arg === undefined || args.length > 1) throw new UsageError(USAGE);
      const input = arg === "-" ? await text(process.stdin) : arg;
      process.stdout.write(`${print(parseHex(input))}\n`);
      return 0;
    }
    if (verb === "encode") {
      if (args.length > 0) throw new UsageError(USAGE);
      process.stdout.write(`${encode(await text(process.stdin))}\n`);
      return 0;
    }
    if (isHelp(verb)) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    throw new UsageError(USAGE);
  },
};
export default ofp;
