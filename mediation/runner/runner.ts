import { EventEmitter } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { IcsdnError } from "../../contract/errors/index.ts";
import type { CloudDriver, Flavor, ImageInfo, ServerInfo } from "../clouds/cloud-driver.ts";
import { pollUntil } from "../clouds/poll.ts";
import { MediationError } from "../errors.ts";
import type { Journal, JournalEvent, MigrationRecord } from "../journal/journal.ts";
import type { MediationMetrics } from "../metrics.ts";
import {
  type MigrationRequest,
  recoveryFor,
  releasePlan,
  rollbackPlan,
  type Step,
  type TimedPhase,
} from "../model/migration.ts";
import { isNewSession, type SwitchBefore } from "../model/new-session.ts";
import { type Problem, precheck } from "../planner/precheck.ts";
import { planSecurityGroups } from "../planner/security.ts";
import { hostKeysInConsole } from "../ports/console-host-keys.ts";
import type { ControllerMember, ControllerPort } from "../ports/controller.ts";
import type { LinkChecker, PreparedLinkCheck } from "../ports/link-check.ts";
import { planTargetFormat, transferImage } from "../transfer/convert-transfer.ts";
import type { FormatPlan } from "../transfer/format-plan.ts";
import { DEFAULT_CHUNK_SIZE } from "../transfer/manifest.ts";
import { runUndo } from "./undo.ts";

export interface RunnerOptions {
  readonly chunkSize?: number;
  /** How long instantiation may take (Nova boot to ACTIVE). */
  readonly serverDeadlineMs?: number;
  /** How long the snapshot may take to become active. */
  readonly imageDeadlineMs?: number;
  /** How long the new instance's switch may take to connect to the controller. */
  readonly switchDeadlineMs?: number;
  /**
   * How long a new instance's switch has been connected before its member is cut over. Until its
   * switch connects, the new VM's switch drops everything (fail-secure), so its kernel's first ARP
   * requests for its peers go unanswered and are retried after 1 s (the neighbour table's
   * `retrans_time_ms`): cut over sooner, its own packets to its peers are dropped until then (in
   * Figure 7 a member rebound 0.07 s after its switch connected lost 0.2 s of its stream).
   */
  readonly switchSettleMs?: number;
  /**
   * A release after the commit, or a rollback, whose cloud or controller calls fail is tried this
   * many times, waiting base, 2 x base, ... in between (the lab's SQLite-backed clouds answer
   * concurrent writes with 500 now and then); after the last, the next start retries it.
   */
  readonly cleanupAttempts?: number;
  readonly cleanupBackoffMs?: number;
}

/**
 * How a coordinator (a cluster migration) holds a member migration at its cutover. With a gate,
 * the link check runs before the rebind (the announced target already talks to its peers).
 */
export interface CutoverGate {
  /** The target is booted, announced, its switch connected and its links checked: resolves when it may rebind; rejects to roll back. */
  verified(migrationId: string): Promise<void>;
  /** The member is rebound: resolves when it may count as committed; rejects to rebind back and roll back. */
  rebound(migrationId: string): Promise<void>;
}

/** What a coordinator adds to a member migration it starts. */
export interface MemberRunOptions {
  readonly gate?: CutoverGate;
  /** Wraps the source cloud's driver (e.g. a shared bandwidth cap on its downloads). */
  readonly wrapSource?: (driver: CloudDriver) => CloudDriver;
  readonly clusterMigrationId?: string;
  /** The port this member's rebind goes through (an atomic commit's batch, runner/commit-batch.ts). */
  readonly controller?: ControllerPort;
}

export interface RunnerDeps {
  readonly journal: Journal;
  /** A driver for a cloud of clouds.yaml; throws CLOUD_CONFIG for an unknown one. */
  readonly cloud: (name: string) => CloudDriver;
  readonly controller: ControllerPort;
  /** Without one the link check is skipped, and the migration's events say so. */
  readonly linkChecker: LinkChecker | undefined;
  readonly metrics: MediationMetrics;
  readonly options?: RunnerOptions;
}

