import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApi, snapshotOf, type TestApi } from "./support/test-api.ts";

let api: TestApi;

beforeAll(async () => {
  api = await buildTestApi();
  const res = await api.call("POST", "/v1/clusters", {
    id: "web",
    vni: 42,
    tunnel: "vxlan",
    members: [
      { vmId: "a", vint0: "198.18.0.1", endpoint: "192.0.2.10" },
      { vmId: "b", vint0: "198.18.0.2", endpoint: "198.51.100.20" },
    ],
  });
  expect(res.status).toBe(201);
  api.connectAll("web");
});
afterAll(async () => {
  await api.close();
});

type Method = "POST" | "PATCH" | "DELETE" | "GET";
interface Case {
  name: string;
  method: Method;
  url: string;
  body?: unknown;
  raw?: string;
  contentType?: string;
  status: number;
  code: string;
  field?: string;
}

const member = { vmId: "c", vint0: "198.18.0.3", endpoint: "203.0.113.30" };
const cluster = { id: "db", vni: 43, tunnel: "gre" };

const cases: Case[] = [
  {
    name: "invalid JSON",
    method: "POST",
    url: "/v1/clusters",
    raw: '{"id": "db",',
    status: 400,
    code: "INVALID_JSON",
  },
  {
    name: "empty JSON body",
    method: "POST",
    url: "/v1/clusters",
    raw: "",
    status: 400,
    code: "INVALID_JSON",
  },
  {
    name: "a JSON array body",
    method: "POST",
    url: "/v1/clusters",
    body: [cluster],
    status: 400,
    code: "INVALID_FIELD",
    field: "body",
  },
  {
    name: "not JSON at all",
    method: "POST",
    url: "/v1/clusters",
    raw: "id=db",
    contentType: "text/plain",
    status: 415,
    code: "FST_ERR_CTP_INVALID_MEDIA_TYPE",
  },
  {
    name: "missing vni",
    method: "POST",
    url: "/v1/clusters",
    body: { id: "db", tunnel: "gre" },
    status: 400,
    code: "INVALID_FIELD",
    field: "vni",
  },
  {
    name: "vni out of range",
    method: "POST",
    url: "/v1/clusters",
    body: { ...cluster, vni: 16777216 },
    status: 400,
    code: "INVALID_FIELD",
    field: "vni",
  },
  {
    name: "vni as a string",
    method: "POST",
    url: "/v1/clusters",
    body: { ...cluster, vni: "43" },
    status: 400,
    code: "INVALID_FIELD",
    field: "vni",
  },
  {
    name: "unknown tunnel",
    method: "POST",
    url: "/v1/clusters",
    body: { ...cluster, tunnel: "ipip" },
    status: 400,
    code: "INVALID_FIELD",
    field: "tunnel",
  },
  {
    name: "bad cluster id",
    method: "POST",
    url: "/v1/clusters",
    body: { ...cluster, id: "DB_1" },
    status: 400,
    code: "INVALID_FIELD",
    field: "id",
  },
  {
    name: "an unknown field",
    method: "POST",
    url: "/v1/clusters",
    body: { ...cluster, vin: 1 },
    status: 400,
    code: "INVALID_FIELD",
    field: "vin",
  },
  {
    name: "duplicate VNI",
    method: "POST",
    url: "/v1/clusters",
    body: { ...cluster, vni: 42 },
    status: 409,
    code: "CONFLICT",
    field: "vni",
  },
  {
    name: "duplicate cluster id",
    method: "POST",
    url: "/v1/clusters",
    body: { ...cluster, id: "web" },
    status: 409,
    code: "CONFLICT",
    field: "id",
  },
  {
    name: "a wrong IP in members[1]",
    method: "POST",
    url: "/v1/clusters",
    body: {
      ...cluster,
      members: [
        { vmId: "x", vint0: "198.18.0.1" },
        { vmId: "y", vint0: "198.18.0.256" },
      ],
    },
    status: 400,
    code: "INVALID_FIELD",
    field: "members[1].vint0",
  },
  {
    name: "a loopback vint0 in members[0]",
    method: "POST",
    url: "/v1/clusters",
    body: { ...cluster, members: [{ vmId: "x", vint0: "127.0.0.1" }] },
    status: 400,
    code: "INVALID_FIELD",
    field: "members[0].vint0",
  },
  {
    name: "two members with one vint0",
    method: "POST",
    url: "/v1/clusters",
    body: {
      ...cluster,
      members: [
        { vmId: "x", vint0: "198.18.0.1" },
        { vmId: "y", vint0: "198.18.0.1" },
      ],
    },
    status: 409,
    code: "CONFLICT",
    field: "members[1].vint0",
  },
  {
    name: "a missing vmId in members[0]",
    method: "POST",
    url: "/v1/clusters",
    body: { ...cluster, members: [{ vint0: "198.18.0.1" }] },
    status: 400,
    code: "INVALID_FIELD",
    field: "members[0].vmId",
  },
  {
    name: "unknown cluster (read)",
    method: "GET",
    url: "/v1/clusters/nope",
    status: 404,
    code: "NOT_FOUND",
    field: "clusterId",
  },
  {
    name: "unknown cluster (add member)",
    method: "POST",
    url: "/v1/clusters/nope/members",
    body: member,
    status: 404,
    code: "NOT_FOUND",
    field: "clusterId",
  },
  {
    name: "unknown cluster (delete)",
    method: "DELETE",
    url: "/v1/clusters/nope",
    status: 404,
    code: "NOT_FOUND",
    field: "clusterId",
  },
  {
    name: "unknown member",
    method: "GET",
    url: "/v1/clusters/web/members/zz",
    status: 404,
    code: "NOT_FOUND",
    field: "vmId",
  },
  {
    name: "unknown member (rebind)",
    method: "POST",
    url: "/v1/clusters/web/members/zz/rebind",
    body: { endpoint: "203.0.113.5" },
    status: 404,
    code: "NOT_FOUND",
    field: "vmId",
  },
  {
    name: "a malformed cluster id in the URL",
    method: "GET",
    url: "/v1/clusters/Bad_Id",
    status: 400,
    code: "INVALID_FIELD",
    field: "clusterId",
  },
  {
    name: "a member IP with a prefix",
    method: "POST",
    url: "/v1/clusters/web/members",
    body: { ...member, vint0: "198.18.0.3/24" },
    status: 400,
    code: "INVALID_FIELD",
    field: "vint0",
  },
  {
    name: "a multicast endpoint",
    method: "POST",
    url: "/v1/clusters/web/members",
    body: { ...member, endpoint: "224.0.0.1" },
    status: 400,
    code: "INVALID_FIELD",
    field: "endpoint",
  },
  {
    name: "a member with a taken vint0",
    method: "POST",
    url: "/v1/clusters/web/members",
    body: { ...member, vint0: "198.18.0.2" },
    status: 409,
    code: "CONFLICT",
    field: "vint0",
  },
  {
    name: "a member with a taken endpoint",
    method: "POST",
    url: "/v1/clusters/web/members",
    body: { ...member, endpoint: "192.0.2.10" },
    status: 409,
    code: "CONFLICT",
    field: "endpoint",
  },
  {
    name: "a member with a taken vmId",
    method: "POST",
    url: "/v1/clusters/web/members",
    body: { ...member, vmId: "a" },
    status: 409,
    code: "CONFLICT",
    field: "vmId",
  },
  {
    name: "changing a cluster's VNI",
    method: "PATCH",
    url: "/v1/clusters/web",
    body: { vni: 44 },
    status: 409,
    code: "IMMUTABLE",
    field: "vni",
  },
  {
    name: "changing a cluster's tunnel",
    method: "PATCH",
    url: "/v1/clusters/web",
    body: { tunnel: "gre" },
    status: 409,
    code: "IMMUTABLE",
    field: "tunnel",
  },
  {
    name: "changing a member's vint0",
    method: "PATCH",
    url: "/v1/clusters/web/members/a",
    body: { vint0: "198.18.0.9" },
    status: 409,
    code: "IMMUTABLE",
    field: "vint0",
  },
  {
    name: "a loopback endpoint in a member's PATCH",
    method: "PATCH",
    url: "/v1/clusters/web/members/a",
    body: { endpoint: "127.0.0.1" },
    status: 400,
    code: "INVALID_FIELD",
    field: "endpoint",
  },
  {
    name: "members that are not an array",
    method: "POST",
    url: "/v1/clusters",
    body: { ...cluster, members: {} },
    status: 400,
    code: "INVALID_FIELD",
    field: "members",
  },
  {
    name: "changing an endpoint by PATCH",
    method: "PATCH",
    url: "/v1/clusters/web/members/a",
    body: { endpoint: "203.0.113.5" },
    status: 409,
    code: "USE_REBIND",
    field: "endpoint",
  },
  {
    name: "deleting a cluster with members",
    method: "DELETE",
    url: "/v1/clusters/web",
    status: 409,
    code: "CONFLICT",
    field: "members",
  },
  {
    name: "rebind without endpoint",
    method: "POST",
    url: "/v1/clusters/web/members/a/rebind",
    body: {},
    status: 400,
    code: "INVALID_FIELD",
    field: "endpoint",
  },
  {
    name: "rebind to a null endpoint",
    method: "POST",
    url: "/v1/clusters/web/members/a/rebind",
    body: { endpoint: null },
    status: 400,
    code: "INVALID_FIELD",
    field: "endpoint",
  },
  {
    name: "rebind to a wrong IP",
    method: "POST",
    url: "/v1/clusters/web/members/a/rebind",
    body: { endpoint: "203.0.113" },
    status: 400,
    code: "INVALID_FIELD",
    field: "endpoint",
  },
  {
    name: "rebind to the unspecified address",
    method: "POST",
    url: "/v1/clusters/web/members/a/rebind",
    body: { endpoint: "0.0.0.0" },
    status: 400,
    code: "INVALID_FIELD",
    field: "endpoint",
  },
  {
    name: "rebind to another member's endpoint",
    method: "POST",
    url: "/v1/clusters/web/members/a/rebind",
    body: { endpoint: "198.51.100.20" },
    status: 409,
    code: "CONFLICT",
    field: "endpoint",
  },
  {
    name: "linking for an unknown member",
    method: "POST",
    url: "/v1/linking",
    body: { vmId: "zz", clusterId: "web", linkingMs: 5 },
    status: 404,
    code: "NOT_FOUND",
    field: "vmId",
  },
  {
    name: "linking for an unknown cluster",
    method: "POST",
    url: "/v1/linking",
    body: { vmId: "a", clusterId: "nope", linkingMs: 5 },
    status: 404,
    code: "NOT_FOUND",
    field: "clusterId",
  },
  {
    name: "a negative linking time",
    method: "POST",
    url: "/v1/linking",
    body: { vmId: "a", clusterId: "web", linkingMs: -1 },
    status: 400,
    code: "INVALID_FIELD",
    field: "linkingMs",
  },
  {
    name: "a linking time over an hour",
    method: "POST",
    url: "/v1/linking",
    body: { vmId: "a", clusterId: "web", linkingMs: 3_600_001 },
    status: 400,
    code: "INVALID_FIELD",
    field: "linkingMs",
  },
  {
    name: "a linking time as a string",
    method: "POST",
    url: "/v1/linking",
    body: { vmId: "a", clusterId: "web", linkingMs: "63" },
    status: 400,
    code: "INVALID_FIELD",
    field: "linkingMs",
  },
  { name: "no such route", method: "GET", url: "/v1/nothing", status: 404, code: "NO_ROUTE" },
];

describe("refused requests change nothing", () => {
  it.each(cases)("$name -> $status $code $field", async (c) => {
    const before = snapshotOf(api);
    const res = await api.call(c.method, c.url, c.body, {
      ...(c.raw !== undefined && { rawBody: c.raw }),
      ...(c.contentType !== undefined && { contentType: c.contentType }),
    });
    expect(res.status, res.text).toBe(c.status);
    expect(res.body).toMatchObject({ code: c.code });
    const body = res.body as { error: string; field?: string };
    expect(typeof body.error).toBe("string");
    if (c.field !== undefined) {
      expect(body.field).toBe(c.field);
      expect(body.error).toContain(c.field);
    }
    expect(snapshotOf(api)).toBe(before);
  });

  it("counts refused rebinds", async () => {
    const text = (await api.call("GET", "/metrics", undefined, { token: null })).text;
    expect(text).toMatch(/icsdn_rebinds_total\{result="refused"\} 6/);
  });
});
