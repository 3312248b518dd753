// The catalog in an S3 bucket, under <prefix>/_catalog/. Loaded on demand with the AWS SDK.
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import type { S3TargetConfig } from "../config/load.js";
import { openS3, storageError, withRenewal } from "../storage/s3.js";
import { CATALOG_DIR, type CatalogStore, type KeyPage } from "./types.js";

export class S3CatalogStore implements CatalogStore {
  constructor(private readonly target: S3TargetConfig) {}

  private key(key: string): string {
    return `${this.target.prefix}/${CATALOG_DIR}/${key}`;
  }

  async put(key: string, body: string): Promise<void> {
    const access = await openS3(this.target);
    try {
      await withRenewal(access, (client) =>
        client.send(
          new PutObjectCommand({
            Bucket: this.target.bucket,
            Key: this.key(key),
            Body: body,
            ContentType: "application/json",
          }),
        ),
      );
    } catch (err) {
      throw storageError(err, this.target, `write catalog record ${key}`);
    }
  }

  async get(key: string): Promise<string | undefined> {
    const access = await openS3(this.target);
    try {
      const r = await withRenewal(access, (client) =>
        client.send(new GetObjectCommand({ Bucket: this.target.bucket, Key: this.key(key) })),
      );
      return await r.Body?.transformToString("utf8");
    } catch (err) {
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404)
        return undefined;
      throw storageError(err, this.target, `read catalog record ${key}`);
    }
  }

  async remove(key: string): Promise<void> {
    const access = await openS3(this.target);
    try {
      await withRenewal(access, (client) =>
        client.send(new DeleteObjectCommand({ Bucket: this.target.bucket, Key: this.key(key) })),
      );
    } catch (err) {
      throw storageError(err, this.target, `remove catalog object ${key}`);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.listPage(prefix, { limit: 1000, after });
      keys.push(...page.keys);
      after = page.keys.at(-1);
      if (!page.more || after === undefined) return keys.sort();
    }
  }

  async listPage(prefix: string, page: { limit: number; after?: string | undefined }): Promise<KeyPage> {
    const access = await openS3(this.target);
    const base = this.key("");
    try {
      const r = await withRenewal(access, (client) =>
        client.send(
          new ListObjectsV2Command({
            Bucket: this.target.bucket,
            Prefix: base + prefix,
            MaxKeys: Math.min(1000, Math.max(1, page.limit)),
            StartAfter: page.after === undefined ? undefined : base + page.after,
          }),
        ),
      );
      const keys = (r.Contents ?? []).flatMap((o) => (o.Key ? [o.Key.slice(base.length)] : []));
      return { keys, more: r.IsTruncated === true };
    } catch (err) {
      throw storageError(err, this.target, "list the catalog");
    }
  }
}
