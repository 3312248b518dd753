// runbooks/<host>.yaml: how a fresh machine for a host comes to exist, the steps that configure it from code,
// where the irreplaceable data goes back, and the checks that prove it works.
import { z } from "zod";
import { absolutePath, containerName, sshDestination } from "../policy/schema.js";
import { cron, duration, hostName } from "../schema/common.js";

const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name");
/** A file of the repository, relative to the runbook's directory. */
const repoFile = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith("/"), "must be relative to the runbook's directory");

const containerProvider = z.strictObject({
  container: z.strictObject({
    image: z.string().min(1),
    /** default: podman if it works, else docker. */
    engine: z.enum(["podman", "docker"]).optional(),
    /** The container's name when recovered; default: the policy's container, else the host's name. */
    name: containerName.optional(),
    /** The network of the recovered host; a drill always gets a network of its own. */
    network: z.string().min(1).optional(),
    /** Published ports ("8080:80") of the recovered host; a drill publishes none (they belong to production). */
    ports: z.array(z.string().regex(/^[0-9.:]+(\/(tcp|udp))?$/, 'must be like "8080:80"')).default([]),
    /** The container's main process; default: one that keeps it running, so steps start the services. */
    command: z.array(z.string()).min(1).default(["sleep", "infinity"]),
    /** Extra options for `run` (--runtime, --ulimit, --memory ...), for every machine, drills' included. */
    runOptions: z.array(z.string()).default([]),
    /**
     * Options only a recovery gets (it takes production's place): volumes, the host's network, devices. A drill or
     * stage never does, so that it cannot reach production's data or network.
     */
    recoveryRunOptions: z.array(z.string()).default([]),
  }),
});

const sshLogin = {
  port: z.number().int().min(1).max(65535).optional(),
  identityFile: absolutePath.optional(),
  knownHostsFile: absolutePath.optional(),
};

const sshProvider = z.strictObject({
  /** A fresh machine the user has prepared, at this address; Lifeboat neither creates nor destroys it. */
  ssh: z.strictObject({ destination: sshDestination, ...sshLogin }),
});

const commandProvider = z.strictObject({
  command: z.strictObject({
    /** Creates a machine; prints `address=<ip or name>` (and may print `hostkey=<type key>`). */
    create: z.string().min(1),
    /** Destroys it; gets the same environment plus LIFEBOAT_ADDRESS. */
    destroy: z.string().min(1),
    /**
     * Saves a machine configured up to `restore` as an image (a cloud's create-image call); gets the machine's
     * environment plus LIFEBOAT_DIGEST and prints `image=<id>`. The create command then gets LIFEBOAT_IMAGE.
     */
    bake: z.string().min(1).optional(),
    /** The login user on the new machine. */
    user: z.string().min(1).default("root"),
    ...sshLogin,
    timeout: duration.default("30m"),
    /** Variables of Lifeboat's environment the commands need (a cloud CLI's token); they get no others. */
    env: z
      .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name"))
      .default([]),
  }),
});

/** A size like 1G, 512M or 20G (binary units). */
const size = z
  .string()
  .regex(/^[1-9][0-9]*[MG]$/, 'must be a size like "512M" or "8G"')
  .transform((s) => Number.parseInt(s, 10) * (s.endsWith("G") ? 1024 : 1));

const vmProvider = z.strictObject({
  vm: z.strictObject({
    /** The base disk (qcow2 or raw); never written: every machine gets an overlay on it. */
    image: absolutePath,
    /** A kernel and initrd to boot (the base image script's disk has no bootloader); default: the ones beside it. */
    kernel: absolutePath.optional(),
    initrd: absolutePath.optional(),
    /** The kernel's command line, with a kernel. */
    cmdline: z.string().min(1).default("root=/dev/vda rw console=ttyS0 net.ifnames=0"),
    cpus: z.number().int().min(1).max(64).default(1),
    memory: size.default(1024),
    /** The overlay disk's size; the root filesystem grows to it at first boot (cloud-init). */
    disk: size.default(8192),
    /** The libvirt network of a recovered machine; a drill or stage gets an isolated network of its own. */
    network: z.string().min(1).default("default"),
    /** libvirt's connection. */
    uri: z.string().min(1).default("qemu:///system"),
    /** Where overlays, seeds and per-run keys live; libvirt's QEMU user must be able to reach it. */
    dir: absolutePath.default("/var/lib/lifeboat/vms"),
    /**
     * kvm, or QEMU's software emulation (tcg: works everywhere, several times slower); auto takes KVM when this
     * machine's KVM can run an ordinary guest kernel.
     */
    acceleration: z.enum(["auto", "kvm", "tcg"]).default("auto"),
    /** How long the machine may take from start to an SSH login. */
    bootTimeout: duration.default("5m"),
  }),
});

export const provider = z.union([containerProvider, sshProvider, commandProvider, vmProvider], {
  error: () => "must be one of { container: ... }, { ssh: ... }, { command: ... }, { vm: ... }",
});

const stepCommon = {
  /** A name for reports; default: the step's kind and its first argument. */
  name: z.string().min(1).optional(),
  timeout: duration.optional(),
};

const packages = z
  .array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9+.:~_-]*$/, "must be a package name"))
  .min(1);

/** `dest: source` pairs, or a list of { src, dest, mode, owner }. */
const fileMap = z.union([
  z.record(absolutePath, repoFile),
  z
    .array(
      z.strictObject({
        src: repoFile,
        dest: absolutePath,
        mode: z
          .string()
          .regex(/^0?[0-7]{3,4}$/, 'must be an octal mode like "0644"')
          .optional(),
        owner: z
          .string()
          .regex(/^[a-z_][a-z0-9_-]*(:[a-z_][a-z0-9_-]*)?$/, "must be user or user:group")
          .optional(),
      }),
    )
    .min(1),
]);

