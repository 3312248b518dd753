// A web1-like data tree with something in every class, and its policy.
import { randomBytes } from "node:crypto";
import type { Workspace } from "./workspace.js";

export async function writeWeb1(ws: Workspace, extra: Record<string, string | Buffer> = {}): Promise<void> {
  await ws.writeData({
    "srv/app/index.js": "console.log('rebuildable code')",
    "srv/app/node_modules/lib/index.js": "rebuildable dependency",
    "srv/app/uploads/logo.png": randomBytes(64 * 1024),
    "srv/app/uploads/docs/report.pdf": randomBytes(300 * 1024),
    "srv/app/uploads/empty.txt": "",
    "srv/app/uploads/partial.tmp": "excluded by pattern",
    "srv/app/uploads/.thumbnails/logo.png": "ignored thumbnail",
    "srv/app/config/app.ini": "rebuildable config",
    "srv/app/config/secrets/tls.key": "irreplaceable key inside rebuildable config",
    "var/cache/app/x": "ignored, outside every root",
    ...extra,
  });
  await ws.writePolicy(
    "web1.yaml",
    `host: web1
irreplaceable:
  - ${ws.data("srv/app/uploads")}
  - ${ws.data("srv/app/config/secrets")}
rebuildable:
  - ${ws.data("srv/app")}
ignored:
  - ${ws.data("srv/app/uploads/.thumbnails")}
  - ${ws.data("var/cache")}
exclude:
  - "*.tmp"
`,
  );
}

/** The files of writeWeb1 that a snapshot must hold, relative to data/. */
/** The sentinels a snapshot of web1 writes: one in each irreplaceable directory. */
export const WEB1_SENTINELS = [
  "srv/app/config/secrets/.lifeboat-sentinel",
  "srv/app/uploads/.lifeboat-sentinel",
];

export const WEB1_IRREPLACEABLE = [
  "srv/app/config/secrets/tls.key",
  "srv/app/uploads/docs/report.pdf",
  "srv/app/uploads/empty.txt",
  "srv/app/uploads/logo.png",
];
