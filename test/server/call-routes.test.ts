import { describe, expect, it } from "vitest";
import { callRouteOf } from "../../src/server/call-routes.js";

describe("callRouteOf", () => {
  it("reads the routed, explicit and batch calls from a path, query string ignored and names decoded", () => {
    expect(callRouteOf("/v1/endpoints/scores")).toEqual({ type: "scores", batch: false });
    expect(callRouteOf("/v1/endpoints/scores?trace=1")).toEqual({ type: "scores", batch: false });
    expect(callRouteOf("/v1/endpoints/scores/batch")).toEqual({ type: "scores", batch: true });
    expect(callRouteOf("/v1/endpoints/scores/lookup")).toEqual({ type: "scores", implementation: "lookup", batch: false });
    expect(callRouteOf("/v1/endpoints/scores/lookup/batch")).toEqual({ type: "scores", implementation: "lookup", batch: true });
    expect(callRouteOf("/v1/endpoints/customer%20value")).toEqual({ type: "customer value", batch: false });
  });

  it("leaves every other path to the other routes", () => {
    for (const path of [
      "/v1/endpoints",
      "/v1/endpoints/",
      "/v1/endpoints//x",
      "/v1/endpoints/a/b/c",
      "/v1/storages",
      "/v1/endpoints/%E0%A4%A",
    ])
      expect(callRouteOf(path)).toBeUndefined();
  });
});
