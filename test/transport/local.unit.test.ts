import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { LocalTransport } from "../../src/transport/local.js";
import { transportConformance } from "./conformance.js";

transportConformance("local", async () => ({
  transport: new LocalTransport("web1"),
  scratch: await mkdtemp(path.join(tmpdir(), "lifeboat-transport-")),
}));
