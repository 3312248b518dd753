// lifeboat.yaml: storage targets and defaults shared by every policy.
import { z } from "zod";
import {
  checkSlices,
  cron,
  DEFAULT_GUARD,
  duration,
  emailAddress,
  guard,
  retention,
  targetName,
} from "../schema/common.js";

const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name");

/** A name or address that stays on this machine: plain text to it crosses no network. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export const localTarget = z
  .strictObject({
    type: z.literal("local"),
    /** Directory holding one repository per host; default <state dir>/repositories/<target>. */
    path: z.string().startsWith("/", "must be an absolute path").optional(),
    /** Copy every new snapshot to this other target (restic copy): the offsite copy. */
    replicate: z.strictObject({ to: targetName }).optional(),
    /** A 0600 file with the repository password; generated when the first repository is created. */
    passwordFile: z.string().startsWith("/", "must be an absolute path").optional(),
    /** Or: the environment variable that holds the password. */
    passwordEnv: envVarName.optional(),
  })
  .refine((t) => !(t.passwordFile && t.passwordEnv), {
    message: "set passwordFile or passwordEnv, not both",
  });

export const s3Target = z
  .strictObject({
    type: z.literal("s3"),
    /** For S3-compatible services; omit for AWS. */
    endpoint: z
      .url({ protocol: /^https?$/, error: "must be a URL like https://s3.example.com:9000" })
      .transform((u) => u.replace(/\/+$/, ""))
      .optional(),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be an S3 bucket name"),
    /** Repositories and the catalog live under this prefix: <prefix>/<host>, <prefix>/catalog. */
    prefix: z
      .string()
      .regex(
        /^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/,
        "must be path segments like lifeboat/prod, without leading or trailing /",
      )
      .default("lifeboat"),
    region: z.string().min(1).default("us-east-1"),
    /** Path-style addressing (https://endpoint/bucket/...), which most S3-compatible services need. */
    pathStyle: z.boolean().default(false),
    /** A PEM file with the CA that signed a private endpoint's certificate. */
    caFile: z.string().startsWith("/", "must be an absolute path").optional(),
    /** How long the storage may stop answering during a run before Lifeboat gives up (restic waits 15m). */
    /** Copy every new snapshot to this other target (restic copy): the offsite copy. */
    replicate: z.strictObject({ to: targetName }).optional(),
    outageTimeout: duration.default("5m"),
    passwordFile: z.string().startsWith("/", "must be an absolute path").optional(),
    passwordEnv: envVarName.optional(),
    /** An http:// endpoint beyond loopback sends the data's metadata, run records and reports in clear. */
    allowInsecure: z.boolean().default(false),
  })
  .refine((t) => !(t.passwordFile && t.passwordEnv), {
    message: "set passwordFile or passwordEnv, not both",
  })
  .refine(
    (t) => !t.endpoint?.startsWith("http://") || t.allowInsecure || isLoopback(new URL(t.endpoint).hostname),
    {
      message:
        "is http:// to another machine: the catalog and reports would cross the network in clear; use https:// (caFile for a private CA), or set allowInsecure: true",
      path: ["endpoint"],
    },
  );

/**
 * The vault: restic's REST server in append-only mode with private repositories, serving `path` on this
 * controller. Hosts reach it at `url` with a login of their own and can only add snapshots to their own
 * repository; the controller reads and prunes the same directory directly.
 */
export const restTarget = z
  .strictObject({
    type: z.literal("rest"),
    /** Where hosts reach the vault, e.g. https://vault.example.org:8000. */
    url: z
      .url({ protocol: /^https?$/, error: "must be a URL like https://vault.example.org:8000" })
      .transform((u) => u.replace(/\/+$/, "")),
    /** The vault's directory on this controller: one repository per host, the catalog, the logins. */
    path: z.string().startsWith("/", "must be an absolute path"),
    /** The CA of the vault's certificate, for hosts and this controller; default: the one `vault serve` made. */
    caFile: z.string().startsWith("/", "must be an absolute path").optional(),
    /** The certificate and key `vault serve` presents; default: made once under $LIFEBOAT_HOME/vault/<target>. */
    tlsCert: z.string().startsWith("/", "must be an absolute path").optional(),
    tlsKey: z.string().startsWith("/", "must be an absolute path").optional(),
    /** Copy every new snapshot to this other target (restic copy): the offsite copy. */
    replicate: z.strictObject({ to: targetName }).optional(),
    outageTimeout: duration.default("5m"),
    passwordFile: z.string().startsWith("/", "must be an absolute path").optional(),
    passwordEnv: envVarName.optional(),
    /** An http:// vault beyond loopback sends the hosts' logins in clear. */
    allowInsecure: z.boolean().default(false),
  })
  .refine((t) => !(t.passwordFile && t.passwordEnv), {
    message: "set passwordFile or passwordEnv, not both",
  })
  .refine((t) => !t.tlsCert === !t.tlsKey, { message: "set tlsCert and tlsKey together", path: ["tlsCert"] })
  .refine((t) => !t.url.startsWith("http://") || t.allowInsecure || isLoopback(new URL(t.url).hostname), {
    message:
      "is http:// to another machine: the hosts' vault logins would cross the network in clear; use https://, or set allowInsecure: true",
    path: ["url"],
  });

