/**
 * The pure cores under mutation testing: what Stryker mutates in each, and which tests it runs
 * against the mutants (only unit and property tests: no OVS daemons, lab or sockets, so a run
 * stays within minutes on a 2-core machine). The key is the `<folder>` of `npm run mutation --
 * <folder>` and of `mutation.score.<folder>` in bench/results.json.
 */
export interface CoreFolder {
  /** Globs of the source files to mutate. */
  readonly mutate: readonly string[];
  /** Globs of the test files run against each mutant. */
  readonly tests: readonly string[];
}

const controllerUnitTests = [
  "test/controller/*.test.ts",
  "test/controller/openflow/rebind-planner.property.test.ts",
  "test/controller/openflow/units.test.ts",
];

export const CORE_FOLDERS: Readonly<Record<string, CoreFolder>> = {
  proto: {
    mutate: ["proto/**/*.ts"],
    tests: ["test/proto/*.test.ts", "test/cli/ofp.test.ts"],
  },
  // Shared contracts: bearer auth and the error answer of every REST API (security-relevant).
  contract: { mutate: ["contract/**/*.ts"], tests: controllerUnitTests },
  "controller/compiler": { mutate: ["controller/compiler/**/*.ts"], tests: controllerUnitTests },
  "controller/service": { mutate: ["controller/service/**/*.ts"], tests: controllerUnitTests },
  "controller/store": { mutate: ["controller/store/**/*.ts"], tests: controllerUnitTests },
  "vm-init/planners": {
    mutate: [
      "vm-init/desired.ts",
      "vm-init/ip-plan.ts",
      "vm-init/ovs-plan.ts",
      "vm-init/ip-observed.ts",
      "vm-init/ovs-observed.ts",
    ],
    tests: ["test/vm-init/plan.test.ts", "test/vm-init/ovsdb.test.ts", "test/vm-init/config.test.ts"],
  },
  // The mediation's pure cores: its planner (pre-checks, flavor, security groups) and journal.
  "mediation/planner": { mutate: ["mediation/planner/**/*.ts"], tests: ["test/mediation/planner.test.ts"] },
  "mediation/journal": { mutate: ["mediation/journal/**/*.ts"], tests: ["test/mediation/journal.test.ts"] },
};
