import { expect } from "vitest";
import { EMBEDDED_TARGET, readConfig } from "../../src/config/load.js";
import { formatProblem } from "../../src/yaml/located.js";
import { test } from "../helpers/workspace.js";

test("without lifeboat.yaml the embedded local target is used, under LIFEBOAT_HOME", async ({ ws }) => {
  const { config, problems } = await readConfig({
    cwd: `${ws.root}/policies`,
    env: { LIFEBOAT_HOME: ws.home },
  });
  expect(problems).toEqual([]);
  expect(config?.file).toBeUndefined();
  expect(config?.defaults.repository).toBe(EMBEDDED_TARGET);
  expect(config?.targets.get(EMBEDDED_TARGET)).toEqual({
    name: EMBEDDED_TARGET,
    type: "local",
    path: `${ws.home}/repositories/local`,
    password: { kind: "file", path: `${ws.home}/keys/local.key` },
  });
});

test("lifeboat.yaml problems carry file:line too", async ({ ws }) => {
  await ws.writeConfig(`targets:
  primary: { type: ftp }
  second:
    type: local
    path: relative/dir
    passwordFile: /k
    passwordEnv: K
defaults:
  repository: third
  rpo: 2 days
`);
  const { problems } = await readConfig({ file: ws.configFile, cwd: ws.root, env: {} });
  expect(problems.map(formatProblem)).toEqual([
    'lifeboat.yaml:2: targets.primary.type: must be "local", "s3" or "rest"',
    "lifeboat.yaml:3: targets.second: set passwordFile or passwordEnv, not both",
    "lifeboat.yaml:5: targets.second.path: must be an absolute path",
    "lifeboat.yaml:10: defaults.rpo: must be a duration like 90s, 30m, 24h, 7d, 2w or 1h30m",
  ]);
});

test("a default repository that names no target is a problem", async ({ ws }) => {
  await ws.writeConfig(`targets:\n  primary: { type: local }\ndefaults:\n  repository: other\n`);
  const { problems } = await readConfig({ file: ws.configFile, cwd: ws.root, env: {} });
  expect(problems.map(formatProblem)).toEqual([
    'lifeboat.yaml:4: defaults.repository: unknown storage target "other"; targets: primary',
  ]);
});

test("an s3 target takes endpoint, bucket, prefix, region, path style and a CA file", async ({ ws }) => {
  await ws.writeConfig(`targets:
  offsite:
    type: s3
    endpoint: https://127.0.0.1:9000/
    bucket: lifeboat-backups
    prefix: prod/eu
    pathStyle: true
    caFile: /etc/lifeboat/ca.pem
    passwordEnv: OFFSITE_PASSWORD
  bad:
    type: s3
    endpoint: ftp://x
    bucket: No_Such
    prefix: /leading
`);
  const { problems } = await readConfig({ file: ws.configFile, cwd: ws.root, env: {} });
  expect(problems.map(formatProblem)).toEqual([
    "lifeboat.yaml:12: targets.bad.endpoint: must be a URL like https://s3.example.com:9000",
    "lifeboat.yaml:13: targets.bad.bucket: must be an S3 bucket name",
    "lifeboat.yaml:14: targets.bad.prefix: must be path segments like lifeboat/prod, without leading or trailing /",
  ]);
  await ws.writeConfig(
    `targets:\n  offsite:\n    type: s3\n    endpoint: https://127.0.0.1:9000/\n    bucket: lifeboat-backups\n    pathStyle: true\n`,
  );
  const { config } = await readConfig({ file: ws.configFile, cwd: ws.root, env: { LIFEBOAT_HOME: ws.home } });
  expect(config?.targets.get("offsite")).toEqual({
    name: "offsite",
    type: "s3",
    endpoint: "https://127.0.0.1:9000",
    bucket: "lifeboat-backups",
    prefix: "lifeboat",
    region: "us-east-1",
    pathStyle: true,
    caFile: undefined,
    outageTimeoutSeconds: 300,
    password: { kind: "file", path: `${ws.home}/keys/offsite.key` },
  });
});