/** What a migration learned on its way (memory only: a restart rolls back what is not committed). */
interface Context {
  readonly record: MigrationRecord;
  readonly source: CloudDriver;
  readonly target: CloudDriver;
  readonly signal: AbortSignal;
  server?: ServerInfo;
  flavorId?: string;
  snapshot?: ImageInfo;
  targetImageId?: string;
  targetServerId?: string;
  securityGroups?: string[];
  member?: ControllerMember;
  peers?: readonly ControllerMember[];
  readonly gate: CutoverGate | undefined;
  /** The member's switch session before the target server existed, and when it was asked (its switch may connect while it boots). */
  switchBefore?: SwitchBefore;
}

const short = (id: string) => id.slice(0, 8);

/** Waits for a coordinator's gate, or throws CANCELLED once the migration is aborted. */
function untilAborted(gate: Promise<void>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new MediationError("CANCELLED", "cancelled by its cluster migration"));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    gate.then(
      () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}

const errorOf = (cause: unknown): { code: string; message: string } =>
  cause instanceof IcsdnError
    ? { code: cause.code, message: cause.message }
    : { code: "INTERNAL", message: cause instanceof Error ? cause.message : String(cause) };

/**
 * Runs migrations: pre-checks, then the phases, every resource journaled before it is created
 * and after it is deleted. Any failure before the commit point (target linked and checked) rolls
 * back: controller first, then the target's resources, and the source stays as it was. After the
 * commit point only the source's release remains, and a restart finishes it.
 */
export class MigrationRunner {
  readonly #deps: RunnerDeps;
  readonly #running = new Map<string, AbortController>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #taskOf = new Map<string, Promise<void>>();
  readonly #runOptions = new Map<string, MemberRunOptions>();
  readonly events = new EventEmitter<{ event: [string, JournalEvent] }>();

  constructor(deps: RunnerDeps) {
    this.#deps = deps;
    this.events.setMaxListeners(0);
  }

