import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError, fromZodIssues } from './errors.ts';
import type { ConfigIssue, PathIssue } from './errors.ts';
import { interpolateDocument } from './interpolate.ts';
import type { Env } from './interpolate.ts';
import { plainMessage } from './messages.ts';
import { crossFieldIssues } from './rules.ts';
import { configSchema } from './schema.ts';
import type { Config } from './schema.ts';
import { findNode, formatPath, positionOf } from './yaml-location.ts';

export const DEFAULT_CONFIG_PATH = './dockvault.yml';

/** `--config FILE`, else env DOCKVAULT_CONFIG, else ./dockvault.yml. */
export function resolveConfigPath(flag?: string, env: Env = process.env): string {
  return flag || env.DOCKVAULT_CONFIG || DEFAULT_CONFIG_PATH;
}

function byPosition(a: ConfigIssue, b: ConfigIssue): number {
  return (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0);
}

/** Parses, interpolates and validates one YAML document; throws ConfigError listing every problem. */
export function parseConfig(text: string, fileName: string, env: Env = process.env): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // Duplicate keys are independent problems; after any other syntax error the rest is mostly echo.
    const firstSyntax = doc.errors.findIndex((e) => e.code !== 'DUPLICATE_KEY');
    const reported = firstSyntax < 0 ? doc.errors : doc.errors.slice(0, firstSyntax + 1);
    throw new ConfigError(
      fileName,
      reported.map((e) => {
        const { line, col } = lines.linePos(e.pos[0]);
        return { path: '', line, column: col, message: `invalid YAML: ${e.message}` };
      }),
    );
  }
  const located = (path: PathIssue['path'], atKey: boolean, message: string): ConfigIssue => ({
    path: formatPath(path),
    ...positionOf(findNode(doc, path, atKey), lines),
    message,
  });

  const interpolation = interpolateDocument(doc, env).map((i) => ({
    path: formatPath(i.path),
    ...positionOf(i.node, lines),
    message: i.message,
  }));
  const raw: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const result = configSchema.safeParse(raw, { reportInput: true, error: plainMessage });
  const shapeIssues = result.success ? [] : fromZodIssues(result.error.issues);
  const all = [...shapeIssues, ...crossFieldIssues(raw)].map((i) =>
    located(i.path, i.atKey ?? false, i.message),
  );
  // An unset variable also fails the shape check at the same path; the variable is the real cause.
  const interpolated = new Set(interpolation.map((i) => i.path));
  const issues = [...interpolation, ...all.filter((i) => !interpolated.has(i.path))];
  const unique = issues.filter(
    (issue, index) => issues.findIndex((o) => o.path === issue.path && o.message === issue.message) === index,
  );
  if (unique.length > 0 || !result.success) {
    throw new ConfigError(fileName, unique.sort(byPosition));
  }
  return result.data;
}

/** Reads and parses a config file; the file name in errors is the path as given. */
export async function loadConfigFile(path: string, env: Env = process.env): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new ConfigError(path, [{ path: '', message: `cannot read config: ${reason}` }]);
  }
  return parseConfig(text, path, env);
}
