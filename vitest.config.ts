import { defineConfig } from "vitest/config";

// Two tiers (README: Development). unit: no restic, S3, podman or network, under a minute; its only setup is
// the build the CLI tests spawn. integration: everything else, against the real parts.
const UNIT = "test/**/*.unit.test.ts";

export default defineConfig({
  test: {
    reporters: ["default", "./test/helpers/summary-reporter.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration files spend most of their time waiting (podman, s3rver, restic's storage calls): on this 2-core
    // machine three files at a time finished the suite in 411 s against 516 s with two (ARCHITECTURE.md: Tests).
    maxWorkers: 3,
    projects: [
      {
        extends: true,
        test: { name: "unit", include: [UNIT], globalSetup: ["test/helpers/build-setup.ts"] },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          exclude: [UNIT],
          globalSetup: ["test/helpers/build-setup.ts", "test/helpers/global-setup.ts"],
        },
      },
    ],
  },
});
