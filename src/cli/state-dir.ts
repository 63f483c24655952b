/** The worker's state directory: --state-dir, else DOCKVAULT_STATE_DIR, else /var/lib/dockvault/state. */
export function resolveStateDir(flag: string | undefined): string {
  return flag ?? process.env.DOCKVAULT_STATE_DIR ?? '/var/lib/dockvault/state';
}

export const stateDirOption = { 'state-dir': { type: 'string' } } as const;
