import { Transform, type TransformCallback } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

const ROLE_LINE = /^(?:CREATE|ALTER|COMMENT ON) ROLE ("(?:[^"]|"")*"|[^\s;]+)/;

/** The role name of a `CREATE ROLE` / `ALTER ROLE` line of pg_dumpall, unquoted; undefined otherwise. */
function roleOfLine(line: string): string | undefined {
  const m = ROLE_LINE.exec(line);
  if (!m) return undefined;
  const ident = m[1]!;
  return ident.startsWith('"') ? ident.slice(1, -1).replaceAll('""', '"') : ident.toLowerCase();
}

/**
 * Drops the lines that would create or alter roles that already exist on the target server, so a
 * restore of globals never changes an existing role's password or attributes. Everything else
 * (new roles, memberships, tablespaces) passes. Streams line by line.
 */
export class SkipExistingRoles extends Transform {
  readonly skipped = new Set<string>();
  readonly #existing: Set<string>;
  #rest = '';
  readonly #decoder = new StringDecoder('utf8');

  constructor(existing: Iterable<string>) {
    super();
    this.#existing = new Set(existing);
  }

  #line(line: string): string {
    const role = roleOfLine(line);
    if (role !== undefined && this.#existing.has(role)) {
      this.skipped.add(role);
      return `-- dockvault: role ${role} exists on this server, skipped: ${line.split(' ').slice(0, 2).join(' ')}\n`;
    }
    return `${line}\n`;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const lines = (this.#rest + this.#decoder.write(chunk)).split('\n');
    this.#rest = lines.pop() ?? '';
    callback(null, lines.map((l) => this.#line(l)).join(''));
  }

  override _flush(callback: TransformCallback): void {
    const last = this.#rest + this.#decoder.end();
    callback(null, last === '' ? '' : this.#line(last));
  }
}
