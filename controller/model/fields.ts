import { SLUG_PATTERN } from "../../contract/controller-api/ids.ts";
import { TUNNEL_TYPES, type TunnelType, VNI_MAX, VNI_MIN } from "../../contract/dataplane/index.ts";
import { invalidField } from "../errors.ts";

const SLUG = new RegExp(SLUG_PATTERN);

export const DESCRIPTION_MAX = 256;

export function parseSlug(value: unknown, field: string): string {
  if (typeof value !== "string" || !SLUG.test(value)) {
    throw invalidField(field, "must be 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'");
  }
  return value;
}

export function parseVni(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < VNI_MIN || value > VNI_MAX) {
    throw invalidField(field, `must be an integer in ${VNI_MIN}..${VNI_MAX}`);
  }
  return value;
}

export function parseTunnel(value: unknown, field: string): TunnelType {
  if (typeof value !== "string" || !(TUNNEL_TYPES as readonly string[]).includes(value)) {
    throw invalidField(field, `must be one of ${TUNNEL_TYPES.join(", ")}`);
  }
  return value as TunnelType;
}

export function parseDescription(value: unknown, field: string): string {
  if (value === undefined) return "";
  if (typeof value !== "string" || value.length > DESCRIPTION_MAX) {
    throw invalidField(field, `must be a string of at most ${DESCRIPTION_MAX} characters`);
  }
  return value;
}

/** Reads an object body, so callers can pick fields from it. */
export function asRecord(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalidField(field === "" ? "body" : field, "must be a JSON object");
  }
  return value as Record<string, unknown>;
}