export const targetSchema = z.discriminatedUnion("type", [localTarget, s3Target, restTarget], {
  error: (issue) => (issue.code === "invalid_union" ? 'must be "local", "s3" or "rest"' : undefined),
});

/** Where restore-test reports and alerts go: SMTP settings (secrets by environment variable) and recipients. */
export const mailSchema = z.strictObject({
  smtp: z
    .strictObject({
      host: z.string().min(1),
      /** Default: 587 with starttls, 465 with tls, 25 with none. */
      port: z.number().int().min(1).max(65535).optional(),
      /** starttls: upgrade and require TLS (default); tls: TLS from the start; none: plain (a relay on loopback). */
      security: z
        .enum(["starttls", "tls", "none"], { error: () => "must be starttls, tls or none" })
        .default("starttls"),
      /** The SMTP user and password come from these environment variables, never from this file. */
      userEnv: envVarName.optional(),
      passwordEnv: envVarName.optional(),
      /** A PEM file with the CA of a private SMTP server's certificate. */
      caFile: z.string().startsWith("/", "must be an absolute path").optional(),
      timeout: duration.default("30s"),
      /** security: none to a host beyond loopback sends the login and the reports in clear. */
      allowInsecure: z.boolean().default(false),
    })
    .refine((s) => s.security !== "none" || s.allowInsecure || isLoopback(s.host), {
      message:
        "is none to a host beyond loopback: the SMTP login and the reports would cross the network in clear; use starttls or tls, or set allowInsecure: true",
      path: ["security"],
    }),
  from: emailAddress,
  /** Recipients of every host's reports and alerts; a policy's `notify` adds its own. */
  to: z.array(emailAddress).min(1, "name at least one recipient"),
  /** Recovery and drill reports: every one, or only failures. */
  reports: z.enum(["all", "failures"], { error: () => "must be all or failures" }).default("all"),
  /** Alerts when a snapshot fails or a host goes stale. */
  alerts: z.boolean().default(true),
});

/** `lifeboat daemon`: when the jobs beside each policy's own snapshot schedule run, and how it serves metrics. */
export const daemonSchema = z
  .strictObject({
    /** host:port for /healthz and /metrics. */
    listen: z
      .string()
      .regex(/^[A-Za-z0-9.:[\]-]+:\d{1,5}$/, "must be address:port, like 127.0.0.1:9469")
      .default("127.0.0.1:9469"),
    /** The bearer token /metrics (everything but /healthz) asks for: a 0600 file, or an environment variable. */
    tokenFile: z.string().startsWith("/", "must be an absolute path").optional(),
    tokenEnv: envVarName.optional(),
    /** Repository checks of every host (weekly by default). */
    checkSchedule: cron.default("0 4 * * 0"),
    /** The weekly digest by mail. */
    digestSchedule: cron.default("0 8 * * 1"),
    /** How often the watchdog looks for stale hosts and drills that did not run, and retries pending mail. */
    watchdogInterval: duration.default("5m"),
    /** A run failing for a passing reason (storage or host unreachable, a lock) is retried within this window. */
    retryWindow: duration.default("30m"),
    /** The first retry waits this long; each next one twice as long. */
    retryDelay: duration.default("30s"),
    /** On SIGTERM, running work gets this long to finish before it is stopped. */
    shutdownGrace: duration.default("60s"),
  })
  .refine((d) => !(d.tokenFile && d.tokenEnv), {
    message: "set tokenFile or tokenEnv, not both",
    path: ["tokenEnv"],
  })
  .refine((d) => d.tokenFile || d.tokenEnv || isLoopback(d.listen.slice(0, d.listen.lastIndexOf(":"))), {
    message:
      "listens beyond loopback without a token: set tokenFile or tokenEnv (a bearer token for /metrics), or listen on 127.0.0.1",
    path: ["listen"],
  });

export const configSchema = z.strictObject({
  policies: z.string().default("policies"),
  runbooks: z.string().default("runbooks"),
  /** How many hosts `snapshot --all` (and the daemon) snapshot at once. */
  concurrency: z.number().int().min(1, "must be at least 1").max(64, "must be at most 64").default(2),
  mail: mailSchema.optional(),
  daemon: daemonSchema.prefault({}),
  targets: z.record(targetName, targetSchema).refine((t) => Object.keys(t).length > 0, {
    message: "name at least one storage target",
  }),
  defaults: z
    .strictObject({
      repository: targetName.optional(),
      schedule: cron.default("30 2 * * *"),
      rpo: duration.default("24h"),
      retention: retention.default({ daily: 7, weekly: 4, monthly: 6 }),
      /** `lifeboat check` reads 1/checkSlices of the data each run: all of it over that many runs. */
      checkSlices: checkSlices.default(7),
      /** A snapshot still running after this long is stopped (on the host too) and recorded as failed. */
      snapshotTimeout: duration.default("6h"),
      /** A snapshot that lost or changed most of the data is held for a person; retention waits. */
      guard: guard.default(DEFAULT_GUARD),
    })
    .prefault({}),
});

export type ConfigFile = z.infer<typeof configSchema>;
