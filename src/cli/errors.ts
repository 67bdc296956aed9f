/** Exit codes: 0 everything verified, 1 some images failed, 2 usage or setup error. */
export const ExitCode = { ok: 0, failed: 1, usage: 2 } as const;

export const exitCodesEpilog = 'Exit codes: 0 ok, 1 some images failed, 2 usage or setup error.';

/** A mistake in how airlift was called; exits with code 2. */
export class UsageError extends Error {}
