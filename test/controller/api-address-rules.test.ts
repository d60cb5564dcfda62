import { afterEach, describe, expect, it } from "vitest";
import { type DocRoute, type JsonSchema, openApiOf, routeName, routesOf } from "../support/openapi.ts";
import { apiWithTwoMembers, buildTestApi, snapshotOf, type TestApi } from "./support/test-api.ts";

// Every write route whose body carries an IPv4 address (found in the OpenAPI document, so a route
// added later must be listed here or this test fails) refuses the addresses no packet can be
// tunnelled to or from, names the field, and changes nothing. The JSON schema's `format: ipv4`
// accepts all four; the model's parser is what refuses them, on every route alike.
const REFUSED = {
  unspecified: "0.0.0.0",
  loopback: "127.0.0.1",
  "loopback, not .1": "127.9.8.7",
  multicast: "224.0.0.251",
  "multicast, top of the range": "239.255.255.255",
  broadcast: "255.255.255.255",
};

interface AddressRoute {
  /** A request the route accepts; each address field is then replaced by a refused address. */
  readonly url: string;
  readonly body: Record<string, unknown>;
  /** The address fields, as the error's `field` names them ("members[0].vint0"). */
  readonly fields: readonly string[];
  /** The 2xx the valid request gets. */
  readonly status: number;
}

const CLUSTER = "/v1/clusters/db";
const ROUTES: Record<string, AddressRoute> = {
  "POST /v1/clusters": {
    url: "/v1/clusters",
    body: {
      id: "web",
      vni: 43,
      tunnel: "vxlan",
      members: [{ vmId: "w1", vint0: "198.19.0.1", endpoint: "203.0.113.31" }],
    },
    fields: ["members[0].vint0", "members[0].endpoint"],
    status: 201,
  },
  "POST /v1/clusters/{clusterId}/members": {
    url: `${CLUSTER}/members`,
    body: { vmId: "vm3", vint0: "198.18.0.3", endpoint: "203.0.113.3" },
    fields: ["vint0", "endpoint"],
    status: 201,
  },
  "PATCH /v1/clusters/{clusterId}/members/{vmId}": {
    url: `${CLUSTER}/members/vm1`,
    body: { vint0: "198.18.0.1", endpoint: "203.0.113.1", description: "patched" },
    fields: ["vint0", "endpoint"],
    status: 200,
  },
  "POST /v1/clusters/{clusterId}/members/{vmId}/rebind": {
    url: `${CLUSTER}/members/vm1/rebind`,
    body: { endpoint: "203.0.113.71" },
    fields: ["endpoint"],
    status: 200,
  },
  "POST /v1/clusters/{clusterId}/rebinds": {
    url: `${CLUSTER}/rebinds`,
    body: { rebinds: [{ vmId: "vm1", endpoint: "203.0.113.73" }] },
    fields: ["rebinds[0].endpoint"],
    status: 200,
  },
  "PUT /v1/clusters/{clusterId}/members/{vmId}/next-endpoint": {
    url: `${CLUSTER}/members/vm1/next-endpoint`,
    body: { endpoint: "203.0.113.72" },
    fields: ["endpoint"],
    status: 200,
  },
};

/** Paths of every `format: ipv4` property in a body schema ("members[].vint0"). */
function addressFields(schema: JsonSchema | undefined, at = ""): string[] {
  if (!schema) return [];
  if (schema.format === "ipv4") return [at];
  const out: string[] = [];
  for (const [name, sub] of Object.entries(schema.properties ?? {}))
    out.push(...addressFields(sub, at === "" ? name : `${at}.${name}`));
  if (schema.items) out.push(...addressFields(schema.items, `${at}[]`));
  return out;
}

const bodySchema = (r: DocRoute) => r.operation.requestBody?.content?.["application/json"]?.schema;

/** `body` with the field at `path` ("members[0].endpoint") set to `value`. */
function withField(body: Record<string, unknown>, path: string, value: string): Record<string, unknown> {
  const copy = structuredClone(body);
  const keys = path.split(/\.|\[(\d+)\]/).filter((k) => k !== undefined && k !== "");
  let at: Record<string, unknown> = copy;
  for (const key of keys.slice(0, -1)) at = at[key] as Record<string, unknown>;
  at[keys.at(-1)!] = value;
  return copy;
}

let api: TestApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

describe("address rules on every write route that takes an address", () => {
  it("the document's address-taking write routes are exactly those tested here", async () => {
    api = await buildTestApi();
    const found = routesOf(await openApiOf(api.app))
      .filter((r) => r.method !== "GET" && addressFields(bodySchema(r)).length > 0)
      .map(routeName);
    expect(found.sort()).toEqual(Object.keys(ROUTES).sort());
  });

  for (const [name, route] of Object.entries(ROUTES)) {
    describe(name, () => {
      it("names every address field of its body here", async () => {
        api = await buildTestApi();
        const doc = routesOf(await openApiOf(api.app)).find((r) => routeName(r) === name);
        expect(doc, name).toBeDefined();
        const documented = addressFields(bodySchema(doc!)).map((f) => f.replace("[]", "[0]"));
        expect([...route.fields].sort()).toEqual(documented.sort());
      });

      for (const field of route.fields)
        for (const [kind, address] of Object.entries(REFUSED))
          it(`refuses ${field} = ${address} (${kind}), naming the field, and changes nothing`, async () => {
            api = await apiWithTwoMembers();
            const before = snapshotOf(api);
            const method = name.split(" ")[0] as "POST";
            const res = await api.call(method, route.url, withField(route.body, field, address));
            expect(res.status, res.text).toBe(400);
            expect(res.body).toMatchObject({ code: "INVALID_FIELD", field });
            expect((res.body as { error: string }).error).toContain(address);
            expect(snapshotOf(api)).toBe(before);
          });

      it("accepts the same request with usable addresses (so the refusals above are the addresses')", async () => {
        api = await apiWithTwoMembers();
        const method = name.split(" ")[0] as "POST";
        const res = await api.call(method, route.url, route.body);
        expect(res.status, res.text).toBe(route.status);
      });
    });
  }
});
