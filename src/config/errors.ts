import type { z } from 'zod';
import type { DocPath } from './yaml-location.ts';

export interface ConfigIssue {
  /** Document path like `backupDefinitions[1].containers[0]`; empty for YAML syntax errors. */
  path: string;
  line?: number;
  column?: number;
  message: string;
}

/** Every problem found in one config file; `.message` is the full text a user reads. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly file: string;
  readonly issues: ConfigIssue[];

  constructor(file: string, issues: ConfigIssue[]) {
    super(formatIssues(file, issues));
    this.file = file;
    this.issues = issues;
  }
}

export function formatIssue(file: string, issue: ConfigIssue): string {
  const where = issue.line === undefined ? file : `${file}:${issue.line}:${issue.column ?? 1}`;
  return issue.path ? `${where} ${issue.path}: ${issue.message}` : `${where} ${issue.message}`;
}

function formatIssues(file: string, issues: ConfigIssue[]): string {
  const head = `${file}: ${issues.length} error${issues.length === 1 ? '' : 's'}`;
  return [head, ...issues.map((issue) => formatIssue(file, issue))].join('\n');
}

/** An issue before it is located in the YAML document. */
export interface PathIssue {
  path: DocPath;
  message: string;
  /** Point at the mapping key rather than its value (unknown keys). */
  atKey?: boolean;
}

/** A union branch that failed only because the value has another type altogether. */
function isTypeMismatch(issues: readonly z.core.$ZodIssue[]): boolean {
  const [only] = issues;
  return (
    issues.length === 1 &&
    only !== undefined &&
    only.path.length === 0 &&
    (only.code === 'invalid_type' || only.code === 'invalid_value')
  );
}

function expectedPart(message: string): string {
  return message.replace(/^expected /, '').replace(/, got .*$/, '');
}

/** Flattens zod issues into located-per-node issues, picking the branch of a union the user meant. */
export function fromZodIssues(issues: readonly z.core.$ZodIssue[], prefix: DocPath = []): PathIssue[] {
  const result: PathIssue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    if (issue.code === 'unrecognized_keys') {
      const lines = issue.message.split('\n');
      issue.keys.forEach((key, i) => {
        result.push({ path: [...path, key], message: lines[i] ?? `unknown key "${key}"`, atKey: true });
      });
    } else if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const meant = issue.errors.filter((branch) => !isTypeMismatch(branch));
      if (meant.length === 0) {
        const expected = issue.errors.map((branch) => expectedPart(branch[0]?.message ?? '')).join(' or ');
        const got = /, got (.*)$/.exec(issue.errors[0]?.[0]?.message ?? '')?.[1];
        result.push({ path, message: `expected ${expected}${got ? `, got ${got}` : ''}` });
      } else {
        const closest = meant.reduce((best, branch) => (branch.length < best.length ? branch : best));
        result.push(...fromZodIssues(closest, path));
      }
    } else {
      result.push({ path, message: issue.message });
    }
  }
  return result;
}
