// doctor's checks of an S3 target; loaded only when a target is S3 (it brings the AWS SDK).
import { randomBytes } from "node:crypto";
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import type { S3TargetConfig } from "../config/load.js";
import { isLifeboatError, LifeboatError } from "../errors.js";
import { createS3Client, storageError } from "../storage/s3.js";
import { type DoctorCheck, run } from "./check.js";

/** The most a server's clock may differ from ours before signed S3 requests start to fail (AWS: 15 min). */
const MAX_SKEW_SECONDS = 300;

export async function s3Checks(t: S3TargetConfig): Promise<DoctorCheck[]> {
  const client = createS3Client(t);
  let serverDate: string | undefined;
  // The server's Date header, to compare clocks: S3 rejects requests signed too far from its time.
  client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const headers = (result.response as { headers?: Record<string, string> }).headers;
      serverDate ??= headers?.date;
      return result;
    },
    { step: "deserialize", name: "lifeboatServerDate" },
  );
  const checks: DoctorCheck[] = [];
  const credentials = await run(`${t.name}: credentials`, async () => {
    try {
      const c = await client.config.credentials();
      return `found (access key ${c.accessKeyId.slice(0, 4)}…)`;
    } catch (err) {
      throw storageError(err, t, "load credentials");
    }
  });
  checks.push(credentials);
  if (!credentials.ok) return checks;
  const key = `${t.prefix}/_doctor/${randomBytes(6).toString("hex")}`;
  const body = randomBytes(32).toString("hex");
  const probe = await run(`${t.name}: bucket write, read, delete`, async () => {
    try {
      await client.send(new PutObjectCommand({ Bucket: t.bucket, Key: key, Body: body }));
      const got = await client.send(new GetObjectCommand({ Bucket: t.bucket, Key: key }));
      const back = await got.Body?.transformToString("utf8");
      await client.send(new DeleteObjectCommand({ Bucket: t.bucket, Key: key }));
      if (back !== body)
        throw new LifeboatError("STORAGE_UNREACHABLE", `s3://${t.bucket}/${key} read back different bytes`);
      return `s3://${t.bucket}/${t.prefix}: probe object written, read back and deleted`;
    } catch (err) {
      throw isLifeboatError(err) ? err : storageError(err, t, "write, read and delete a probe object");
    }
  });
  checks.push(probe);
  if (probe.ok) {
    checks.push(
      await run(`${t.name}: clock`, async () => {
        if (!serverDate) return "the server sent no Date header; clock not compared";
        const skew = Math.round((Date.now() - Date.parse(serverDate)) / 1000);
        if (Math.abs(skew) > MAX_SKEW_SECONDS) {
          throw new LifeboatError(
            "STORAGE_ACCESS_DENIED",
            `this machine's clock is ${skew}s off the server's`,
            {
              hint: "Signed S3 requests fail when clocks differ by more than 15 minutes. Enable NTP (timedatectl set-ntp true).",
            },
          );
        }
        return `${skew}s from the server's clock`;
      }),
    );
  }
  return checks;
}
