import { SLUG_PATTERN } from "../../contract/controller-api/ids.ts";
import { MAX_BATCH_REBINDS } from "../../contract/controller-api/index.ts";
import { TUNNEL_TYPES, VNI_MAX, VNI_MIN } from "../../contract/dataplane/index.ts";
import { DESCRIPTION_MAX } from "../model/fields.ts";
import { MAX_CLUSTER_MEMBERS, MAX_LINKING_MS } from "../model/requests.ts";

// JSON Schemas for every route: the check of every request's shape, types, patterns and ranges, and
// the OpenAPI document. The model (controller/model/requests.ts) adds only what a schema cannot
// say: the address rules (loopback, multicast...) and canonical addresses.

const slug = { type: "string", pattern: SLUG_PATTERN, maxLength: 63 } as const;
const ipv4 = { type: "string", format: "ipv4", maxLength: 15 } as const;
const nullableIpv4 = { type: ["string", "null"], format: "ipv4", maxLength: 15 } as const;
const description = { type: "string", maxLength: DESCRIPTION_MAX } as const;
const vni = { type: "integer", minimum: VNI_MIN, maximum: VNI_MAX } as const;
const tunnel = { type: "string", enum: TUNNEL_TYPES } as const;
const dpid = {
  type: "string",
  pattern: "^[0-9a-f]{16}$",
  description: "datapath id, 16 hex digits",
} as const;

export const errorBody = {
  type: "object",
  required: ["error", "code"],
  properties: {
    error: { type: "string", description: "what is wrong, naming the field" },
    code: { type: "string" },
    field: { type: "string", description: "path of the offending input, e.g. members[0].vint0" },
    details: { type: "object", additionalProperties: true },
  },
} as const;

/** Error responses a route may give, for the OpenAPI document. */
export function errors(...statuses: number[]): Record<number, typeof errorBody> {
  return Object.fromEntries([400, 401, ...statuses].map((s) => [s, errorBody]));
}

const memberInputProperties = { vmId: slug, vint0: ipv4, endpoint: nullableIpv4, description } as const;

export const memberInput = {
  type: "object",
  required: ["vmId", "vint0"],
  additionalProperties: false,
  properties: memberInputProperties,
} as const;

export const member = {
  type: "object",
  required: ["clusterId", "vmId", "vint0", "endpoint", "nextEndpoint", "dpid", "description"],
  properties: {
    clusterId: slug,
    ...memberInputProperties,
    nextEndpoint: {
      ...nullableIpv4,
      description:
        "announced endpoint of the member's next move: peers already accept it (PUT .../next-endpoint)",
    },
    dpid,
  },
} as const;

export const clusterInput = {
  type: "object",
  required: ["id", "vni", "tunnel"],
  additionalProperties: false,
  properties: {
    id: slug,
    vni,
    tunnel,
    description,
    members: { type: "array", maxItems: MAX_CLUSTER_MEMBERS, items: memberInput },
  },
} as const;

export const cluster = {
  type: "object",
  required: ["id", "vni", "tunnel", "description"],
  properties: { id: slug, vni, tunnel, description },
} as const;

export const clusterWithMembers = {
  type: "object",
  required: [...cluster.required, "members"],
  properties: { ...cluster.properties, members: { type: "array", items: member } },
} as const;

export const clusterPatch = {
  type: "object",
  additionalProperties: false,
  description: "only description may change; vni and tunnel may be given if unchanged",
  properties: { description, vni, tunnel },
} as const;

export const memberPatch = {
  type: "object",
  additionalProperties: false,
  description:
    "only description may change; vint0 and endpoint may be given if unchanged (endpoints change by rebind)",
  properties: { description, vint0: ipv4, endpoint: nullableIpv4 },
} as const;

export const rebindInput = {
  type: "object",
  required: ["endpoint"],
  additionalProperties: false,
  properties: { endpoint: ipv4 },
} as const;

export const rebindBatchInput = {
  type: "object",
  required: ["rebinds"],
  additionalProperties: false,
  properties: {
    rebinds: {
      type: "array",
      minItems: 1,
      maxItems: MAX_BATCH_REBINDS,
      items: {
        type: "object",
        required: ["vmId", "endpoint"],
        additionalProperties: false,
        properties: { vmId: slug, endpoint: ipv4 },
      },
    },
  },
} as const;

const switchReport = {
  type: "object",
  required: ["dpid", "vmId", "status", "ms", "added", "deleted"],
  properties: {
    dpid,
    vmId: slug,
    status: { type: "string", enum: ["confirmed", "not-connected", "failed"] },
    ms: { type: ["number", "null"], description: "batch sent -> barrier reply" },
    added: { type: "integer" },
    deleted: { type: "integer" },
    error: { type: "object", additionalProperties: true },
  },
} as const;

const phaseReport = {
  type: "object",
  required: ["phase", "ms", "switches"],
  properties: {
    phase: { type: "string", enum: ["prepare", "switch", "cleanup"] },
    ms: { type: "number" },
    switches: { type: "array", items: switchReport },
  },
} as const;

const downtimeReport = {
  type: "object",
  required: ["ms", "intervalMs", "links"],
  properties: {
    ms: { type: "number" },
    intervalMs: { type: "number" },
    links: {
      type: "array",
      items: {
        type: "object",
        required: ["from", "to", "sent", "received", "longestGapMs"],
        properties: {
          from: slug,
          to: slug,
          sent: { type: "integer" },
          received: { type: "integer" },
          longestGapMs: { type: "number" },
        },
      },
    },
  },
} as const;