const shellStep = z.union([
  z.string().min(1),
  z.strictObject({
    run: z.string().min(1),
    /** Run as this user of the host (runuser); default: the provider's login user. */
    user: z.string().optional(),
  }),
]);

export const step = z.union(
  [
    z.literal("restore"),
    z.strictObject({ restore: z.null(), ...stepCommon }),
    z.strictObject({ apt: packages, ...stepCommon }),
    z.strictObject({ dnf: packages, ...stepCommon }),
    z.strictObject({ files: fileMap, ...stepCommon }),
    z.strictObject({ templates: fileMap, ...stepCommon }),
    z.strictObject({ shell: shellStep, ...stepCommon }),
    z.strictObject({
      ansible: z.strictObject({
        /** A playbook of the repository, relative to the runbook; run from this machine against the new one. */
        playbook: repoFile,
        /** Extra variables (-e); the host's variables (host, name, address, runId, mode) are passed too. */
        vars: z.record(z.string(), z.string()).default({}),
      }),
      ...stepCommon,
    }),
    z.strictObject({
      puppet: z.strictObject({
        /** A manifest of the repository, relative to the runbook; applied on the new machine (puppet apply). */
        manifest: repoFile,
        /** A directory of modules of the repository, copied to the machine and given as --modulepath. */
        modulePath: repoFile.optional(),
      }),
      ...stepCommon,
    }),
  ],
  {
    error: () =>
      "must be restore, or one of { apt }, { dnf }, { files }, { templates }, { shell }, { ansible }, { puppet } (with optional name, timeout)",
  },
);

const checkCommon = {
  name: z.string().min(1).optional(),
  /** Per attempt. */
  timeout: duration.default("10s"),
  /** More attempts after the first, for services still starting. */
  retries: z.number().int().min(0).max(1000).default(10),
  interval: duration.default("2s"),
};

const sqlServer = {
  database: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_$-]{0,62}$/, "must be a database name"),
  host: z
    .string()
    .regex(/^[A-Za-z0-9._/:-]+$/)
    .optional(),
  port: z.number().int().min(1).max(65535).optional(),
  user: z
    .string()
    .regex(/^[A-Za-z0-9_.@-]+$/)
    .optional(),
  passwordEnv: envVarName.optional(),
  runAs: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]*$/)
    .optional(),
};

export const check = z.union(
  [
    z.strictObject({
      http: z.strictObject({
        /** {{address}} is the recovered host's address. */
        url: z.string().regex(/^https?:\/\//, "must start with http:// or https://"),
        status: z.number().int().min(100).max(599).default(200),
        contains: z.string().optional(),
      }),
      ...checkCommon,
    }),
    z.strictObject({
      tcp: z.strictObject({ port: z.number().int().min(1).max(65535), host: z.string().optional() }),
      ...checkCommon,
    }),
    z.strictObject({ command: z.string().min(1), ...checkCommon }),
    z.strictObject({
      checksum: z.strictObject({
        path: absolutePath,
        sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be a sha256 in hex (64 characters)"),
      }),
      ...checkCommon,
    }),
    z.strictObject({
      sql: z
        .strictObject({
          postgres: z.strictObject(sqlServer).optional(),
          mysql: z.strictObject(sqlServer).optional(),
          query: z.string().min(1),
          /** The query's output (rows on lines, columns tab-separated), compared after trimming. */
          expect: z.string().optional(),
          /** Or: the first value is a number at least this large (a row count). */
          atLeast: z.number().optional(),
        })
        .refine((s) => (s.postgres ? 1 : 0) + (s.mysql ? 1 : 0) === 1, {
          message: "name the server: postgres: {...} or mysql: {...}",
        })
        .refine((s) => s.expect !== undefined || s.atLeast !== undefined, {
          message: "say what the query must return: expect or atLeast",
        }),
      ...checkCommon,
    }),
  ],
  {
    error: () =>
      "must be one of { http }, { tcp }, { command }, { checksum }, { sql } (with optional name, timeout, retries, interval)",
  },
);

export const runbookSchema = z.strictObject({
  host: hostName,
  provider,
  /** Variables for templates and checks, beside the built-in ones (host, name, address, runId). */
  vars: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).default({}),
  steps: z.array(step).min(1, "list the steps that configure a fresh machine"),
  checks: z.array(check).default([]),
  drill: z
    .strictObject({
      /** Drills of this host by `lifeboat daemon`, on this cron schedule. */
      schedule: cron.optional(),
      /**
       * What a drill or stage machine may reach while its steps run, beside the storage: "deb.debian.org",
       * "mirror.example.org:8080" (ports 80 and 443 when none is given). Nothing else, and during restore and the
       * checks only the storage.
       */
      allow: z
        .array(
          z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'must be like "deb.debian.org" or "host:port"'),
        )
        .default([]),
      /** false: run drills without network isolation (the report and mail say NOT ENFORCED; the verdict warns). */
      isolation: z.boolean().default(true),
    })
    .optional(),
  /** The recovery time objective: how long a recovery may take. */
  rto: duration.optional(),
  /** Default time limit of a step. */
  stepTimeout: duration.default("15m"),
});

export type RunbookFile = z.infer<typeof runbookSchema>;
export type StepSetting = z.infer<typeof step>;
export type CheckSetting = z.infer<typeof check>;
export type ProviderSetting = z.infer<typeof provider>;
