import { describe, expect, it } from "vitest";
import { backupSelection, type ClassifiedPath, classOf, normalizePath } from "../../src/policy/classify.js";

const entries: ClassifiedPath[] = [
  { path: "/srv/app", dataClass: "rebuildable" },
  { path: "/srv/app/uploads", dataClass: "irreplaceable" },
  { path: "/srv/app/uploads/.thumbs", dataClass: "ignored" },
  { path: "/srv/app/config/keys", dataClass: "irreplaceable" },
  { path: "/var/lib/db", dataClass: "irreplaceable" },
  { path: "/var/lib/db/cache", dataClass: "rebuildable" },
  { path: "/var/lib/db/cache/pinned/x", dataClass: "irreplaceable" },
];

describe("classOf: the most specific entry wins", () => {
  it.each([
    ["/srv/app/index.js", "rebuildable"],
    ["/srv/app/uploads/a.png", "irreplaceable"],
    ["/srv/app/uploads/.thumbs/a.png", "ignored"],
    ["/srv/app/config/keys/tls.key", "irreplaceable"],
    ["/srv/app/config/app.ini", "rebuildable"],
    ["/srv/application", undefined],
    ["/var/lib/db/cache/pinned/x/1", "irreplaceable"],
    ["/var/lib/db/cache/other", "rebuildable"],
  ])("%s is %s", (p, expected) => {
    expect(classOf(entries, p)).toBe(expected);
  });
});

describe("backupSelection", () => {
  it("snapshots roots without an irreplaceable ancestor and carves refinements out of excluded parents", () => {
    expect(backupSelection(entries)).toEqual({
      roots: ["/srv/app/config/keys", "/srv/app/uploads", "/var/lib/db"],
      excludes: [
        "/srv/app/uploads/.thumbs",
        "/var/lib/db/cache/*",
        "!/var/lib/db/cache/pinned",
        "/var/lib/db/cache/pinned/*",
        "!/var/lib/db/cache/pinned/x",
      ],
    });
  });

  it("excludes a rebuildable path outside every root not at all", () => {
    const sel = backupSelection([
      { path: "/a", dataClass: "irreplaceable" },
      { path: "/b", dataClass: "rebuildable" },
    ]);
    expect(sel).toEqual({ roots: ["/a"], excludes: [] });
  });

  it("reopens a shared parent once for two refinements", () => {
    const sel = backupSelection([
      { path: "/d", dataClass: "irreplaceable" },
      { path: "/d/r", dataClass: "rebuildable" },
      { path: "/d/r/x/one", dataClass: "irreplaceable" },
      { path: "/d/r/x/two", dataClass: "irreplaceable" },
    ]);
    expect(sel.excludes).toEqual(["/d/r/*", "!/d/r/x", "/d/r/x/*", "!/d/r/x/one", "!/d/r/x/two"]);
  });

  it("handles the root directory as a parent", () => {
    const sel = backupSelection([
      { path: "/", dataClass: "irreplaceable" },
      { path: "/usr", dataClass: "rebuildable" },
    ]);
    expect(sel).toEqual({ roots: ["/"], excludes: ["/usr"] });
  });
});

describe("normalizePath", () => {
  it.each([
    ["/srv/app/", "/srv/app"],
    ["/srv//app", "/srv/app"],
    ["/srv/./app", "/srv/app"],
    ["/", "/"],
  ])("%s -> %s", (input, expected) => expect(normalizePath(input)).toBe(expected));
});
