import { afterEach, describe, expect, it } from "vitest";
import { buildTestApi, type TestApi, TOKEN } from "./support/test-api.ts";

// The Authorization header is the whole `Bearer <token>`, nothing before or after: a header that
// merely contains the right token somewhere must not pass (found by mutating the header regex).
let api: TestApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

async function statusWith(a: TestApi, authorization: string): Promise<number> {
  return (await a.app.inject({ method: "GET", url: "/v1/clusters", headers: { authorization } })).statusCode;
}

describe("the bearer header, exactly", () => {
  it.each([
    ["the token with more after it", `Bearer ${TOKEN} ${TOKEN}`],
    ["the token then a tab", `Bearer ${TOKEN}\textra`],
    ["something before the scheme", `x Bearer ${TOKEN}`],
    ["the scheme glued to a prefix", `XBearer ${TOKEN}`],
    ["no space after the scheme", `Bearer${TOKEN}`],
    ["two spaces after the scheme", `Bearer  ${TOKEN}`],
    ["the token alone", TOKEN],
    ["the scheme alone", "Bearer "],
  ])("refuses %s", async (_name, header) => {
    api = await buildTestApi();
    expect(await statusWith(api, header)).toBe(401);
  });

  it("accepts the scheme in any case, and nothing else changes", async () => {
    api = await buildTestApi();
    for (const scheme of ["Bearer", "bearer", "BEARER"])
      expect(await statusWith(api, `${scheme} ${TOKEN}`)).toBe(200);
  });
});
