const nameField = { type: "string", minLength: 1, maxLength: 255, pattern: "^[^\\s/]+$" } as const;

const cloudRef = {
  type: "object",
  additionalProperties: false,
  required: ["cloud"],
  properties: { cloud: { ...nameField, description: "a cloud of clouds.yaml" } },
} as const;

const targetRef = {
  type: "object",
  additionalProperties: false,
  required: ["cloud"],
  properties: {
    cloud: { ...nameField, description: "a cloud of clouds.yaml" },
    network: { ...nameField, description: "the target network (default: private)" },
  },
} as const;

const problemList = {
  type: "array",
  items: { type: "object", properties: { field: { type: "string" }, message: { type: "string" } } },
} as const;

const nullableNumber = { type: ["number", "null"] } as const;

const errorRef = {
  type: ["object", "null"],
  properties: { code: { type: "string" }, message: { type: "string" } },
} as const;

const imageHash = {
  type: ["object", "null"],
  properties: { algo: { type: "string" }, value: { type: "string" } },
} as const;

const migrationStatus = {
  type: "string",
  enum: ["running", "rolling_back", "succeeded", "failed", "cancelled"],
} as const;

export const migrationInput = {
  type: "object",
  additionalProperties: false,
  required: ["member", "source", "target"],
  properties: {
    member: { ...nameField, description: "the cluster member (the controller's vmId)" },
    server: { ...nameField, description: "the source server's name or id (default: the member)" },
    source: cloudRef,
    target: targetRef,
    flavor: { ...nameField, description: "the target flavor (default: the smallest that fits)" },
    dryRun: { type: "boolean", description: "only run the pre-checks; create nothing" },
    vmInit: {
      type: "object",
      description: "the member's vm-init config, given to the target server as user-data",
    },
  },
} as const;

export const migration = {
  type: "object",
  required: ["id", "member", "status", "phase"],
  properties: {
    id: { type: "string" },
    member: { type: "string" },
    server: { type: "string" },
    source: { type: "object", properties: { cloud: { type: "string" } } },
    target: { type: "object", properties: { cloud: { type: "string" }, network: { type: "string" } } },
    status: migrationStatus,
    phase: { type: "string" },
    committed: { type: "boolean" },
    error: errorRef,
    bytes: { type: "object", properties: { done: { type: "number" }, total: nullableNumber } },
    rateBytesPerSecond: { type: "number" },
    etaSeconds: nullableNumber,
    uploadAttempt: { type: "integer" },
    downloadResumes: { type: "integer" },
    releaseAttempt: { type: "integer" },
    clusterMigrationId: { type: ["string", "null"] },
    imageHash,
    timings: { type: "object", additionalProperties: nullableNumber },
    resources: {
      type: "array",
      items: {
        type: "object",
        properties: {
          where: { type: "string" },
          side: { type: "string" },
          kind: { type: "string" },
          name: { type: "string" },
          id: { type: ["string", "null"] },
          state: { type: "string" },
          owned: { type: "boolean" },
        },
      },
    },
    createdAt: { type: "string" },
    updatedAt: { type: "string" },
  },
} as const;

export const dryRunResult = {
  type: "object",
  required: ["dryRun", "problems"],
  properties: {
    dryRun: { type: "boolean" },
    flavor: { type: ["string", "null"] },
    imageFormat: {
      type: ["object", "null"],
      description:
        "How the server's disk enters the target: as_is (format), convert (from, to) or refused (reason); null: not known",
      properties: {
        kind: { type: "string", enum: ["as_is", "convert", "refused"] },
        format: { type: "string" },
        from: { type: "string" },
        to: { type: "string" },
        reason: { type: "string" },
      },
    },
    problems: problemList,
  },
} as const;

export const manifest = {
  type: "object",
  description:
    "The bytes uploaded to the target image: the source's own, or qemu-img's output when the image was converted",
  required: ["imageHash", "chunks"],
  properties: {
    imageHash,
    size: { type: "number" },
    chunks: {
      type: "array",
      items: {
        type: "object",
        properties: {
          index: { type: "integer" },
          offset: { type: "number" },
          length: { type: "number" },
          sha256: { type: "string" },
        },
      },
    },
  },
} as const;

export const idParams = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", pattern: "^[0-9a-f-]{36}$" } },
} as const;

