import { isAlias, isMap, isScalar, isSeq } from 'yaml';
import type { Document, LineCounter, Node } from 'yaml';

export type DocPath = readonly (string | number)[];

/** `backupDefinitions[1].containers[0]`; odd keys are quoted so the path stays unambiguous. */
export function formatPath(path: DocPath): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) text += text ? `.${segment}` : segment;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}

export interface Position {
  line: number;
  column: number;
}

export function positionOf(node: Node | null | undefined, lines: LineCounter): Position | undefined {
  const offset = node?.range?.[0];
  if (offset === undefined) return undefined;
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

/**
 * The node a document path points at, or the deepest existing ancestor when the path names
 * something missing. With `key`, a path ending in a mapping key yields the key itself (for "unknown key").
 */
export function findNode(doc: Document, path: DocPath, key = false): Node | undefined {
  let node: unknown = doc.contents;
  for (const [i, segment] of path.entries()) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) return node;
      if (key && i === path.length - 1 && isScalar(pair.key)) return pair.key;
      // `key:` with nothing after it has no value node; point at the key instead.
      node = pair.value ?? pair.key;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined) return node;
      node = item;
    } else {
      break;
    }
  }
  return node as Node | undefined;
}
