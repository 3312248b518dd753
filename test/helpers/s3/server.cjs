// A real S3-compatible server (s3rver) over HTTPS, as its own process so tests can stop and start it.
// Environment: S3_DIR (storage and certificate), S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKETS (comma list),
// S3_ADDRESS (default 127.0.0.1), S3_PORT (default 0 = any free port), S3_CERT_IPS (more addresses the
// certificate names, comma list), S3_REQUEST_LOG (a file that gets a line per request). Prints one JSON line
// when listening.
const { execFileSync } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
// s3rver makes its listing continuation tokens with single DES, which OpenSSL 3 refuses: every listing that
// needs a second page answered HTTP 500. Triple DES with the key repeated has the same 8-byte blocks (and is
// single DES in effect) and is in OpenSSL 3's default provider.
for (const name of ["createCipheriv", "createDecipheriv"]) {
  const original = crypto[name];
  crypto[name] = (algorithm, key, iv, options) =>
    algorithm === "des"
      ? original("des-ede3-cbc", Buffer.concat([key, key, key]), iv, options)
      : original(algorithm, key, iv, options);
}
const S3rver = require("s3rver");
const AWSAccount = require("s3rver/lib/models/account");

const dir = process.env.S3_DIR;
if (!dir) throw new Error("S3_DIR is required");
const certFile = path.join(dir, "cert.pem");
const keyFile = path.join(dir, "key.pem");
if (!fs.existsSync(certFile)) {
  fs.mkdirSync(dir, { recursive: true });
  // restic needs HTTPS against s3rver (DESIGN.md); the certificate names every address tests use.
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "30",
      "-subj",
      "/CN=lifeboat-test-s3",
      "-addext",
      `subjectAltName=${[
        "127.0.0.1",
        "10.88.0.1",
        ...(process.env.S3_CERT_IPS || "").split(",").filter(Boolean),
      ]
        .map((ip) => `IP:${ip}`)
        .join(",")},DNS:localhost,DNS:host.containers.internal`,
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ],
    { stdio: "ignore" },
  );
}

// Only the test's random key pair is valid: wrong keys must fail as they would on AWS.
AWSAccount.DUMMY_ACCOUNT.revokeAccessKey("S3RVER");
AWSAccount.DUMMY_ACCOUNT.createKeyPair(process.env.S3_ACCESS_KEY, process.env.S3_SECRET_KEY);

const server = new S3rver({
  address: process.env.S3_ADDRESS || "127.0.0.1",
  port: Number(process.env.S3_PORT || 0),
  key: fs.readFileSync(keyFile),
  cert: fs.readFileSync(certFile),
  silent: true,
  directory: path.join(dir, "data"),
  vhostBuckets: false,
  configureBuckets: (process.env.S3_BUCKETS || "")
    .split(",")
    .filter(Boolean)
    .map((name) => ({ name })),
});
server.run().then((address) => {
  // S3_REQUEST_LOG: one line per request (method, path, and a listing's prefix), so a benchmark can count what
  // a command asked, and of what.
  const log = process.env.S3_REQUEST_LOG;
  if (log)
    server.httpServer.on("request", (req) => {
      const url = new URL(req.url, "https://s3");
      const prefix = url.searchParams.get("prefix");
      fs.appendFileSync(log, `${req.method} ${url.pathname}${prefix === null ? "" : ` prefix=${prefix}`}\n`);
    });
  process.stdout.write(`${JSON.stringify({ port: address.port, address: address.address, ca: certFile })}\n`);
});
for (const signal of ["SIGTERM", "SIGINT"])
  process.on(signal, () => server.close().finally(() => process.exit(0)));
