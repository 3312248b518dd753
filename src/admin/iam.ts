// The S3 access each party needs, as IAM policies `lifeboat kit --iam` prints: a host's key may add objects under
// its own repository and read them back (restic reads its index and config), delete only its lock files, and
// nothing else; the controller's may do everything under the target's prefix (retention, prune, the catalog).
import type { S3TargetConfig } from "../config/load.js";

export interface IamPolicy {
  Version: "2012-10-17";
  Statement: Array<{
    Sid: string;
    Effect: "Allow";
    Action: string[];
    Resource: string | string[];
    Condition?: Record<string, Record<string, string[]>>;
  }>;
}

const bucketArn = (t: S3TargetConfig): string => `arn:aws:s3:::${t.bucket}`;

/** What one host's own S3 key needs to snapshot into `<prefix>/<host>/`: no delete, except its locks. */
export function hostIamPolicy(t: S3TargetConfig, host: string): IamPolicy {
  const repo = `${t.prefix}/${host}`;
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ListOwnRepository",
        Effect: "Allow",
        Action: ["s3:ListBucket"],
        Resource: bucketArn(t),
        Condition: { StringLike: { "s3:prefix": [repo, `${repo}/*`] } },
      },
      {
        Sid: "AddAndReadOwnRepository",
        Effect: "Allow",
        Action: ["s3:GetObject", "s3:PutObject"],
        Resource: `${bucketArn(t)}/${repo}/*`,
      },
      {
        // restic removes the lock it took; a host that cannot would leave one behind after every run.
        Sid: "RemoveOwnLocks",
        Effect: "Allow",
        Action: ["s3:DeleteObject"],
        Resource: `${bucketArn(t)}/${repo}/locks/*`,
      },
    ],
  };
}

/** What the controller's key needs: every repository and the catalog under the prefix, deletes included. */
export function controllerIamPolicy(t: S3TargetConfig): IamPolicy {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ListTarget",
        Effect: "Allow",
        Action: ["s3:ListBucket", "s3:GetBucketLocation"],
        Resource: bucketArn(t),
        Condition: { StringLike: { "s3:prefix": [t.prefix, `${t.prefix}/*`] } },
      },
      {
        Sid: "ManageTarget",
        Effect: "Allow",
        Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
        Resource: `${bucketArn(t)}/${t.prefix}/*`,
      },
    ],
  };
}
