import { readText, send } from "../clouds/openstack/http.ts";
import { MediationError } from "../errors.ts";
import type { ControllerMember, ControllerPort, SwitchSession } from "./controller.ts";

/**
 * The controller's REST API over HTTP. Kept tiny on purpose: it goes once contract/ has the one
 * typed controller client.
 */
export class HttpControllerPort implements ControllerPort {
  readonly #base: string;
  readonly #token: string | undefined;

  constructor(baseUrl: string, token: string | undefined) {
    this.#base = baseUrl.replace(/\/+$/, "");
    this.#token = token;
  }

  async #call<T>(
    method: string,
    path: string,
    json?: unknown,
    ok: readonly number[] = [200, 201, 204],
  ): Promise<{ status: number; body: T | undefined }> {
    let res: Awaited<ReturnType<typeof send>>;
    try {
      res = await send({
        method,
        url: `${this.#base}${path}`,
        headers: this.#token ? { authorization: `Bearer ${this.#token}` } : {},
        ...(json !== undefined && { json }),
        timeoutMs: 30_000,
      });
    } catch (err) {
      throw new MediationError(
        "CONTROLLER_UNREACHABLE",
        `controller ${this.#base}: ${(err as Error).message}`,
      );
    }
    const text = await readText(res);
    const status = res.statusCode ?? 0;
    if (!ok.includes(status)) {
      let message = text.slice(0, 300);
      try {
        message = (JSON.parse(text) as { error: string }).error ?? message;
      } catch {
        // not JSON
      }
      throw new MediationError(
        "CONTROLLER_UNREACHABLE",
        `controller ${method} ${path}: HTTP ${status}: ${message}`,
        {
          details: { status },
        },
      );
    }
    return { status, body: text === "" ? undefined : (JSON.parse(text) as T) };
  }

  async findMember(
    vmId: string,
  ): Promise<{ member: ControllerMember; peers: readonly ControllerMember[] } | undefined> {
    const { body } = await this.#call<{ clusters: { id: string }[] }>("GET", "/v1/clusters");
    for (const c of body?.clusters ?? []) {
      const members =
        (
          await this.#call<{ members: ControllerMember[] }>(
            "GET",
            `/v1/clusters/${encodeURIComponent(c.id)}/members`,
          )
        ).body?.members ?? [];
      const member = members.find((m) => m.vmId === vmId);
      if (member) return { member, peers: members.filter((m) => m.vmId !== vmId) };
    }
    return undefined;
  }

  async announce(clusterId: string, vmId: string, endpoint: string): Promise<void> {
    await this.#call("PUT", `${memberPath(clusterId, vmId)}/next-endpoint`, { endpoint });
  }

  async withdraw(clusterId: string, vmId: string): Promise<void> {
    await this.#call("DELETE", `${memberPath(clusterId, vmId)}/next-endpoint`, undefined, [200, 204, 404]);
  }

  async rebind(clusterId: string, vmId: string, endpoint: string): Promise<void> {
    await this.#call("POST", `${memberPath(clusterId, vmId)}/rebind`, { endpoint });
  }

  async switchSession(clusterId: string, vmId: string): Promise<SwitchSession | undefined> {
    const { body } = await this.#call<{
      switches: (SwitchSession & { clusterId: string | null; vmId: string | null })[];
    }>("GET", "/v1/switches");
    const s = body?.switches.find((x) => x.clusterId === clusterId && x.vmId === vmId);
    return s && { connected: s.connected, remoteAddress: s.remoteAddress };
  }

  async ready(): Promise<boolean> {
    try {
      const res = await send({ method: "GET", url: `${this.#base}/readyz`, timeoutMs: 5000 });
      res.resume();
      return res.statusCode === 200;
    } catch {
      return false;
    }
  }
}

function memberPath(clusterId: string, vmId: string): string {
  return `/v1/clusters/${encodeURIComponent(clusterId)}/members/${encodeURIComponent(vmId)}`;
}
