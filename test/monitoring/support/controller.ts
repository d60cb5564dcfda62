import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Child, GiveUp, ROOT, tempDir, waitFor } from "./processes.ts";

/**
 * `bin/icsdn controller serve` as a child process on 127.0.0.1 (port picked by the controller),
 * with a temp database and a bearer token in a token file. `stop()` ends it and removes the dir.
 */
export class ControllerProcess {
  readonly url: string;
  readonly token: string;
  readonly #child: Child;
  readonly #dir: { path: string; remove: () => void };

  private constructor(url: string, token: string, child: Child, dir: { path: string; remove: () => void }) {
    this.url = url;
    this.token = token;
    this.#child = child;
    this.#dir = dir;
  }

  static async start(): Promise<ControllerProcess> {
    const dir = tempDir("icsdn-monitoring-controller-");
    const token = `monitoring-test-${process.pid}-0123456789abcdef`;
    const tokenFile = join(dir.path, "token");
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const child = new Child(join(ROOT, "bin/icsdn"), [
      "controller",
      "serve",
      "--db",
      join(dir.path, "controller.db"),
      "--listen",
      "127.0.0.1:0",
      "--token-file",
      tokenFile,
      "--openflow",
      "127.0.0.1:0",
      "--log-level",
      "warn",
    ]);
    try {
      const url = await waitFor("the controller's 'listening on' line", async () => {
        if (!child.running) throw new GiveUp(`controller exited: ${child.output}`);
        return /listening on (http:\/\/\S+)/.exec(child.output)?.[1];
      });
      return new ControllerProcess(url, token, child, dir);
    } catch (err) {
      await child.stop();
      dir.remove();
      throw err;
    }
  }

  /** host:port, as a Prometheus target. */
  get target(): string {
    return new URL(this.url).host;
  }

  get output(): string {
    return this.#child.output;
  }

  /** A /v1 call with the token; returns the status and the parsed body. */
  async call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      signal: AbortSignal.timeout(10_000),
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body !== undefined && { "content-type": "application/json" }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text === "" ? undefined : (JSON.parse(text) as unknown) };
  }

  async stop(): Promise<void> {
    try {
      await this.#child.stop();
    } finally {
      this.#dir.remove();
    }
  }
}
