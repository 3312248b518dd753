// One doctor check: its name, whether it passed, and what a failure says to do; shared by doctor's modules.
import { isLifeboatError } from "../errors.js";

export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
  hint?: string | undefined;
  code?: string | undefined;
  exitCode?: number | undefined;
}

export async function run(name: string, fn: () => Promise<string>): Promise<DoctorCheck> {
  try {
    return { name, ok: true, detail: await fn() };
  } catch (err) {
    if (isLifeboatError(err))
      return { name, ok: false, detail: err.message, hint: err.hint, code: err.code, exitCode: err.exitCode };
    return { name, ok: false, detail: String(err), code: "INTERNAL", exitCode: 1 };
  }
}
