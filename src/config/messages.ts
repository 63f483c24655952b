import type { z } from 'zod';
import { shown } from './schema-fields.ts';
import { didYouMean } from './suggest.ts';

/** Plain-words messages for zod issues; schema-level messages (set where a field is defined) win over these. */

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping (key: value)',
};

export function describeValue(input: unknown): string {
  if (input === null) return 'nothing (null)';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  return shown(input);
}

const SECRET_KEY = /secret|password|passwd|token|accesskey|credential|private|^identity$|^key$|^api_?key$/i;

export function unknownKeyMessage(key: string, allowed: readonly string[]): string {
  if (SECRET_KEY.test(key)) {
    return `"${key}" is not allowed: secrets never live in the config file; provide them through the environment (S3: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the AWS credential chain; Temporal: TEMPORAL_API_KEY) or a file path option (temporal.apiKeyFile, temporal.tls.keyFile)`;
  }
  return `unknown key "${key}"${didYouMean(key, allowed)}`;
}

function allowedKeys(inst: unknown): string[] {
  const def = (inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def;
  return Object.keys(def?.shape ?? {});
}

function bound(
  kind: 'min' | 'max',
  issue: { origin: string; inclusive?: boolean },
  limit: number | bigint,
): string {
  const n = Number(limit);
  switch (issue.origin) {
    case 'array':
      return kind === 'min'
        ? `expected at least ${n} item${n === 1 ? '' : 's'}`
        : `expected at most ${n} items`;
    case 'string':
      if (kind === 'min' && n === 1) return 'expected a non-empty string';
      return kind === 'min' ? `expected at least ${n} characters` : `expected at most ${n} characters`;
    default: {
      const op =
        kind === 'min' ? (issue.inclusive === false ? '>' : '>=') : issue.inclusive === false ? '<' : '<=';
      return `expected a number ${op} ${n}`;
    }
  }
}

/**
 * Error map passed to safeParse. For unrecognized keys it returns one line per key (same order as
 * issue.keys), because zod reports them as one issue but the user needs each one located.
 */
export function plainMessage(issue: z.core.$ZodRawIssue): string | undefined {
  const got = `, got ${describeValue(issue.input)}`;
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'required, but missing';
      return `expected ${TYPE_WORDS[issue.expected] ?? issue.expected}${got}`;
    case 'invalid_value': {
      const values = issue.values.map((v) => shown(v));
      const expected = values.length === 1 ? values[0] : `one of ${values.join(', ')}`;
      const hint = typeof issue.input === 'string' ? didYouMean(issue.input, issue.values.map(String)) : '';
      return `expected ${expected}${got}${hint}`;
    }
    case 'unrecognized_keys':
      return issue.keys.map((key) => unknownKeyMessage(key, allowedKeys(issue.inst))).join('\n');
    case 'too_small':
    case 'too_big': {
      const kind = issue.code === 'too_small' ? 'min' : 'max';
      const limit = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const count = Array.isArray(issue.input) ? `, got ${issue.input.length}` : got;
      return `${bound(kind, issue, limit)}${count}`;
    }
    case 'invalid_format':
      return `expected ${issue.format === 'regex' ? 'a value matching the pattern' : `a valid ${issue.format}`}${got}`;
    case 'not_multiple_of':
      return `expected a multiple of ${Number(issue.divisor)}${got}`;
    default:
      return undefined;
  }
}
