// A throwaway Lifeboat setup: its own lifeboat.yaml, policies, state dir (repositories, keys) and data tree.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test as base } from "vitest";
import { type CatalogStore, openCatalog } from "../../src/catalog/store.js";
import { type LifeboatConfig, loadConfig } from "../../src/config/load.js";
import { type S3ServerInfo, s3Config, s3Env } from "./s3/start.js";

export class Workspace {
  constructor(readonly root: string) {}

  get configFile(): string {
    return path.join(this.root, "lifeboat.yaml");
  }
  get policiesDir(): string {
    return path.join(this.root, "policies");
  }
  get home(): string {
    return path.join(this.root, "home");
  }
  /** Where test data lives; policies name absolute paths below it. */
  data(...parts: string[]): string {
    return path.join(this.root, "data", ...parts);
  }
  get env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      LIFEBOAT_HOME: this.home,
      LIFEBOAT_CONFIG: this.configFile,
      ...(this.s3 ? s3Env(this.s3) : {}),
    };
  }

  async writeConfig(yaml: string): Promise<void> {
    await writeFile(this.configFile, yaml);
  }

  async writePolicy(name: string, yaml: string): Promise<string> {
    await mkdir(this.policiesDir, { recursive: true });
    const file = path.join(this.policiesDir, name);
    await writeFile(file, yaml);
    return file;
  }

  /** Writes files below data/: { "srv/app/uploads/a.png": "content" }. */
  async writeData(files: Record<string, string | Buffer>): Promise<void> {
    for (const [rel, content] of Object.entries(files)) {
      const file = this.data(rel);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, content);
    }
  }

  /** Points this workspace at an s3 target on the test server, under a prefix of its own. */
  async useS3(s3: S3ServerInfo, extraTargets = ""): Promise<void> {
    this.s3 = s3;
    await this.writeConfig(s3Config(s3, `t-${path.basename(this.root)}`, extraTargets));
  }
  s3: S3ServerInfo | undefined;

  /** An s3 target as container hosts reach it (the podman bridge), plus top-level settings in `extra`. */
  async useFleetS3(s3: S3ServerInfo, extra = ""): Promise<void> {
    this.s3 = s3;
    await this.writeConfig(s3Config(s3, `t-${path.basename(this.root)}`, "", s3.fleetEndpoint) + extra);
  }

  /** Writes an object into the default target's catalog, as anyone who can write to the bucket could. */
  /** The default target's catalog, opened in this process (with the workspace's S3 credentials). */
  async catalog(): Promise<CatalogStore> {
    // In this process the SDK's credential chain reads process.env.
    if (this.s3) Object.assign(process.env, s3Env(this.s3));
    const config = await this.config();
    const target = config.targets.get(config.defaults.repository);
    if (!target) throw new Error("the workspace has no default target");
    return openCatalog(target);
  }

  async plantInCatalog(key: string, body: string): Promise<void> {
    await (await this.catalog()).put(key, body);
  }

  config(env: NodeJS.ProcessEnv = this.env): Promise<LifeboatConfig> {
    return loadConfig({ file: this.configFile, env, cwd: this.root });
  }
}

export const DEFAULT_CONFIG = `targets:
  primary: { type: local }
defaults:
  repository: primary
`;

export async function createWorkspace(): Promise<Workspace> {
  const root = await mkdtemp(path.join(tmpdir(), "lifeboat-test-"));
  const ws = new Workspace(root);
  await ws.writeConfig(DEFAULT_CONFIG);
  await mkdir(ws.policiesDir, { recursive: true });
  return ws;
}

/** `test` with a fresh workspace per test, removed afterwards. */
export const test = base.extend<{ ws: Workspace }>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest fixtures take their dependencies by destructuring
  ws: async ({}, use) => {
    const ws = await createWorkspace();
    await use(ws);
    await rm(ws.root, { recursive: true, force: true });
  },
});
