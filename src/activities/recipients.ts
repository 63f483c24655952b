import { readFile } from 'node:fs/promises';
import { RECIPIENTS_ENV } from '../config/index.ts';
import { PreflightError } from './failure.ts';

/**
 * Inline keys plus the recipients file's non-comment lines; the worker's DOCKVAULT_AGE_RECIPIENTS only
 * when the config names none, so a definition's own recipients are never silently widened.
 */
export async function resolveRecipients(
  encryption: { recipients: string[]; recipientsFile?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): Promise<string[]> {
  const all = [...encryption.recipients];
  if (encryption.recipientsFile) {
    let text: string;
    try {
      text = await readFile(encryption.recipientsFile, 'utf8');
    } catch (err) {
      throw new PreflightError(
        `cannot read recipients file ${encryption.recipientsFile}: ${(err as Error).message}`,
      );
    }
    all.push(
      ...text
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('#')),
    );
  }
  if (all.length === 0) all.push(...(env[RECIPIENTS_ENV] ?? '').split(/[\s,]+/).filter((s) => s !== ''));
  return [...new Set(all)];
}
