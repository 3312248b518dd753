// policies/<host>.yaml: which of a host's data is irreplaceable, rebuildable or ignored.
import { z } from "zod";
import {
  checkSlices,
  cron,
  duration,
  emailAddress,
  guard,
  hostName,
  retention,
  targetName,
} from "../schema/common.js";
import { mysqlEntry, postgresEntry, redisEntry, sqliteEntry } from "./databases.js";
import { hooksSchema } from "./hooks.js";

/** An absolute, literal path: no `..`, no glob characters (patterns belong in `exclude`). */
/** Linux's PATH_MAX: a longer path names no file, and checking it first keeps a huge one from costing memory. */
export const MAX_PATH_LENGTH = 4096;
/** Entries per class in one policy: far beyond any host's layout, well within quick validation. */
export const MAX_ENTRIES = 10_000;

export const classifiedPath = z.string().superRefine((p, ctx) => {
  if (p.length > MAX_PATH_LENGTH)
    ctx.addIssue({
      code: "custom",
      message: `a path of ${p.length} characters; paths may have at most ${MAX_PATH_LENGTH}`,
    });
  else if (!p.startsWith("/"))
    ctx.addIssue({ code: "custom", message: `"${p}" must be an absolute path (start with /)` });
  else if (p.split("/").includes(".."))
    ctx.addIssue({ code: "custom", message: `"${p}" must not contain ".." segments` });
  else if (/[*?[\]\\]/.test(p)) {
    ctx.addIssue({
      code: "custom",
      message: `"${p}" contains a glob character; list literal paths, put patterns in exclude`,
    });
  }
});

export const absolutePath = z.string().startsWith("/", "must be an absolute path");

/** user@address or an alias from ~/.ssh/config: what `ssh` is given; never an option. */
export const sshDestination = z
  .string()
  .regex(/^[^\s-][^\s]*$/, "must be user@address or an ssh config alias, without spaces or a leading -");

const sshTransport = z.strictObject({
  ssh: z.union(
    [
      sshDestination,
      z.strictObject({
        destination: sshDestination,
        port: z.number().int().min(1).max(65535).optional(),
        /** A private key for this host; default: the ssh client's own (agent, ~/.ssh/config). */
        identityFile: absolutePath.optional(),
        /** default: the user's ~/.ssh/known_hosts. Host key checking is never turned off. */
        knownHostsFile: absolutePath.optional(),
      }),
    ],
    { error: () => "must be user@address, or { destination, port, identityFile, knownHostsFile }" },
  ),
});

const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name");

export const containerName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "must be a container name or id");

const containerTransport = z.strictObject({
  container: z.union(
    [
      containerName,
      z.strictObject({
        name: containerName,
        /** default: podman if it works, else docker. */
        engine: z.enum(["podman", "docker"]).optional(),
        /** Run commands (restic) as this user instead of the container's default. */
        user: z.string().min(1).optional(),
      }),
    ],
    { error: () => "must be a container name, or { name, engine, user }" },
  ),
});

/** How Lifeboat reaches the host: this machine, ssh, or a container on this machine. */
export const transport = z.union([z.literal("local"), sshTransport, containerTransport], {
  error: () => 'must be local, { ssh: "user@address" } or { container: name }',
});

export const policySchema = z.strictObject({
  host: hostName,
  transport: transport.default("local"),
  /** Copy Lifeboat's own restic to the host when its restic is missing or older than 0.17 (removed after). */
  installRestic: z.boolean().default(true),
  /** A storage target named in lifeboat.yaml; default: defaults.repository. */
  repository: targetName.optional(),
  schedule: cron.optional(),
  rpo: duration.optional(),
  retention: retention.optional(),
  guard: guard.optional(),
  checkSlices: checkSlices.optional(),
  snapshotTimeout: duration.optional(),
  /** Commands run on the host before and after each snapshot (`before`, `after`, `onError`). */
  hooks: hooksSchema.optional(),
  /** Paths, and databases ({ postgres }, { mysql }, { sqlite }, { redis }) copied by their own tools. */
  irreplaceable: z
    .array(
      z.union([classifiedPath, postgresEntry, mysqlEntry, sqliteEntry, redisEntry], {
        error: (issue) =>
          issue.code === "invalid_union" && typeof issue.input === "object"
            ? "must be a path, or one of { postgres: ... }, { mysql: ... }, { sqlite: ... }, { redis: ... }"
            : undefined,
      }),
    )
    .min(
      1,
      "list at least one irreplaceable path or database; a host with nothing irreplaceable needs no policy",
    )
    .max(MAX_ENTRIES, `list at most ${MAX_ENTRIES} paths`),
  rebuildable: z.array(classifiedPath).max(MAX_ENTRIES, `list at most ${MAX_ENTRIES} paths`).default([]),
  ignored: z.array(classifiedPath).max(MAX_ENTRIES, `list at most ${MAX_ENTRIES} paths`).default([]),
  /** restic exclude patterns applied inside the irreplaceable paths (e.g. "*.tmp"). */
  exclude: z
    .array(
      z
        .string()
        .min(1, "an exclude pattern cannot be empty")
        .refine((p) => !p.startsWith("!"), {
          message:
            "negated patterns would read data outside the irreplaceable class; classify the path instead",
        }),
    )
    .default([]),
  /**
   * The S3 credentials this host's restic gets instead of the controller's: a key scoped to its own repository
   * (`lifeboat kit --iam` prints its policy), from variables or a profile on the controller.
   */
  credentials: z
    .union([
      z.strictObject({
        accessKeyIdEnv: envVarName,
        secretAccessKeyEnv: envVarName,
        sessionTokenEnv: envVarName.optional(),
      }),
      z.strictObject({ profile: z.string().min(1) }),
    ])
    .optional(),
  /** More recipients for this host's reports and alerts, beside lifeboat.yaml's mail.to. */
  notify: z.array(emailAddress).default([]),
  /** The host's runbook, relative to lifeboat.yaml's directory. */
  runbook: z.string().min(1).optional(),
  /** `lifeboat audit`: more places to look for unclassified data, beside the usual state places. */
  audit: z
    .object({ paths: z.array(classifiedPath).default([]) })
    .strict()
    .default({ paths: [] }),
  /** Rebuild drift: files production has in these paths that the runbook does not make are expected, not warnings. */
  drift: z
    .object({ expected: z.array(classifiedPath).default([]) })
    .strict()
    .default({ expected: [] }),
});

export type PolicyFile = z.infer<typeof policySchema>;
export type TransportSetting = z.infer<typeof transport>;
export type DataClass = "irreplaceable" | "rebuildable" | "ignored";
export const DATA_CLASSES: readonly DataClass[] = ["irreplaceable", "rebuildable", "ignored"];