test("mail: settings with their defaults, and mistakes with file:line", async ({ ws }) => {
  await ws.writeConfig(`targets:
  primary: { type: local }
mail:
  smtp: { host: smtp.example.org, userEnv: SMTP_USER, passwordEnv: SMTP_PASSWORD }
  from: lifeboat@example.org
  to: [ops@example.org]
`);
  const ok = await readConfig({ file: ws.configFile, cwd: ws.root, env: {} });
  expect(ok.problems).toEqual([]);
  expect(ok.config?.mail).toEqual({
    smtp: {
      host: "smtp.example.org",
      port: 587,
      security: "starttls",
      userEnv: "SMTP_USER",
      passwordEnv: "SMTP_PASSWORD",
      caFile: undefined,
      timeoutSeconds: 30,
    },
    from: "lifeboat@example.org",
    to: ["ops@example.org"],
    reports: "all",
    alerts: true,
  });
  await ws.writeConfig(`targets:
  primary: { type: local }
mail:
  smtp: { host: smtp.example.org, password: hunter2, security: ssl }
  from: lifeboat
  to: []
`);
  const { problems } = await readConfig({ file: ws.configFile, cwd: ws.root, env: {} });
  expect(problems.map(formatProblem)).toEqual([
    "lifeboat.yaml:4: mail.smtp.security: must be starttls, tls or none",
    'lifeboat.yaml:4: mail.smtp.password: unknown key "password"',
    "lifeboat.yaml:5: mail.from: must be an email address like ops@example.org",
    "lifeboat.yaml:6: mail.to: name at least one recipient",
  ]);
});

test("plain text beyond loopback is refused unless allowed: http:// storage, SMTP without TLS, an open daemon", async ({
  ws,
}) => {
  const problemsOf = async (yaml: string) => {
    await ws.writeConfig(yaml);
    return (await readConfig({ file: ws.configFile, cwd: ws.root, env: {} })).problems.map(formatProblem);
  };
  const s3 = (endpoint: string, extra = "") =>
    `targets:\n  offsite:\n    type: s3\n    endpoint: ${endpoint}\n    bucket: lifeboat\n${extra}`;
  const mail = (host: string, extra = "") =>
    `targets:\n  primary: { type: local }\nmail:\n  smtp:\n    host: ${host}\n    security: none\n${extra}  from: l@example.org\n  to: [ops@example.org]\n`;
  const daemon = (listen: string, extra = "") =>
    `targets:\n  primary: { type: local }\ndaemon:\n  listen: ${listen}\n${extra}`;

  expect(await problemsOf(s3("http://s3.example.org:9000"))).toEqual([
    expect.stringMatching(/^lifeboat\.yaml:4: targets\.offsite\.endpoint: is http:\/\/ to another machine/),
  ]);
  expect(await problemsOf(s3("http://127.0.0.1:9000"))).toEqual([]);
  expect(await problemsOf(s3("http://s3.example.org:9000", "    allowInsecure: true\n"))).toEqual([]);

  expect(await problemsOf(mail("smtp.example.org"))).toEqual([
    expect.stringMatching(/^lifeboat\.yaml:6: mail\.smtp\.security: is none to a host beyond loopback/),
  ]);
  expect(await problemsOf(mail("localhost"))).toEqual([]);
  expect(await problemsOf(mail("smtp.example.org", "    allowInsecure: true\n"))).toEqual([]);

  expect(await problemsOf(daemon("0.0.0.0:9469"))).toEqual([
    expect.stringMatching(/^lifeboat\.yaml:4: daemon\.listen: listens beyond loopback without a token/),
  ]);
  expect(await problemsOf(daemon(`"[::1]:9469"`))).toEqual([]);
  expect(await problemsOf(daemon("0.0.0.0:9469", "  tokenEnv: METRICS_TOKEN\n"))).toEqual([]);
});

test("a vault target: its URL, its directory here, and by default the certificate vault serve makes", async ({
  ws,
}) => {
  await ws.writeConfig(
    "targets:\n  vault: { type: rest, url: 'https://10.0.0.2:8000/', path: /srv/vault }\n" +
      "  own: { type: rest, url: 'https://vault.example.org', path: /srv/v2, tlsCert: /etc/c.pem, tlsKey: /etc/k.pem }\n" +
      "defaults:\n  repository: vault\n",
  );
  const { config, problems } = await readConfig({
    file: ws.configFile,
    cwd: ws.root,
    env: { LIFEBOAT_HOME: ws.home },
  });
  expect(problems).toEqual([]);
  expect(config?.targets.get("vault")).toMatchObject({
    type: "rest",
    url: "https://10.0.0.2:8000",
    path: "/srv/vault",
    caFile: `${ws.home}/vault/vault/cert.pem`,
    tls: undefined,
  });
  expect(config?.targets.get("own")).toMatchObject({
    caFile: undefined,
    tls: { cert: "/etc/c.pem", key: "/etc/k.pem" },
  });
  await ws.writeConfig("targets:\n  vault: { type: rest, url: 'http://10.0.0.2:8000', path: /srv/vault }\n");
  const plain = await readConfig({ file: ws.configFile, cwd: ws.root, env: {} });
  expect(plain.problems.map(formatProblem).join("\n")).toContain(
    "vault logins would cross the network in clear",
  );
});
