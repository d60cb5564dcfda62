import { describe, expect, it } from "vitest";
import { deleteProgress } from "../../mediation/clouds/openstack/nova.ts";

describe("a server delete Nova accepted", () => {
  it("is done once the server is gone (404) or DELETED", () => {
    expect(deleteProgress(undefined)).toBe("gone");
    expect(deleteProgress({ status: "DELETED", taskState: null })).toBe("gone");
  });

  it("is under way while the task state is deleting, whatever the status (an ERROR server being deleted)", () => {
    for (const status of ["ACTIVE", "ERROR", "SHUTOFF", "BUILD"])
      expect(deleteProgress({ status, taskState: "deleting" })).toBe("deleting");
    expect(deleteProgress({ status: "SOFT_DELETED", taskState: null })).toBe("deleting");
  });

  it("was dropped when nova-compute ended it without deleting: task state reverted, or ERROR", () => {
    expect(deleteProgress({ status: "ACTIVE", taskState: null })).toBe("dropped");
    expect(deleteProgress({ status: "ERROR", taskState: null })).toBe("dropped");
  });
});
