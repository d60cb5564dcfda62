const nameField = { type: "string", minLength: 1, maxLength: 255, pattern: "^[^\\s/]+$" } as const;

export const migrationInput = {
  type: "object",
  additionalProperties: false,
  required: ["member", "source", "target"],
  properties: {
    member: { ...nameField, description: "the cluster member (the controller's vmId)" },
    server: { ...nameField, description: "the source server's name or id (default: the member)" },
    source: {
      type: "object",
      additionalProperties: false,
      required: ["cloud"],
      properties: { cloud: { ...nameField, description: "a cloud of clouds.yaml" } },
    },
    target: {
      type: "object",
      additionalProperties: false,
      required: ["cloud"],
      properties: {
        cloud: { ...nameField, description: "a cloud of clouds.yaml" },
        network: { ...nameField, description: "the target network (default: private)" },
      },
    },
    flavor: { ...nameField, description: "the target flavor (default: the smallest that fits)" },
    dryRun: { type: "boolean", description: "only run the pre-checks; create nothing" },
    vmInit: {
      type: "object",
      description: "the member's vm-init config, given to the target server as user-data",
    },
  },
} as const;

const nullableNumber = { type: ["number", "null"] } as const;

export const migration = {
  type: "object",
  required: ["id", "member", "status", "phase"],
  properties: {
    id: { type: "string" },
    member: { type: "string" },
    server: { type: "string" },
    source: { type: "object", properties: { cloud: { type: "string" } } },
    target: { type: "object", properties: { cloud: { type: "string" }, network: { type: "string" } } },
    status: { type: "string", enum: ["running", "rolling_back", "succeeded", "failed", "cancelled"] },
    phase: { type: "string" },
    committed: { type: "boolean" },
    error: {
      type: ["object", "null"],
      properties: { code: { type: "string" }, message: { type: "string" } },
    },
    bytes: { type: "object", properties: { done: { type: "number" }, total: nullableNumber } },
    rateBytesPerSecond: { type: "number" },
    etaSeconds: nullableNumber,
    uploadAttempt: { type: "integer" },
    downloadResumes: { type: "integer" },
    releaseAttempt: { type: "integer" },
    clusterMigrationId: { type: ["string", "null"] },
    imageHash: {
      type: ["object", "null"],
      properties: { algo: { type: "string" }, value: { type: "string" } },
    },
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
    problems: {
      type: "array",
      items: { type: "object", properties: { field: { type: "string" }, message: { type: "string" } } },
    },
  },
} as const;

export const manifest = {
  type: "object",
  required: ["imageHash", "chunks"],
  properties: {
    imageHash: {
      type: ["object", "null"],
      properties: { algo: { type: "string" }, value: { type: "string" } },
    },
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
