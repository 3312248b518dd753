// Where an S3 target's repositories are and how restic reaches them: no SDK here, so commands that only
// name S3 locations do not load it.
import type { S3TargetConfig } from "../config/load.js";

export function endpointOf(target: S3TargetConfig): string {
  return target.endpoint ?? `https://s3.${target.region}.amazonaws.com`;
}

export function s3Location(target: S3TargetConfig, key: string): string {
  return `s3:${endpointOf(target)}/${target.bucket}/${target.prefix}/${key}`;
}

/** restic's own options for this target: never secrets. `caFile`: where the CA is for the restic that runs. */
export function s3ResticArgs(target: S3TargetConfig, caFile = target.caFile): string[] {
  const args = ["-o", `s3.region=${target.region}`];
  if (target.pathStyle) args.push("-o", "s3.bucket-lookup=path");
  if (caFile) args.push("--cacert", caFile);
  return args;
}