  get #o(): Required<RunnerOptions> {
    const o = this.#deps.options ?? {};
    return {
      chunkSize: o.chunkSize ?? DEFAULT_CHUNK_SIZE,
      serverDeadlineMs: o.serverDeadlineMs ?? 300_000,
      imageDeadlineMs: o.imageDeadlineMs ?? 600_000,
      switchDeadlineMs: o.switchDeadlineMs ?? 120_000,
      switchSettleMs: o.switchSettleMs ?? 1000,
      cleanupAttempts: o.cleanupAttempts ?? 6,
      cleanupBackoffMs: o.cleanupBackoffMs ?? 2000,
    };
  }

  #cloud(name: string, field: string): CloudDriver {
    try {
      return this.#deps.cloud(name);
    } catch (err) {
      if (err instanceof MediationError && err.code === "CLOUD_CONFIG") {
        throw new MediationError("INVALID_FIELD", `${field}: ${err.message}`, { field });
      }
      throw err;
    }
  }

  /** Every problem that would stop the migration, found without creating anything. */
  async precheck(
    request: MigrationRequest,
    options: { quotas?: boolean } = {},
  ): Promise<{
    problems: readonly Problem[];
    flavor: string | undefined;
    flavorInfo: Flavor | undefined;
    serverInfo: ServerInfo | undefined;
    imageFormat: FormatPlan | undefined;
  }> {
    const source = this.#cloud(request.sourceCloud, "source.cloud");
    const target = this.#cloud(request.targetCloud, "target.cloud");
    const why = (err: unknown) => (err instanceof Error ? err.message : String(err));
    const [sourceAuthError, targetAuthError] = await Promise.all([
      source.authenticate().then(() => undefined, why),
      target.authenticate().then(() => undefined, why),
    ]);
    let serverInfo: ServerInfo | null | undefined;
    let missingRemoteGroups: readonly string[] | undefined;
    let imageFormat: FormatPlan | undefined;
    if (sourceAuthError === undefined) serverInfo = (await source.findServer(request.server)) ?? null;
    let targetFacts = {};
    if (targetAuthError === undefined) {
      const [flavors, quotas, network] = await Promise.all([
        target.listFlavors(),
        options.quotas === false ? undefined : target.quotas(),
        target.findNetwork(request.targetNetwork),
      ]);
      targetFacts = {
        targetFlavors: flavors,
        ...(quotas && { quotas }),
        targetNetwork: { name: request.targetNetwork, found: network !== undefined },
      };
      if (serverInfo) {
        const plan = planSecurityGroups(
          serverInfo.securityGroups,
          await source.listSecurityGroups(),
          await target.listSecurityGroups(),
        );
        missingRemoteGroups = plan.missingRemotes;
        const bootImage = serverInfo.imageId ? await source.getImage(serverInfo.imageId) : undefined;
        // A boot image since deleted leaves the snapshot's format unknown: the upload decides.
        if (bootImage) imageFormat = await planTargetFormat(bootImage, target);
      }
    }
    let controllerError: string | undefined;
    let memberKnown: boolean | undefined;
    try {
      memberKnown = (await this.#deps.controller.findMember(request.member)) !== undefined;
    } catch (err) {
      controllerError = why(err);
    }
    const mapped = request.flavor ?? (serverInfo ? target.mappedFlavor(serverInfo.flavor.name) : undefined);
    const result = precheck({
      sourceCloud: request.sourceCloud,
      targetCloud: request.targetCloud,
      server: request.server,
      member: request.member,
      ...(sourceAuthError !== undefined && { sourceAuthError }),
      ...(targetAuthError !== undefined && { targetAuthError }),
      ...(serverInfo !== undefined && { serverInfo }),
      ...targetFacts,
      ...(mapped !== undefined && { mappedFlavor: mapped }),
      ...(controllerError !== undefined && { controllerError }),
      ...(memberKnown !== undefined && { memberKnown }),
      ...(missingRemoteGroups && { missingRemoteGroups }),
      ...(imageFormat && { imageFormat }),
    });
    return {
      problems: result.problems,
      flavor: result.flavor?.id,
      flavorInfo: result.flavor,
      serverInfo: serverInfo ?? undefined,
      imageFormat,
    };
  }

  /**
   * Starts a migration (202 at the API): pre-checks first, so a refused plan creates nothing and
   * names every problem. A repeated idempotency key returns the migration it created.
   */
  async start(
    request: MigrationRequest,
    idempotencyKey: string | undefined,
    options: MemberRunOptions = {},
  ): Promise<{ record: MigrationRecord; created: boolean }> {
    const journal = this.#deps.journal;
    const again = idempotencyKey === undefined ? undefined : journal.byIdempotencyKey(idempotencyKey);
    if (again) return { record: again, created: false };
    const busy = journal.inFlightFor(request.member);
    if (busy) {
      throw new MediationError(
        "MIGRATION_BUSY",
        `member '${request.member}' is being migrated (migration ${busy.id})`,
        {
          field: "member",
          details: { migration: busy.id },
        },
      );
    }
    const { problems } = await this.precheck(request);
    if (problems.length > 0) {
      throw new MediationError(
        "PRECHECK_FAILED",
        `the migration cannot start: ${problems.map((p) => p.message).join("; ")}`,
        {
          field: problems[0]!.field,
          details: { problems },
        },
      );
    }
    const created = journal.create(request, idempotencyKey, options.clusterMigrationId);
    // Answered (202) only once on disk, as the controller answers its writes.
    await journal.durable();
    if (created.created) {
      this.#runOptions.set(created.record.id, options);
      this.#spawn(created.record, "run");
    }
    return created;
  }

  /** Cancels a migration that is not past its commit point; it rolls back. */
  cancel(id: string): MigrationRecord {
    const record = this.#deps.journal.get(id);
    if (!record) throw new MediationError("MIGRATION_NOT_FOUND", `no migration ${id}`, { field: "id" });
    if (record.status !== "running") {
      throw new MediationError("MIGRATION_BUSY", `migration ${id} is ${record.status}, nothing to cancel`, {
        field: "id",
      });
    }
    if (record.committed) {
      throw new MediationError(
        "MIGRATION_BUSY",
        `migration ${id} is past its commit point (the target is linked); it finishes`,
        { field: "id" },
      );
    }
    this.#running.get(id)?.abort();
    return record;
  }

  /** Aborts a running migration not past its commit point (a coordinator's abort); false if it is not running here. */
  abort(id: string): boolean {
    const record = this.#deps.journal.get(id);
    const run = this.#running.get(id);
    if (!record || record.committed || !run) return false;
    run.abort();
    return true;
  }

  /** Resolves once this process's task for the migration ended (at once when there is none). */
  async settled(id: string): Promise<MigrationRecord | undefined> {
    await this.#taskOf.get(id);
    return this.#deps.journal.get(id);
  }

  /** After a restart: resumes the release of committed migrations, rolls back the rest. */
  recover(): void {
    for (const record of this.#deps.journal.unfinished()) {
      if (this.#running.has(record.id)) continue;
      const what = recoveryFor(record);
      if (what === "release") this.#spawn(record, "release");
      if (what === "rollback") this.#spawn(record, "rollback");
    }
  }

  /** Waits for every migration task of this process (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }

  #spawn(record: MigrationRecord, mode: "run" | "release" | "rollback"): void {
    const abort = new AbortController();
    this.#running.set(record.id, abort);
    const task = this.#drive(record, mode, abort.signal).finally(() => {
      this.#running.delete(record.id);
      this.#tasks.delete(task);
      this.#taskOf.delete(record.id);
      this.#runOptions.delete(record.id);
    });
    this.#tasks.add(task);
    this.#taskOf.set(record.id, task);
  }

  #event(id: string, type: string, data: Record<string, unknown>): void {
    const event = this.#deps.journal.event(id, type, data);
    this.events.emit("event", id, event);
  }

  /** Journals a resource before the call that creates it, and waits until that is on disk. */
  async #intend(id: string, resource: Parameters<Journal["intend"]>[1]): Promise<number> {
    const seq = this.#deps.journal.intend(id, resource);
    await this.#deps.journal.durable();
    return seq;
  }

  async #drive(
    record: MigrationRecord,
    mode: "run" | "release" | "rollback",
    signal: AbortSignal,
  ): Promise<void> {
    const source = this.#deps.cloud(record.request.sourceCloud);
    const wrap = this.#runOptions.get(record.id)?.wrapSource;
    const ctx: Context = {
      record,
      source: wrap ? wrap(source) : source,
      target: this.#deps.cloud(record.request.targetCloud),
      signal,
      gate: this.#runOptions.get(record.id)?.gate,
    };
    try {
      if (mode === "rollback") {
        this.#event(record.id, "recovered", { action: "rollback", step: record.step });
        throw new MediationError(
          "INTERRUPTED",
          `the service stopped during ${record.step}; rolled back at restart`,
        );
      }
      if (mode === "run") await this.#forward(ctx);
      else this.#event(record.id, "recovered", { action: "release" });
    } catch (err) {
      await this.#rollback(ctx, err);
      return;
    }
    // Past the commit point nothing is rolled back: the release is retried with backoff, and
    // after the last attempt at the next start.
    const o = this.#o;
    const j = this.#deps.journal;
    for (let attempt = 1; ; attempt++) {
      j.setReleaseAttempt(record.id, attempt);
      try {
        await this.#step(ctx, "release_source", "release_source", () => this.#release(ctx));
        break;
      } catch (err) {
        const error = errorOf(err);
        if (attempt >= o.cleanupAttempts) {
          j.setStatus(record.id, "running", error);
          this.#event(record.id, "release_failed", { ...error, attempt, retry: "at the next start" });
          return;
        }
        const inMs = o.cleanupBackoffMs * 2 ** (attempt - 1);
        this.#event(record.id, "release_retry", { ...error, attempt, inMs });
        await new Promise((r) => setTimeout(r, inMs));
      }
    }
    j.setStatus(record.id, "succeeded");
    this.#deps.metrics.migrationsTotal.inc({ result: "succeeded" });
    this.#event(record.id, "succeeded", {});
  }

  async #step(
    ctx: Context,
    step: Step,
    phase: TimedPhase | undefined,
    fn: () => Promise<void>,
  ): Promise<void> {
    ctx.signal.throwIfAborted();
    const j = this.#deps.journal;
    j.setStep(ctx.record.id, step);
    const t0 = performance.now();
    if (phase) j.phaseStarted(ctx.record.id, phase);
    this.#event(ctx.record.id, "phase", { step });
    await fn();
    if (phase) {
      j.phaseEnded(ctx.record.id, phase);
      this.#deps.metrics.phaseSeconds.observe({ phase }, (performance.now() - t0) / 1000);
    }
  }

  async #forward(ctx: Context): Promise<void> {
    const id = ctx.record.id;
    const req = ctx.record.request;
    const j = this.#deps.journal;
    const o = this.#o;
    await this.#step(ctx, "precheck", undefined, async () => {
      // Again, as the clouds may have changed since the request was accepted.
      const { problems, flavor } = await this.precheck(req);
      if (problems.length > 0) {
        throw new MediationError("PRECHECK_FAILED", problems.map((p) => p.message).join("; "), {
          details: { problems },
        });
      }
      ctx.flavorId = flavor;
    });
    await this.#step(ctx, "source_auth", "source_auth", () => ctx.source.authenticate());
    await this.#step(ctx, "image_creation", "image_creation", async () => {
      const server = await ctx.source.findServer(req.server);
      if (!server)
        throw new MediationError("CLOUD_API", `cloud '${ctx.source.name}' has no server '${req.server}'`);
      ctx.server = server;
      // The source's own server and floating IPs: released at the end, never rolled back.
      j.intend(id, {
        side: "source",
        kind: "server",
        name: server.name,
        owned: false,
        resourceId: server.id,
      });
      for (const fip of await ctx.source.serverFloatingIps(server.id)) {
        j.intend(id, {
          side: "source",
          kind: "floating_ip",
          name: fip.address,
          owned: false,
          resourceId: fip.id,
        });
      }
      const name = `icsdn-${short(id)}-snapshot`;
      const seq = await this.#intend(id, { side: "source", kind: "image", name, owned: true });
      const imageId = await ctx.source.snapshotServer(server.id, name);
      j.created(id, seq, imageId);
      ctx.snapshot = await ctx.source.waitImage(imageId, "active", o.imageDeadlineMs);
    });
    await this.#step(ctx, "target_auth", "target_auth", () => ctx.target.authenticate());
    await this.#step(ctx, "security_setup", "security_setup", () => this.#security(ctx));
    await this.#step(ctx, "image_transfer", undefined, () => this.#transfer(ctx));
    await this.#step(ctx, "instantiation", "instantiation", async () => {
      const server = ctx.server!;
      const network = await ctx.target.findNetwork(req.targetNetwork);
      if (!network)
        throw new MediationError(
          "CLOUD_API",
          `cloud '${ctx.target.name}' has no network '${req.targetNetwork}'`,
        );
      const found = await this.#deps.controller.findMember(req.member);
      if (found) ctx.switchBefore = await this.#switchBefore(found.member);
      const seq = await this.#intend(id, { side: "target", kind: "server", name: server.name, owned: true });
      const serverId = await ctx.target.createServer({
        name: server.name,
        imageId: ctx.targetImageId!,
        flavorId: ctx.flavorId!,
        networkId: network,
        keyName: server.keyName,
        securityGroups: ctx.securityGroups ?? [],
        userData: req.userData,
        metadata: { ...server.metadata, icsdn_migration: id },
      });
      j.created(id, seq, serverId);
      ctx.targetServerId = serverId;
      await ctx.target.waitServer(serverId, "ACTIVE", o.serverDeadlineMs);
    });
    await this.#step(ctx, "network_setup", "network_setup", () => this.#network(ctx));
  }

  async #security(ctx: Context): Promise<void> {
    const id = ctx.record.id;
    const j = this.#deps.journal;
    const server = ctx.server!;
    const plan = planSecurityGroups(
      server.securityGroups,
      await ctx.source.listSecurityGroups(),
      await ctx.target.listSecurityGroups(),
    );
    const ids = new Map((await ctx.target.listSecurityGroups()).map((g) => [g.name, g.id]));
    for (const g of plan.create) {
      const seq = await this.#intend(id, {
        side: "target",
        kind: "security_group",
        name: g.name,
        owned: true,
      });
      const groupId = await ctx.target.createSecurityGroup(g.name, g.description);
      j.created(id, seq, groupId);
      ids.set(g.name, groupId);
    }
    for (const g of plan.create) await ctx.target.addSecurityGroupRules(ids.get(g.name)!, g.rules, ids);
    ctx.securityGroups = [...plan.reuse, ...plan.create.map((g) => g.name)];
    if (server.keyName && !(await ctx.target.hasKeyPair(server.keyName))) {
      const key = await ctx.source.getKeyPairPublicKey(server.keyName);
      if (key) {
        const seq = await this.#intend(id, {
          side: "target",
          kind: "keypair",
          name: server.keyName,
          owned: true,
        });
        await ctx.target.importKeyPair(server.keyName, key);
        j.created(id, seq, server.keyName);
      }
    }
  }

  async #transfer(ctx: Context): Promise<void> {
    const id = ctx.record.id;
    const j = this.#deps.journal;
    const m = this.#deps.metrics;
    const snapshot = ctx.snapshot!;
    const startedWall = Date.now();
    j.phaseStarted(id, "image_download");
    j.phaseStarted(id, "image_upload");
    const seqOf = new Map<string, number>();
    let last = 0;
    let counted = 0;
    const result = await transferImage({
      source: ctx.source,
      sourceImage: snapshot,
      target: ctx.target,
      chunkSize: this.#o.chunkSize,
      signal: ctx.signal,
      newTargetImage: async (attempt, diskFormat) => {
        const seq = await this.#intend(id, {
          side: "target",
          kind: "image",
          name: `icsdn-${short(id)}-image`,
          owned: true,
        });
        const imageId = await ctx.target.createImage({
          name: `icsdn-${short(id)}-image`,
          diskFormat,
          containerFormat: snapshot.containerFormat ?? "bare",
          properties: {},
        });
        j.created(id, seq, imageId);
        seqOf.set(imageId, seq);
        if (attempt > 1) this.#event(id, "upload_retry", { attempt });
        return imageId;
      },
      discardTargetImage: async (imageId) => {
        await ctx.target.deleteImage(imageId);
        j.deleted(id, seqOf.get(imageId)!);
      },
      onProgress: (p) => {
        const grew = p.downloaded - counted;
        if (grew > 0) {
          m.bytesTotal.inc({ direction: "download" }, grew);
          m.bytesTotal.inc({ direction: "upload" }, grew);
        }
        counted = p.downloaded;
        const now = Date.now();
        if (now - last < 250 && p.downloaded !== p.total) return;
        last = now;
        j.setProgress(id, {
          bytesDone: p.downloaded,
          bytesTotal: p.total ?? null,
          uploadAttempt: p.uploadAttempt,
          downloadResumes: p.downloadResumes,
          transferStartedAt: startedWall,
        });
        this.#event(id, "progress", {
          bytes: p.downloaded,
          total: p.total ?? null,
          uploadAttempt: p.uploadAttempt,
          downloadResumes: p.downloadResumes,
        });
      },
    });
    j.phaseEnded(id, "image_download", startedWall + result.downloadMs);
    j.phaseEnded(id, "image_upload", startedWall + result.uploadMs);
    m.phaseSeconds.observe({ phase: "image_download" }, result.downloadMs / 1000);
    m.phaseSeconds.observe({ phase: "image_upload" }, result.uploadMs / 1000);
    j.setProgress(id, {
      bytesDone: result.manifest.size,
      bytesTotal: result.manifest.size,
      uploadAttempt: result.uploadAttempts,
      downloadResumes: result.downloadResumes,
    });
    j.saveManifest(id, result.manifest);
    ctx.targetImageId = result.targetImageId;
    this.#event(id, "transferred", {
      imageHash: result.manifest.imageHash,
      size: result.manifest.size,
      ...(result.conversion && { conversion: result.conversion }),
    });
  }

  async #network(ctx: Context): Promise<void> {
    const id = ctx.record.id;
    const req = ctx.record.request;
    const j = this.#deps.journal;
    const found = await this.#deps.controller.findMember(req.member);
    if (!found)
      throw new MediationError("MEMBER_GONE", `the controller no longer knows member '${req.member}'`);
    const { member, peers } = found;
    j.setCluster(id, member.clusterId);
    // A real VM's switch connects while it boots (vm-init runs before ACTIVE): compare with the
    // session before the target server existed.
    const before = ctx.switchBefore ?? (await this.#switchBefore(member));
    const fipName = `icsdn-${short(id)}-fip`;
    const fseq = await this.#intend(id, { side: "target", kind: "floating_ip", name: fipName, owned: true });
    const fip = await ctx.target.createFloatingIp(ctx.targetServerId!, fipName);
    j.created(id, fseq, fip.id);
    // The link check's login starts now and retries while the VM boots: it overlaps the wait for
    // the new switch (and a member's wait at its gate), so after the rebind only its command runs.
    const linkCheck = this.#prepareLinkCheck(ctx, fip.address);
    try {
      // Announced as soon as known: peers accept the new endpoint before the rebind.
      const aseq = await this.#intend(id, {
        side: "controller",
        kind: "announcement",
        name: fip.address,
        owned: true,
      });
      await this.#deps.controller.announce(member.clusterId, member.vmId, fip.address);
      j.created(id, aseq, fip.address);
      this.#event(id, "announced", { endpoint: fip.address });
      const session = await pollUntil(
        async () => {
          const now = await this.#deps.controller.switchSession(member.clusterId, member.vmId);
          // Connected is enough: the rebind's first phase gives the new switch every rule it lacks
          // before any peer is turned to it. (Its rule count is no signal: a new instance's session
          // is brought up to date with peers announced after it connected only by that phase.)
          return now?.connected && isNewSession(now, before, Date.now()) ? now : undefined;
        },
        {
          deadlineMs: this.#o.switchDeadlineMs,
          what: `the new instance's switch did not connect to the controller within ${this.#o.switchDeadlineMs} ms`,
          // The switch connects at the end of the VM's boot, seconds after ACTIVE, and the
          // controller's listing is cheap: asked every 0.25 s. (A backoff to 5 s saw it up to
          // 3.2 s late: Figure 7's members were verified 3.0 or 6.2 s after their announce, the
          // backoff's steps.)
          firstDelayMs: 100,
          maxDelayMs: 250,
          onTimeout: (what) => new MediationError("CLOUD_TIMEOUT", what),
          signal: ctx.signal,
        },
      );
      // A switch that connected while its VM booted (through the cloud router's SNAT) has settled
      // that long already. Its session then says nothing of the floating IP: the prepared login
      // through it does (its NAT is in place), before any peer is turned to it.
      const settled = sleep(Math.max(0, this.#o.switchSettleMs - (session.connectedForMs ?? 0)));
      await untilAborted(
        Promise.all([settled, linkCheck?.reachable()]).then(() => undefined),
        ctx.signal,
      );
      const gate = ctx.gate;
      if (gate) {
        // A coordinator's member: booted, announced and its switch connected, it is held until the
        // coordinator lets it cut over.
        this.#event(id, "verified", { endpoint: fip.address });
        await untilAborted(gate.verified(id), ctx.signal);
      }
      const rseq = await this.#intend(id, {
        side: "controller",
        kind: "rebind",
        name: member.endpoint ?? "",
        owned: true,
      });
      const controller = this.#runOptions.get(id)?.controller ?? this.#deps.controller;
      await controller.rebind(member.clusterId, member.vmId, fip.address);
      j.created(id, rseq, fip.address);
      // The rebind consumed the announcement.
      j.deleted(id, aseq);
      this.#event(id, "rebound", { endpoint: fip.address });
      // Checked after the rebind: before it, the peers still answer the member at the source instance,
      // so a ping from the target cannot come back. A failure here rebinds back (and, atomic, the
      // whole cluster: its commit is confirmed only once every member is rebound and checked).
      await this.#checkLinks(ctx, linkCheck, fip.address, peers);
      if (gate) await untilAborted(gate.rebound(id), ctx.signal);
    } finally {
      linkCheck?.close();
    }
    ctx.signal.throwIfAborted();
    j.setCommitted(id);
    this.#event(id, "committed", {});
  }

  async #switchBefore(member: ControllerMember): Promise<SwitchBefore> {
    const at = Date.now();
    return { session: await this.#deps.controller.switchSession(member.clusterId, member.vmId), at };
  }

  #prepareLinkCheck(ctx: Context, address: string): PreparedLinkCheck | undefined {
    const serverId = ctx.targetServerId!;
    return this.#deps.linkChecker?.prepare(address, {
      signal: ctx.signal,
      // A cloud that keeps the console to itself (policy, no console) leaves the first key seen.
      reportedHostKeys: () => ctx.target.consoleOutput(serverId).then(hostKeysInConsole, () => []),
    });
  }

  async #checkLinks(
    ctx: Context,
    linkCheck: PreparedLinkCheck | undefined,
    address: string,
    peers: readonly ControllerMember[],
  ): Promise<void> {
    if (!linkCheck) {
      this.#event(ctx.record.id, "links_unchecked", { reason: "no ssh link checker configured" });
      return;
    }
    let hostKey: string;
    let hostKeySource: string;
    try {
      ({ hostKey, hostKeySource } = await linkCheck.run(peers.map((p) => p.vint0)));
    } catch (err) {
      // The checker's own codes (ssh refused the key, no session before the deadline...) say more.
      if (err instanceof MediationError) throw err;
      throw new MediationError("LINK_CHECK_FAILED", `link check from ${address}: ${(err as Error).message}`);
    }
    this.#event(ctx.record.id, "links_checked", {
      peers: peers.map((p) => p.vmId),
      hostKey,
      hostKeySource,
    });
  }

  async #release(ctx: Context): Promise<void> {
    const id = ctx.record.id;
    const j = this.#deps.journal;
    for (const action of releasePlan(j.resources(id))) {
      await runUndo(this.#undoContext(ctx), action);
    }
    for (const r of j.resources(id))
      if (r.side === "controller" && r.kind === "rebind" && r.state !== "deleted") j.deleted(id, r.seq);
  }

  #undoContext(ctx: Context) {
    const record = this.#deps.journal.get(ctx.record.id)!;
    return {
      migrationId: record.id,
      member: record.member,
      clusterId: record.clusterId,
      journal: this.#deps.journal,
      source: ctx.source,
      target: ctx.target,
      controller: this.#deps.controller,
      serverDeadlineMs: this.#o.serverDeadlineMs,
    };
  }

  async #rollback(ctx: Context, cause: unknown): Promise<void> {
    const id = ctx.record.id;
    const j = this.#deps.journal;
    const cancelled = ctx.signal.aborted || (cause instanceof MediationError && cause.code === "CANCELLED");
    const error = errorOf(cause);
    const failed = cancelled
      ? { code: "CANCELLED", message: ctx.signal.aborted ? "cancelled by request" : error.message }
      : error;
    j.setStatus(id, "rolling_back", failed);
    this.#event(id, "rolling_back", { ...failed, step: j.get(id)?.step });
    // Every action is tried even when one fails (an unreachable controller must not keep the
    // target's servers alive); what failed stays journaled and is tried again with backoff, and
    // after the last attempt at the next start.
    const o = this.#o;
    for (let attempt = 1; ; attempt++) {
      const failures: string[] = [];
      for (const action of rollbackPlan(j.resources(id))) {
        try {
          await runUndo(this.#undoContext(ctx), action);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
      if (failures.length === 0) break;
      if (attempt >= o.cleanupAttempts) {
        this.#event(id, "rollback_failed", { errors: failures, attempt, retry: "at the next start" });
        return;
      }
      const inMs = o.cleanupBackoffMs * 2 ** (attempt - 1);
      this.#event(id, "rollback_retry", { errors: failures, attempt, inMs });
      await new Promise((r) => setTimeout(r, inMs));
    }
    const status = cancelled ? "cancelled" : "failed";
    j.setStatus(id, status, failed);
    this.#deps.metrics.migrationsTotal.inc({ result: status });
    this.#event(id, status, failed);
  }
}