const errorBody = {
  type: "object",
  required: ["error", "code"],
  properties: {
    error: { type: "string" },
    code: { type: "string" },
    field: { type: "string" },
    details: { type: "object", additionalProperties: true },
  },
} as const;

export function errors(...statuses: number[]): Record<number, typeof errorBody> {
  return Object.fromEntries([400, 401, 500, ...statuses].map((s) => [s, errorBody]));
}

export const clusterMigrationInput = {
  type: "object",
  additionalProperties: false,
  required: ["cluster", "target", "mode"],
  properties: {
    cluster: { ...nameField, description: "the controller's cluster id" },
    target: targetRef,
    mode: {
      type: "string",
      enum: ["atomic", "rolling"],
      description: "atomic: all verified, then all rebound together; rolling: each as soon as verified",
    },
    maxParallel: { type: "integer", minimum: 1, maximum: 64, description: "transfers at once (default 2)" },
    maxInTransit: {
      type: "integer",
      minimum: 1,
      maximum: 64,
      description: "rolling: members cut over at once (default 1)",
    },
    bandwidthMbps: {
      type: "number",
      exclusiveMinimum: 0,
      description: "a cap shared by every transfer of this migration",
    },
    dryRun: { type: "boolean", description: "return the editable plan and its problems; create nothing" },
    members: {
      type: "array",
      maxItems: 1000,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["member"],
        properties: {
          member: nameField,
          server: nameField,
          source: cloudRef,
          target: targetRef,
          flavor: nameField,
          vmInit: { type: "object", description: "the member's vm-init config (its target's user-data)" },
        },
      },
    },
  },
} as const;

export const clusterPlan = {
  type: "object",
  required: ["dryRun", "members", "problems"],
  properties: {
    dryRun: { type: "boolean" },
    cluster: { type: "string" },
    mode: { type: "string" },
    members: {
      type: "array",
      items: {
        type: "object",
        properties: {
          member: { type: "string" },
          server: { type: "string" },
          source: { type: "object", properties: { cloud: { type: ["string", "null"] } } },
          target: {
            type: "object",
            properties: { cloud: { type: "string" }, network: { type: "string" } },
          },
          flavor: {
            type: "object",
            properties: { source: { type: ["string", "null"] }, target: { type: ["string", "null"] } },
          },
          imageBytes: nullableNumber,
          securityGroups: { type: "array", items: { type: "string" } },
          securityGroupMapping: {
            type: "object",
            properties: {
              reuse: { type: "array", items: { type: "string" } },
              create: { type: "array", items: { type: "string" } },
            },
          },
          floatingIp: { type: ["string", "null"] },
          predicted: { type: "object", properties: { bytes: nullableNumber, seconds: nullableNumber } },
        },
      },
    },
    predicted: { type: "object", properties: { bytes: nullableNumber, seconds: nullableNumber } },
    problems: problemList,
    apply: {
      type: "object",
      additionalProperties: true,
      description: "the body that applies this plan as discovered (edit it, then POST it)",
    },
  },
} as const;

const clusterMember = {
  type: "object",
  properties: {
    member: { type: "string" },
    migrationId: { type: ["string", "null"] },
    state: { type: "string" },
    inTransit: { type: "boolean" },
    status: { type: "string" },
    phase: { type: "string" },
    bytesDone: { type: "number" },
    bytesTotal: nullableNumber,
    rate: { type: "number" },
    eta: nullableNumber,
    cutover: {
      type: "object",
      properties: { startedAt: { type: ["string", "null"] }, endedAt: { type: ["string", "null"] } },
    },
  },
} as const;

export const clusterMigration = {
  type: "object",
  required: ["id", "cluster", "mode", "status", "members"],
  properties: {
    id: { type: "string" },
    cluster: { type: "string" },
    mode: { type: "string", enum: ["atomic", "rolling"] },
    status: migrationStatus,
    phase: { type: "string" },
    error: errorRef,
    maxParallel: { type: "integer" },
    maxInTransit: { type: "integer" },
    bandwidthMbps: nullableNumber,
    members: { type: "array", items: clusterMember },
    progress: {
      type: "object",
      properties: {
        bytesDone: { type: "number" },
        bytesTotal: nullableNumber,
        rate: { type: "number" },
        eta: nullableNumber,
      },
    },
    commitMs: nullableNumber,
    timings: { type: "object", additionalProperties: nullableNumber },
    createdAt: { type: "string" },
    updatedAt: { type: "string" },
  },
} as const;
