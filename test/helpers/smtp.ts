// A real SMTP server on loopback (smtp-server) that requires STARTTLS and a login, and keeps every message it
// accepts, parsed by mailparser. It can be stopped and started again on the same port.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

export type ReceivedMail = ParsedMail & { envelopeTo: string[] };

export interface TestSmtp {
  port: number;
  user: string;
  password: string;
  caFile: string;
  /** Each with the envelope's recipients: who the message really went to, whatever its headers say. */
  messages: ReceivedMail[];
  /** Resolves with the next message (or one already received that matches). */
  waitFor(match: (m: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startSmtp(options: { port?: number } = {}): Promise<TestSmtp> {
  const dir = await mkdtemp(path.join(tmpdir(), "lifeboat-smtp-"));
  const keyFile = path.join(dir, "key.pem");
  const certFile = path.join(dir, "cert.pem");
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost"],
      ...["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", keyFile, "-out", certFile],
    ],
    { stdio: "ignore" },
  );
  const user = `lifeboat-${randomBytes(3).toString("hex")}`;
  const password = randomBytes(18).toString("base64url");
  const messages: ReceivedMail[] = [];
  const waiters: Array<() => void> = [];
  const key = await readFile(keyFile);
  const cert = await readFile(certFile);
  let server: SMTPServer | undefined;
  let port = options.port ?? 0;

  const start = async (): Promise<void> => {
    server = new SMTPServer({
      key,
      cert,
      secure: false,
      // A login only after STARTTLS, as a real submission server demands.
      allowInsecureAuth: false,
      authMethods: ["PLAIN", "LOGIN"],
      logger: false,
      onAuth(auth, _session, callback) {
        if (auth.username === user && auth.password === password) callback(null, { user });
        else callback(new Error("535 5.7.8 authentication failed"));
      },
      onData(stream, session, callback) {
        simpleParser(stream)
          .then((parsed) => {
            messages.push(
              Object.assign(parsed, { envelopeTo: session.envelope.rcptTo.map((r) => r.address) }),
            );
            for (const w of waiters.splice(0)) w();
            callback();
          })
          .catch(callback);
      },
    });
    const listening = server;
    // A port taken (a restart on the same port) or any other listen failure ends the start with its reason.
    await new Promise<void>((resolve, reject) => {
      listening.once("error", (err) =>
        reject(new Error(`the SMTP test server could not listen on 127.0.0.1:${port}: ${err.message}`)),
      );
      listening.listen(port, "127.0.0.1", () => resolve());
    });
    const address = listening.server.address();
    if (address && typeof address === "object") port = address.port;
  };
  await start();

  return {
    get port() {
      return port;
    },
    user,
    password,
    caFile: certFile,
    messages,
    async waitFor(match, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find(match);
        if (found) return found;
        if (Date.now() > deadline)
          throw new Error(
            `no matching mail within ${timeoutMs} ms; got: ${messages.map((m) => m.subject).join(" | ")}`,
          );
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
    },
    async stop() {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server = undefined;
    },
    start,
  };
}

/** lifeboat.yaml's mail: section for this server; the login comes from SMTP_USER and SMTP_PASSWORD. */
export function smtpConfig(smtp: TestSmtp, to = "oncall@example.org"): string {
  return `mail:
  smtp: { host: 127.0.0.1, port: ${smtp.port}, security: starttls, userEnv: SMTP_USER, passwordEnv: SMTP_PASSWORD, caFile: ${smtp.caFile}, timeout: 5s }
  from: lifeboat@example.org
  to: [${to}]
`;
}
