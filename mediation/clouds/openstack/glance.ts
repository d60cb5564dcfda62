import { MediationError } from "../../errors.ts";
import type { ImageBody, ImageInfo } from "../cloud-driver.ts";
import type { OpenStackApi } from "./api.ts";

interface GlanceImage {
  id: string;
  name: string | null;
  status: string;
  size: number | null;
  disk_format: string | null;
  container_format: string | null;
  os_hash_algo?: string | null;
  os_hash_value?: string | null;
  checksum?: string | null;
}

function view(i: GlanceImage): ImageInfo {
  return {
    id: i.id,
    name: i.name ?? "",
    status: i.status,
    size: i.size ?? undefined,
    diskFormat: i.disk_format ?? undefined,
    containerFormat: i.container_format ?? undefined,
    hashAlgo: i.os_hash_algo ?? undefined,
    hashValue: i.os_hash_value ?? undefined,
    checksum: i.checksum ?? undefined,
  };
}

/** How long an answer of the image schema is reused (diskFormats). */
export const SCHEMA_TTL_MS = 5 * 60_000;

/** Glance image API v2: metadata, streaming upload and download (Range), delete. */
export class Glance {
  readonly #api: OpenStackApi;
  #schema: { at: number; formats: Promise<readonly string[] | undefined> } | undefined;

  constructor(api: OpenStackApi) {
    this.#api = api;
  }

  async get(id: string): Promise<ImageInfo | undefined> {
    const image = await this.#api.find<GlanceImage>("image", `/v2/images/${encodeURIComponent(id)}`);
    return image && view(image);
  }

  async create(meta: {
    name: string;
    diskFormat: string;
    containerFormat: string;
    properties: Record<string, string>;
  }): Promise<string> {
    const image = await this.#api.json<GlanceImage>("image", "POST", "/v2/images", {
      json: {
        name: meta.name,
        disk_format: meta.diskFormat,
        container_format: meta.containerFormat,
        visibility: "private",
        ...meta.properties,
      },
    });
    return image.id;
  }

  /** One chunked PUT fed by `body`, a chunk written before the next is asked for. */
  async upload(id: string, body: AsyncIterable<Uint8Array>): Promise<void> {
    const res = await this.#api.exchange("image", "PUT", `/v2/images/${encodeURIComponent(id)}/file`, {
      body,
      headers: { "content-type": "application/octet-stream" },
      ok: [204],
      timeoutMs: 10 * 60_000,
    });
    await res.text(64 * 1024);
  }

  /** The image's bytes from `start` on (a Range request when start > 0; Glance answers 206). */
  async download(id: string, start: number): Promise<ImageBody> {
    const res = await this.#api.exchange("image", "GET", `/v2/images/${encodeURIComponent(id)}/file`, {
      headers: start > 0 ? { range: `bytes=${start}-` } : {},
      ok: start > 0 ? [206] : [200],
      timeoutMs: 5 * 60_000,
    });
    const length = res.headers["content-length"];
    if (start > 0) {
      const range = /^bytes (\d+)-/.exec(String(res.headers["content-range"] ?? ""));
      if (!range || Number(range[1]) !== start) {
        res.destroy();
        throw new MediationError(
          "CLOUD_API",
          `cloud '${this.#api.cloud}': Glance answered a Range from ${start} with '${res.headers["content-range"]}'`,
        );
      }
    }
    return {
      stream: res.toReadable(),
      readInto: (target) => res.readInto(target),
      length: length === undefined ? undefined : Number(length),
      start,
    };
  }

  async idsByName(name: string): Promise<string[]> {
    const { images } = await this.#api.json<{ images: GlanceImage[] }>(
      "image",
      "GET",
      `/v2/images?name=${encodeURIComponent(name)}`,
    );
    return images.map((i) => i.id);
  }

  async remove(id: string): Promise<void> {
    await this.#api.remove("image", `/v2/images/${encodeURIComponent(id)}`);
  }

  /**
   * Disk formats the Glance accepts (its image schema's enum), asked at most once per
   * SCHEMA_TTL_MS: every pre-check and every transfer (each member of a cluster) asks, and the
   * enum changes only when the Glance is reconfigured. A failed fetch is not kept.
   */
  diskFormats(): Promise<readonly string[] | undefined> {
    const now = Date.now();
    if (this.#schema === undefined || now - this.#schema.at >= SCHEMA_TTL_MS) {
      const formats = this.#fetchDiskFormats();
      const entry = { at: now, formats };
      this.#schema = entry;
      formats.catch(() => {
        if (this.#schema === entry) this.#schema = undefined;
      });
    }
    return this.#schema.formats;
  }

  async #fetchDiskFormats(): Promise<readonly string[] | undefined> {
    const schema = await this.#api.json<{ properties?: { disk_format?: { enum?: (string | null)[] } } }>(
      "image",
      "GET",
      "/v2/schemas/image",
    );
    return schema.properties?.disk_format?.enum?.filter((f): f is string => typeof f === "string");
  }
}
