import { isAlias, isMap, isScalar, isSeq, parse } from 'yaml';
import type { Document, Node } from 'yaml';

/**
 * `${VAR}` (error when unset), `${VAR:-default}` (default when unset or empty), `$$` for a literal `$`.
 * Interpolation runs on parsed string scalars, never on raw text, so a value can't inject YAML structure.
 */

export type Env = Record<string, string | undefined>;

const REFERENCE = /\$\$|\$\{([^}]*)\}|\$\{/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SINGLE_REFERENCE = /^\$\{[^}]*\}$/;

export class InterpolationError extends Error {
  override name = 'InterpolationError';
}

/** Substitutes every reference in one string; throws InterpolationError naming the variable. */
export function interpolateString(text: string, env: Env = process.env): string {
  return text.replace(REFERENCE, (match, body: string | undefined) => {
    if (match === '$$') return '$';
    if (body === undefined)
      throw new InterpolationError(`unclosed "\${" in ${JSON.stringify(text)}; write "$$" for a literal "$"`);
    const separator = body.indexOf(':-');
    const name = separator < 0 ? body : body.slice(0, separator);
    if (!NAME.test(name)) {
      throw new InterpolationError(
        `"\${${body}}" is not a valid reference; use \${NAME} or \${NAME:-default}`,
      );
    }
    const value = env[name];
    if (separator >= 0) return value === undefined || value === '' ? body.slice(separator + 2) : value;
    if (value === undefined) throw new InterpolationError(`environment variable ${name} is not set`);
    return value;
  });
}

/**
 * A plain scalar that is exactly one reference takes the YAML type of its value, so
 * `partSizeMiB: ${PART:-16}` is a number. Quoted scalars stay strings, as quoting means in YAML.
 */
function retype(value: string): unknown {
  // Only numbers, booleans and null change type; anything else keeps its exact text, so a value
  // that happens to contain "#" or ": " is never cut short by YAML parsing.
  if (/^(~|null|Null|NULL)$/.test(value)) return null;
  try {
    const parsed: unknown = parse(value);
    return typeof parsed === 'number' || typeof parsed === 'boolean' ? parsed : value;
  } catch {
    return value;
  }
}

export interface InterpolationIssue {
  path: (string | number)[];
  node: Node;
  message: string;
}

/** Interpolates every string scalar of the document in place; returns one issue per failing scalar. */
export function interpolateDocument(doc: Document, env: Env = process.env): InterpolationIssue[] {
  const issues: InterpolationIssue[] = [];
  const visit = (node: unknown, path: (string | number)[]): void => {
    if (isAlias(node)) return; // its anchor is visited where it is defined
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        visit(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => visit(item, [...path, index]));
    } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('$')) {
      try {
        const text = interpolateString(node.value, env);
        const plain = node.type === 'PLAIN' && SINGLE_REFERENCE.test(node.value);
        node.value = plain ? retype(text) : text;
      } catch (err) {
        if (!(err instanceof InterpolationError)) throw err;
        issues.push({ path, node, message: err.message });
      }
    }
  };
  visit(doc.contents, []);
  return issues;
}
