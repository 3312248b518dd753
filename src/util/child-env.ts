// What a child process may see of Lifeboat's environment: the machine's basics, never the rest. Lifeboat's own
// environment holds secrets (the SMTP password, a database's passwordEnv, S3 keys); a child gets the ones it
// needs handed to it by name, and nothing else.

/** Variables every program may need to run here (and that hold no secret of Lifeboat's). */
const BASICS = new Set([
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "LANG",
  "LANGUAGE",
  "TZ",
  "TMPDIR",
  "TERM",
  "XDG_RUNTIME_DIR",
  "XDG_CONFIG_HOME",
  "XDG_CACHE_HOME",
  "XDG_DATA_HOME",
  // ssh's agent, the container engines' own settings, proxies.
  "SSH_AUTH_SOCK",
  "CONTAINER_HOST",
  "CONTAINER_CONNECTION",
  "CONTAINERS_CONF",
  "CONTAINERS_STORAGE_CONF",
  "DOCKER_HOST",
  "DOCKER_CONFIG",
  "DOCKER_CONTEXT",
  "http_proxy",
  "https_proxy",
  "no_proxy",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
]);
const BASIC_PREFIXES = ["LC_"];

/** The basics of `env`, plus `extra`; `pass` names further variables the child needs (a cloud CLI's token). */
export function childEnv(
  extra: Record<string, string> = {},
  options: { pass?: readonly string[]; prefixes?: readonly string[]; from?: NodeJS.ProcessEnv } = {},
): Record<string, string> {
  const from = options.from ?? process.env;
  const names = new Set(options.pass ?? []);
  const prefixes = [...BASIC_PREFIXES, ...(options.prefixes ?? [])];
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(from)) {
    if (v === undefined) continue;
    if (BASICS.has(k) || names.has(k) || prefixes.some((p) => k.startsWith(p))) env[k] = v;
  }
  return { ...env, ...extra };
}

/** execa options for a child that gets only `childEnv(...)`: execa would otherwise add all of process.env. */
export const onlyEnv = (
  extra: Record<string, string> = {},
  options: Parameters<typeof childEnv>[1] = {},
): { env: Record<string, string>; extendEnv: false } => ({ env: childEnv(extra, options), extendEnv: false });
