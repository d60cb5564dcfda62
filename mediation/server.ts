import type { FastifyInstance, FastifyServerOptions } from "fastify";
import type { AuthConfig } from "../contract/http/auth.ts";
import { boundUrl, type ListenAddress } from "../contract/http/serve-config.ts";
import { buildMediationApi } from "./api/app.ts";
import type { CloudDriver } from "./clouds/cloud-driver.ts";
import { loadCloudsFile, resolveCloud } from "./clouds/clouds-yaml.ts";
import { OpenStackDriver } from "./clouds/openstack/openstack-driver.ts";
import { Journal } from "./journal/journal.ts";
import { MediationMetrics } from "./metrics.ts";
import type { ControllerPort } from "./ports/controller.ts";
import type { LinkChecker } from "./ports/link-check.ts";
import { ClusterCoordinator } from "./runner/cluster-coordinator.ts";
import { MigrationRunner, type RunnerOptions } from "./runner/runner.ts";

export interface MediationConfig {
  readonly dbPath: string;
  readonly listen: ListenAddress;
  readonly auth: AuthConfig;
  readonly controller: ControllerPort;
  readonly linkChecker?: LinkChecker;
  readonly logger?: FastifyServerOptions["logger"];
  readonly runner?: RunnerOptions;
  readonly env?: NodeJS.ProcessEnv;
}

export interface RunningMediation {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly journal: Journal;
  readonly runner: MigrationRunner;
  readonly coordinator: ClusterCoordinator;
  close(): Promise<void>;
}

/** The composition root: journal -> clouds -> runner -> cluster coordinator -> REST API; then unfinished migrations recover. */
export async function startMediation(config: MediationConfig): Promise<RunningMediation> {
  const journal = Journal.open(config.dbPath);
  try {
    const env = config.env ?? process.env;
    const drivers = new Map<string, CloudDriver>();
    // clouds.yaml is read when a cloud is first named, so an edit needs no restart for new clouds.
    const cloud = (name: string): CloudDriver => {
      let d = drivers.get(name);
      if (!d) {
        d = new OpenStackDriver(resolveCloud(name, loadCloudsFile(env), env));
        drivers.set(name, d);
      }
      return d;
    };
    const metrics = new MediationMetrics(() => journal.unfinished().length);
    const runner = new MigrationRunner({
      journal,
      cloud,
      controller: config.controller,
      linkChecker: config.linkChecker,
      metrics,
      ...(config.runner && { options: config.runner }),
    });
    const coordinator = new ClusterCoordinator({
      journal,
      runner,
      controller: config.controller,
      cloud,
      cloudNames: () => Object.keys(loadCloudsFile(env).clouds),
      metrics,
    });
    const app = await buildMediationApi(
      { journal, runner, coordinator, metrics, controller: config.controller, auth: config.auth },
      config.logger,
    );
    try {
      await app.listen({ host: config.listen.host, port: config.listen.port });
    } catch (err) {
      await app.close();
      throw err;
    }
    // Cluster migrations first: an atomic one past its commit marks its members committed
    // before the single-member recovery decides between release and rollback.
    coordinator.recover(() => runner.recover());
    return {
      url: boundUrl(config.listen, app.server.address()),
      app,
      journal,
      runner,
      coordinator,
      async close() {
        await app.close();
        await coordinator.idle();
        await runner.idle();
        journal.close();
      },
    };
  } catch (err) {
    journal.close();
    throw err;
  }
}
