import { VmInitError } from "../errors.ts";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;

/** Outside strings, only these characters matter. */
const STRUCTURE = /[{}[\]"]/g;
/** Inside a string, only these. */
const IN_STRING = /["\\]/g;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Cuts OVSDB's JSON-RPC stream (RFC 7047: JSON values one after another, no length prefix, no
 * separator) into the text of each complete value. It counts braces and brackets outside strings
 * (a string's escapes included), so a value may arrive in any number of chunks and a chunk may
 * hold several values. Pure: no I/O; JSON.parse of each text is the caller's. It jumps from one
 * structural character to the next with a regular expression rather than looking at every
 * character in JavaScript: in a cold process (a booting VM's CLI) the loop cost ~3 ms per apply.
 *
 * Bounded: a value longer than `maxChars` is refused (a peer that never closes its brace would
 * otherwise grow the buffer without end). After an error the splitter is unusable.
 */
export class JsonSplitter {
  readonly #maxChars: number;
  /** Pieces of the value in progress, from earlier chunks. */
  #parts: string[] = [];
  #held = 0;
  #depth = 0;
  #inString = false;
  #escaped = false;

  constructor(maxChars: number) {
    this.#maxChars = maxChars;
  }

  /** Characters held for a value not yet complete. */
  get pending(): number {
    return this.#held;
  }

  /** Feeds one chunk; returns the values it completed, in order. */
  push(chunk: string): string[] {
    const out: string[] = [];
    let start = this.#depth > 0 ? 0 : -1;
    let i = 0;
    while (i < chunk.length) {
      if (this.#inString) {
        if (this.#escaped) {
          this.#escaped = false;
          i++;
          continue;
        }
        // Jump to the next quote or backslash: the regex engine scans far faster than a loop.
        IN_STRING.lastIndex = i;
        if (IN_STRING.exec(chunk) === null) break;
        i = IN_STRING.lastIndex - 1;
        if (chunk.charCodeAt(i) === BACKSLASH) this.#escaped = true;
        else this.#inString = false;
        i++;
        continue;
      }
      if (this.#depth === 0) {
        const c = chunk.charCodeAt(i);
        if (!isSpace(c)) {
          if (c !== OPEN_BRACE && c !== OPEN_BRACKET) {
            throw protocolError(
              `expected a JSON object or array, got ${JSON.stringify(chunk.slice(i, i + 20))}`,
            );
          }
          start = i;
          this.#depth = 1;
        }
        i++;
        continue;
      }
      STRUCTURE.lastIndex = i;
      if (STRUCTURE.exec(chunk) === null) break;
      i = STRUCTURE.lastIndex - 1;
      const c = chunk.charCodeAt(i);
      if (c === QUOTE) this.#inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.#depth++;
      else if (--this.#depth === 0) {
        const tail = chunk.slice(start, i + 1);
        this.#check(this.#held + tail.length);
        out.push(this.#parts.length === 0 ? tail : this.#parts.join("") + tail);
        this.#parts = [];
        this.#held = 0;
        start = -1;
      }
      i++;
    }
    if (this.#depth > 0) {
      const rest = chunk.slice(start);
      this.#check(this.#held + rest.length);
      this.#parts.push(rest);
      this.#held += rest.length;
    }
    return out;
  }

  #check(chars: number): void {
    if (chars > this.#maxChars) {
      throw protocolError(`a message exceeds ${this.#maxChars} characters`);
    }
  }
}

function protocolError(message: string): VmInitError {
  return new VmInitError("OVSDB_PROTOCOL_ERROR", `OVSDB stream: ${message}`);
}
