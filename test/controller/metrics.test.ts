import { spawnSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { datapathIdFor } from "../../contract/dataplane/index.ts";
import { rebindResultOf } from "../../controller/api/routes/members.ts";
import { buildTestApi, type TestApi } from "./support/test-api.ts";

const apis: TestApi[] = [];
afterEach(async () => {
  for (const api of apis.splice(0)) await api.close();
});

async function scrape(api: TestApi): Promise<{ text: string; contentType: unknown }> {
  const res = await api.call("GET", "/metrics", undefined, { token: null });
  expect(res.status).toBe(200);
  return { text: res.text, contentType: res.headers["content-type"] };
}

describe("/metrics", () => {
  it("exposes the controller's metrics and process metrics in Prometheus text format", async () => {
    const api = await buildTestApi();
    apis.push(api);
    const { text, contentType } = await scrape(api);
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const [name, type] of [
      ["icsdn_linking_seconds", "histogram"],
      ["icsdn_update_seconds", "histogram"],
      ["icsdn_downtime_seconds", "histogram"],
      ["icsdn_switches_connected", "gauge"],
      ["icsdn_switches_missing", "gauge"],
      ["icsdn_flow_mods_total", "counter"],
      ["icsdn_openflow_errors_total", "counter"],
      ["icsdn_rebinds_total", "counter"],
      ["process_cpu_seconds_total", "counter"],
      ["process_resident_memory_bytes", "gauge"],
      ["nodejs_eventloop_lag_seconds", "gauge"],
    ]) {
      expect(text).toContain(`# TYPE ${name} ${type}`);
    }
    expect(text).toContain('icsdn_rebinds_total{result="ok"} 0');
  });

  it("counts linking reports, rebinds and connected switches", async () => {
    const api = await buildTestApi();
    apis.push(api);
    await api.call("POST", "/v1/clusters", {
      id: "web",
      vni: 42,
      tunnel: "vxlan",
      members: [
        { vmId: "a", vint0: "198.18.0.1", endpoint: "192.0.2.10" },
        { vmId: "b", vint0: "198.18.0.2", endpoint: "198.51.100.20" },
      ],
    });
    api.connectAll("web");
    await api.call("POST", "/v1/linking", { vmId: "a", clusterId: "web", linkingMs: 63 });
    await api.call("POST", "/v1/clusters/web/members/a/rebind", { endpoint: "203.0.113.5" });
    await api.call("POST", "/v1/clusters/web/members/a/rebind", { endpoint: "203.0.113.5" });
    api.fabric.failWhen = () => ({ type: "BAD_ACTION", code: "BAD_OUT_PORT", message: "x" });
    await api.call("POST", "/v1/clusters/web/members/a/rebind", { endpoint: "203.0.113.6" });
    api.fabric.disconnect(datapathIdFor(42, "198.18.0.2"));
    const { text } = await scrape(api);
    expect(text).toContain("icsdn_linking_seconds_count 1");
    expect(text).toContain("icsdn_linking_seconds_sum 0.063");
    expect(text).toContain('icsdn_linking_seconds_bucket{le="0.075"} 1');
    expect(text).toContain('icsdn_linking_seconds_bucket{le="0.05"} 0');
    expect(text).toContain("icsdn_update_seconds_count 1");
    expect(text).toContain('icsdn_rebinds_total{result="ok"} 1');
    expect(text).toContain('icsdn_rebinds_total{result="noop"} 1');
    expect(text).toContain('icsdn_rebinds_total{result="failed"} 1');
    expect(text).toContain("icsdn_switches_connected 1");
    // b has an endpoint and no session; a member with no endpoint yet is not expected anywhere.
    expect(text).toContain("icsdn_switches_missing 1");
    await api.call("POST", "/v1/clusters/web/members", { vmId: "c", vint0: "198.18.0.3" });
    expect((await scrape(api)).text).toContain("icsdn_switches_missing 1");
    api.fabric.connect(datapathIdFor(42, "198.18.0.2"), "198.51.100.20");
    expect((await scrape(api)).text).toContain("icsdn_switches_missing 0");
  });

  it("keeps several controllers in one process apart (one registry each)", async () => {
    const first = await buildTestApi();
    const second = await buildTestApi();
    apis.push(first, second);
    first.metrics.flowModsTotal.inc(3);
    first.metrics.openflowErrorsTotal.inc({ type: "BAD_MATCH", code: "BAD_PREREQ" });
    expect((await scrape(first)).text).toContain("icsdn_flow_mods_total 3");
    expect((await scrape(first)).text).toContain(
      'icsdn_openflow_errors_total{type="BAD_MATCH",code="BAD_PREREQ"} 1',
    );
    expect((await scrape(second)).text).toContain("icsdn_flow_mods_total 0");
  });
});

const promtool = spawnSync("promtool", ["--version"]).status === 0;
describe.skipIf(!promtool)("/metrics as Prometheus's own linter reads it", () => {
  it("passes `promtool check metrics` (apart from prom-client's own gauge names)", async () => {
    const api = await buildTestApi();
    apis.push(api);
    await api.call("POST", "/v1/clusters", {
      id: "web",
      vni: 42,
      tunnel: "vxlan",
      members: [{ vmId: "a", vint0: "198.18.0.1" }],
    });
    await api.call("POST", "/v1/linking", { vmId: "a", clusterId: "web", linkingMs: 63 });
    api.metrics.openflowErrorsTotal.inc({ type: "BAD_MATCH", code: "BAD_PREREQ" });
    const { text } = await scrape(api);
    const res = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    const problems = `${res.stdout}${res.stderr}`.split("\n").filter((l) => l.trim() !== "");
    expect(res.error).toBeUndefined();
    // prom-client's own nodejs_active_*_total gauges break a naming lint; ours must not.
    expect(problems.filter((l) => !/^nodejs_active_\w+_total non-counter/.test(l))).toEqual([]);
  });
});

describe("rebindResultOf", () => {
  it.each([
    [200, undefined, true, "ok"],
    [200, undefined, false, "noop"],
    [401, "UNAUTHORIZED", undefined, undefined],
    [400, "VALIDATION", undefined, "refused"],
    [404, "NOT_FOUND", undefined, "refused"],
    [409, "NOT_CONNECTED", undefined, "failed"],
    [500, undefined, undefined, "failed"],
    [502, "FABRIC_FAILED", undefined, "failed"],
  ] as const)("status %i (%s, changed %s) counts as %s", (status, code, changed, result) => {
    expect(rebindResultOf(status, code, changed)).toBe(result);
  });
});
