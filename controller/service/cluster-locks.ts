import { KeyedMutex } from "./keyed-mutex.ts";

/**
 * The controller's locks, one owner: each cluster's changes take turns (the cluster service's
 * changes, the switch side's reconciles), and creations take turns in the catalog (VNI uniqueness
 * spans clusters). Built once by the composition root and handed to both.
 */
export class ClusterLocks {
  readonly #mutex = new KeyedMutex();

  cluster<T>(clusterId: string, fn: () => Promise<T>): Promise<T> {
    return this.#mutex.run(`cluster:${clusterId}`, fn);
  }

  catalog<T>(fn: () => Promise<T>): Promise<T> {
    return this.#mutex.run("catalog", fn);
  }
}
