import { z } from 'zod';
import { checkCron } from './cron.ts';
import { parseInterval, parseRetentionWindow } from './duration.ts';

/** Definition names become S3 key parts and Temporal workflow ids, so they stay boring. */
export const DEFINITION_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const DEFINITION_NAME_RULE =
  '1-63 characters of lowercase letters, digits, ".", "_" and "-", starting with a letter or digit (it becomes part of S3 keys and Temporal workflow ids)';

/** Docker's own rule for container and volume names. */
export const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
export const DOCKER_NAME_RULE = 'letters, digits, "_", "." and "-", starting with a letter or digit';

/** Compose's own rule for project names (it lowercases what it is given). */
export const COMPOSE_PROJECT = /^[a-z0-9][a-z0-9_-]*$/;

/** Host names become Temporal task queue names (`dockvault.<host>`). */
export const HOST_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/;

/** age X25519 recipient: `age1` + 58 bech32 characters. */
export const AGE_RECIPIENT = /^age1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58}$/;

/** The input value for an error message; never echoes something that looks like a private key. */
export function shown(input: unknown): string {
  if (typeof input === 'string' && /^AGE-SECRET-KEY-/i.test(input))
    return 'a private age identity (not shown)';
  const text = JSON.stringify(input) ?? String(input);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function pattern(regex: RegExp, rule: string, what: string) {
  return z.string().regex(regex, { error: (issue) => `${what} must be ${rule}, got ${shown(issue.input)}` });
}

export const definitionName = pattern(DEFINITION_NAME, DEFINITION_NAME_RULE, 'a definition name').describe(
  `Unique name: ${DEFINITION_NAME_RULE}.`,
);
export const dockerName = (what: string) => pattern(DOCKER_NAME, DOCKER_NAME_RULE, what);
export const composeProjectName = pattern(
  COMPOSE_PROJECT,
  'lowercase letters, digits, "_" and "-", starting with a letter or digit (as `docker compose ls` shows it)',
  'a compose project name',
);
export const hostName = pattern(
  HOST_NAME,
  '1-63 characters of letters, digits, ".", "_" and "-", starting with a letter or digit',
  'a host name',
).describe('Docker host name; its activities run on the Temporal task queue `dockvault.<host>`.');

export const ageRecipient = z
  .string()
  .regex(AGE_RECIPIENT, {
    error: (issue) =>
      typeof issue.input === 'string' && /^AGE-SECRET-KEY-/i.test(issue.input)
        ? 'this is a private age identity: never put it in the config file; list the public key (age1...) here and point encryption.identityFile at the identity on hosts that restore'
        : `expected an age X25519 public key ("age1" followed by 58 lowercase bech32 characters), got ${shown(issue.input)}`,
  })
  .describe('age X25519 public key, `age1...`.');

export const filePath = z.string().min(1, { error: 'expected a non-empty file path' });

export const positiveInt = z
  .int()
  .positive({ error: (i) => `expected a number greater than 0, got ${shown(i.input)}` });
export const nonNegativeInt = z
  .int()
  .nonnegative({ error: (i) => `expected a number >= 0, got ${shown(i.input)}` });

export const interval = z
  .string()
  .transform((text, ctx) => {
    const parsed = parseInterval(text);
    if (parsed.ok) return parsed.ms;
    ctx.addIssue({ code: 'custom', message: parsed.message, input: text });
    return z.NEVER;
  })
  .describe('Duration: units w, d, h, m (minutes), s, e.g. `15m`, `1h30m`, `7d`. Parsed to milliseconds.');

export const retentionWindow = z
  .string()
  .transform((text, ctx) => {
    const parsed = parseRetentionWindow(text);
    if (parsed.ok) return parsed.window;
    ctx.addIssue({ code: 'custom', message: parsed.message, input: text });
    return z.NEVER;
  })
  .describe('Duration: units y, m (months), w, d, h, e.g. `7d`, `12h`, `1y6m`.');

export const cronString = z
  .string()
  .check((ctx) => {
    const problem = checkCron(ctx.value);
    if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
  })
  .describe(
    'Cron: 5 fields (minute hour day-of-month month day-of-week), 6 (+year), 7 (second first), or @daily etc.',
  );

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export const timeZone = z
  .string()
  .refine(isTimeZone, {
    error: (i) => `expected an IANA time zone like "Europe/Berlin" or "UTC", got ${shown(i.input)}`,
  })
  .describe('IANA time zone, e.g. `Europe/Berlin`.');

export const httpUrl = z
  .url({ protocol: /^https?$/, error: (i) => `expected an http(s) URL, got ${shown(i.input)}` })
  .describe('http(s) URL.');

/** Accepts one item or a list, always yields a list. */
export function oneOrMany<T extends z.ZodType>(item: T) {
  return z.union([item, z.array(item)]).transform((v) => (Array.isArray(v) ? v : [v]) as z.output<T>[]);
}
