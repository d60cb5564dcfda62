/**
 * The controller answers with the REST types its clients read (contract/controller-api/types.ts).
 * These are compile-time checks: `npm run typecheck` fails when the controller's reports and
 * views drift from the contract; the client test checks the same against a running controller.
 */
import { describe, expectTypeOf, it } from "vitest";
import type * as Api from "../../contract/controller-api/types.ts";
import type { clusterStateView, clusterView, memberView } from "../../controller/api/views.ts";
import type { OpenFlowErrorInfo } from "../../controller/fabric/switch-fabric.ts";
import type { SwitchEntry } from "../../controller/service/switch-inventory.ts";
import type { LinkingRecord, RebindRecord } from "../../controller/store/records.ts";

describe("the controller's answers and the contract", () => {
  it("agree on every response body", () => {
    expectTypeOf<ReturnType<typeof memberView>>().toEqualTypeOf<Api.Member>();
    expectTypeOf<ReturnType<typeof clusterView>>().toEqualTypeOf<Api.Cluster>();
    expectTypeOf<ReturnType<typeof clusterStateView>>().toEqualTypeOf<Api.ClusterWithMembers>();
    expectTypeOf<SwitchEntry>().toExtend<Api.SwitchEntry>();
    expectTypeOf<RebindRecord>().toExtend<Api.RebindRecord>();
    expectTypeOf<LinkingRecord>().toExtend<Api.LinkingRecord>();
    expectTypeOf<OpenFlowErrorInfo>().toEqualTypeOf<Api.OpenFlowErrorInfo>();
  });
});
