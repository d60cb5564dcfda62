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
  // proto whole is about 2.5 h on one worker; these two parts of it run in minutes. What decodes
  // a switch's bytes (framing, the bounds-checked reader, the header and body dispatch):
  // security-relevant, the controller reads them from the network.
  "proto/decode": {
    mutate: ["proto/framer.ts", "proto/wire/reader.ts", "proto/message.ts"],
    tests: ["test/proto/*.test.ts"],
  },
  // What makes a rule change atomic on the switch (bundles, flow-mods): make-before-break.
  "proto/bundle": {
    mutate: ["proto/committed-bundle.ts", "proto/messages/bundle.ts", "proto/messages/flow-mod.ts"],
    tests: ["test/proto/*.test.ts"],
  },
  // Shared contracts: bearer auth and the error answer of every REST API (security-relevant), the
  // data-plane rules, the error registry, the CLI plumbing and the controller's client (against a
  // real controller in this process; its rebind over real OVS is left out, see vitest.config.ts).
  contract: {
    mutate: ["contract/**/*.ts"],
    tests: [
      ...controllerUnitTests,
      "test/contract/dataplane.test.ts",
      "test/contract/registry.test.ts",
      "test/contract/cli-args.test.ts",
      "test/contract/http.test.ts",
      "test/contract/controller-client.test.ts",
      "test/contract/controller-client-wire.test.ts",
    ],
  },
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
    tests: [
      "test/vm-init/plan.test.ts",
      "test/vm-init/planners-edges.test.ts",
      "test/vm-init/ovsdb.test.ts",
      "test/vm-init/config.test.ts",
    ],
  },
  // The mediation's pure cores: its planner (pre-checks, flavor, security groups), its model (the
  // undo and release plans, recovery after a restart) and its journal.
  "mediation/planner": { mutate: ["mediation/planner/**/*.ts"], tests: ["test/mediation/planner*.test.ts"] },
  "mediation/model": { mutate: ["mediation/model/**/*.ts"], tests: ["test/mediation/planner*.test.ts"] },
  "mediation/journal": { mutate: ["mediation/journal/**/*.ts"], tests: ["test/mediation/journal*.test.ts"] },
};
