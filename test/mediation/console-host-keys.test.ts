import { describe, expect, it } from "vitest";
import { hostKeysInConsole } from "../../mediation/ports/console-host-keys.ts";

const ED = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFq2b1XQ9u2m5OQkOJ3wN3S9gq7y3kqYQ6mY2cW7XQ0b root@vm1";
const EC =
  "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBPq3pXJ8aFv4nPZk3Z0aQvQ= root@vm1";

/** A console as a Debian cloud image prints it: kernel lines, cloud-init's syslog-prefixed fingerprints, then the keys. */
function bootLog(keys: string[]): string {
  return [
    "[    0.000000] Linux version 6.1.0-18-cloud-amd64",
    "[   11.204312] cloud-init[512]: Cloud-init v. 22.4.2 running 'modules:final'",
    "<14>Dec  7 12:00:01 cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----",
    "<14>Dec  7 12:00:01 cloud-init: 256 SHA256:0123456789abcdefghijklmnopqrstuvwxyzABCDEFG root@vm1 (ED25519)",
    "<14>Dec  7 12:00:01 cloud-init: -----END SSH HOST KEY FINGERPRINTS-----",
    "-----BEGIN SSH HOST KEY KEYS-----",
    ...keys,
    "-----END SSH HOST KEY KEYS-----",
    "[   12.100000] cloud-init[512]: Cloud-init v. 22.4.2 finished",
  ].join("\r\n");
}

describe("hostKeysInConsole (cloud-init's keys_to_console block)", () => {
  it("reads every key of the block, and nothing of the fingerprints block", () => {
    expect(hostKeysInConsole(bootLog([EC, ED]))).toEqual([EC, ED]);
  });

  it("takes the last complete block: a later boot's keys win, a block cut off is ignored", () => {
    const other = ED.replace("AAAAIFq2", "AAAAIZZZ");
    expect(hostKeysInConsole(`${bootLog([ED])}\n${bootLog([other])}`)).toEqual([other]);
    expect(hostKeysInConsole(`${bootLog([ED])}\n-----BEGIN SSH HOST KEY KEYS-----\n${other}\n`)).toEqual([
      ED,
    ]);
  });

  it("finds none on a console without the block, or with an empty one", () => {
    expect(hostKeysInConsole("")).toEqual([]);
    expect(hostKeysInConsole("FAKE CONSOLE OUTPUT\nANOTHER\nLAST LINE")).toEqual([]);
    expect(hostKeysInConsole(bootLog([]))).toEqual([]);
  });

  it("takes each key from its type on when the console prefixes lines", () => {
    expect(hostKeysInConsole(bootLog([`[   12.000001] ${ED}`]))).toEqual([ED]);
  });
});