export const rebindReport = {
  type: "object",
  required: ["clusterId", "vmId", "oldEndpoint", "endpoint", "changed", "rebindId", "updateMs", "phases"],
  properties: {
    clusterId: slug,
    vmId: slug,
    oldEndpoint: nullableIpv4,
    endpoint: ipv4,
    changed: {
      type: "boolean",
      description: "false: the member already had this endpoint, nothing was sent or recorded",
    },
    rebindId: {
      type: ["integer", "null"],
      description: "the rebind's history record (GET .../rebinds/{rebindId}: cleanup, totalMs, downtime)",
    },
    updateMs: {
      type: "number",
      description:
        "request received -> every affected switch confirmed its new rules (the answer is sent then)",
    },
    phases: { type: "array", description: "the phases run before the answer", items: phaseReport },
  },
} as const;

export const batchRebindReport = {
  type: "object",
  required: ["clusterId", "updateMs", "phases", "rebinds"],
  properties: {
    clusterId: slug,
    updateMs: {
      type: "number",
      description:
        "request received -> every affected switch confirmed the batch's rules (the answer is sent then)",
    },
    phases: {
      type: "array",
      description: "the phases run before the answer, once for all",
      items: phaseReport,
    },
    rebinds: {
      type: "array",
      description: "one per member, in the request's order",
      items: {
        type: "object",
        required: ["vmId", "oldEndpoint", "endpoint", "changed", "rebindId", "updateMs"],
        properties: {
          vmId: slug,
          oldEndpoint: nullableIpv4,
          endpoint: ipv4,
          changed: rebindReport.properties.changed,
          rebindId: rebindReport.properties.rebindId,
          updateMs: rebindReport.properties.updateMs,
        },
      },
    },
  },
} as const;

export const rebindRecord = {
  type: "object",
  required: [
    "id",
    "clusterId",
    "vmId",
    "oldEndpoint",
    "newEndpoint",
    "updateMs",
    "result",
    "at",
    "completion",
    "cleanup",
    "totalMs",
    "downtime",
  ],
  properties: {
    id: { type: "integer" },
    clusterId: slug,
    vmId: slug,
    oldEndpoint: nullableIpv4,
    newEndpoint: ipv4,
    updateMs: { type: "number" },
    result: { type: "string", enum: ["ok", "failed"] },
    at: { type: "string", format: "date-time" },
    completion: {
      type: "string",
      enum: ["pending", "done"],
      description: "pending while cleanup and the downtime probes run after the answer; done when final",
    },
    cleanup: {
      ...phaseReport,
      type: ["object", "null"],
      description: "the cleanup phase as it ran; null while pending and for a failed rebind",
    },
    totalMs: {
      type: ["number", "null"],
      description: "request received -> cleanup ended; null while pending and for a failed rebind",
    },
    downtime: {
      ...downtimeReport,
      type: ["object", "null"],
      description:
        "the controller's probes across the rebind (PACKET_OUT at a peer, PACKET_IN at the moving member): " +
        "the longest gap between two probes received; null while pending or when not measured",
    },
  },
} as const;

export const rebindParams = {
  type: "object",
  required: ["clusterId", "vmId", "rebindId"],
  properties: {
    clusterId: slug,
    vmId: slug,
    // Path and query strings are not coerced (contract/http/rest-app.ts): digits, read by the route.
    rebindId: { type: "string", pattern: "^[1-9][0-9]{0,14}$", description: "RebindReport.rebindId" },
  },
} as const;

export const rebindQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    settled: {
      type: "string",
      enum: ["true", "false"],
      description: "answer once the rebind's completion is done (its cleanup and downtime are final)",
    },
  },
} as const;

export const linkingInput = {
  type: "object",
  required: ["vmId", "clusterId", "linkingMs"],
  additionalProperties: false,
  properties: {
    vmId: slug,
    clusterId: slug,
    linkingMs: { type: "number", minimum: 0, maximum: MAX_LINKING_MS },
  },
} as const;

export const linkingRecord = {
  type: "object",
  required: ["id", "clusterId", "vmId", "linkingMs", "at"],
  properties: {
    id: { type: "integer" },
    clusterId: slug,
    vmId: slug,
    linkingMs: { type: "number" },
    at: { type: "string", format: "date-time" },
  },
} as const;

export const switchEntry = {
  type: "object",
  required: [
    "dpid",
    "clusterId",
    "vmId",
    "connected",
    "endpoint",
    "remoteAddress",
    "connectedForMs",
    "ruleCount",
    "desiredRuleCount",
  ],
  properties: {
    dpid,
    clusterId: { type: ["string", "null"] },
    vmId: { type: ["string", "null"] },
    connected: { type: "boolean" },
    endpoint: nullableIpv4,
    remoteAddress: { type: ["string", "null"] },
    connectedForMs: { type: ["integer", "null"], minimum: 0 },
    ruleCount: { type: ["integer", "null"] },
    desiredRuleCount: { type: ["integer", "null"] },
  },
} as const;

export const clusterParams = {
  type: "object",
  required: ["clusterId"],
  properties: { clusterId: slug },
} as const;

export const memberParams = {
  type: "object",
  required: ["clusterId", "vmId"],
  properties: { clusterId: slug, vmId: slug },
} as const;
