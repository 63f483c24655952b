import { createHmac, hkdfSync } from 'node:crypto';
import { decodeBase64, encodeBase64 } from './base64.ts';
import { HeaderError } from './errors.ts';
import type { Stanza } from './x25519.ts';

const versionLine = 'age-encryption.org/v1';
const magic = Buffer.from(`${versionLine}\n`, 'latin1');
const armorStart = '-----BEGIN AGE ENCRYPTED FILE-----';
const bodyColumns = 64;
const macSize = 32;
/** A header this large is not an X25519 header anyone wrote; stop buffering. */
const maxHeaderBytes = 1 << 20;
/** Input is copied into the parser this much at a time: a header with one recipient is ~200 bytes. */
const PARSE_WINDOW = 1024;

export interface Header {
  stanzas: Stanza[];
  mac: Buffer;
  /** The bytes the MAC covers: the header up to and including the `---` of the footer. */
  macInput: Buffer;
  /** Offset of the footer line (`--- MAC`) in the input. */
  footerOffset: number;
  /** Total header length in bytes, including the footer's newline. */
  length: number;
}

export function headerMac(fileKey: Uint8Array, macInput: Uint8Array): Buffer {
  const key = Buffer.from(hkdfSync('sha256', fileKey, Buffer.alloc(0), 'header', 32));
  return createHmac('sha256', key).update(macInput).digest();
}

function formatBody(body: Buffer): string {
  const b64 = encodeBase64(body);
  let out = '';
  for (let i = 0; i < b64.length; i += bodyColumns) out += `${b64.slice(i, i + bodyColumns)}\n`;
  // The body ends with the first line shorter than 64 columns, so a full last line needs an empty one.
  if (b64.length % bodyColumns === 0) out += '\n';
  return out;
}

/** Serialises the header, computing its MAC under the file key. */
export function formatHeader(stanzas: Stanza[], fileKey: Uint8Array): Buffer {
  let text = `${versionLine}\n`;
  for (const s of stanzas) text += `-> ${[s.type, ...s.args].join(' ')}\n${formatBody(s.body)}`;
  text += '---';
  const macInput = Buffer.from(text, 'latin1');
  return Buffer.concat([macInput, Buffer.from(` ${encodeBase64(headerMac(fileKey, macInput))}\n`, 'latin1')]);
}

function isVchar(arg: string): boolean {
  if (arg.length === 0) return false;
  for (let i = 0; i < arg.length; i++) {
    const c = arg.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

function describeStart(data: Buffer): string {
  const start = data.subarray(0, 40).toString('latin1');
  if (armorStart.startsWith(start.slice(0, armorStart.length)) && start.startsWith('-----BEGIN')) {
    return 'it is ASCII-armored (PEM) age, which is not supported here: remove the armor with `age -d` or store binary age files';
  }
  if (start.startsWith('age-encryption.org/')) {
    const version = start.split('\n')[0] ?? start;
    return `unsupported age format version '${version.replace(/[^\x20-\x7e]/g, '?')}' (only age-encryption.org/v1)`;
  }
  return `it does not start with '${versionLine}'`;
}

/**
 * Incremental header parser: feed it the input as it arrives, it returns the header once the
 * footer line is complete. Parsing resumes where it stopped, so cost stays linear in header size.
 */
export class HeaderParser {
  #buf = Buffer.allocUnsafe(1024);
  #len = 0;
  #pos = 0;
  #stanzas: Stanza[] = [];
  #current: { type: string; args: string[]; lines: string[] } | null = null;
  #checkedMagic = false;

  get bytesSeen(): number {
    return this.#len;
  }

  /**
   * Returns the parsed header and the bytes after it (a view of `data`, not a copy), or null if more
   * input is needed. Only the header's bytes are copied, a window at a time: a chunk of a chunked
   * volume arrives as one buffer of ~1 MiB with a header of ~200 bytes, and copying all of it here
   * (twice, with the rest) was 5% of a restore's CPU.
   */
  push(data: Buffer): { header: Header; rest: Buffer } | null {
    for (let off = 0; off < data.length;) {
      const take = Math.min(data.length - off, PARSE_WINDOW);
      this.#append(data.subarray(off, off + take));
      off += take;
      const header = this.#parse();
      // The bytes after the header were all appended from this window (its footer line ended there).
      if (header) return { header, rest: data.subarray(off - (this.#len - this.#pos)) };
    }
    return null;
  }

  #append(data: Buffer): void {
    if (this.#len + data.length > this.#buf.length) {
      let size = this.#buf.length * 2;
      while (size < this.#len + data.length) size *= 2;
      const grown = Buffer.allocUnsafe(size);
      this.#buf.copy(grown, 0, 0, this.#len);
      this.#buf = grown;
    }
    data.copy(this.#buf, this.#len);
    this.#len += data.length;
  }

  /** Parses the complete lines appended so far: the header once its footer line is complete. */
  #parse(): Header | null {
    if (!this.#checkedMagic) {
      const n = Math.min(this.#len, magic.length);
      if (this.#buf.compare(magic, 0, n, 0, n) !== 0) {
        throw new HeaderError(`not an age file: ${describeStart(this.#buf.subarray(0, this.#len))}`);
      }
      if (this.#len < magic.length) return null;
      this.#checkedMagic = true;
      this.#pos = magic.length;
    }

    for (;;) {
      const nl = this.#buf.indexOf(0x0a, this.#pos);
      if (nl === -1 || nl >= this.#len) {
        if (this.#len > maxHeaderBytes)
          throw new HeaderError(`malformed header: longer than ${maxHeaderBytes} bytes`);
        return null;
      }
      const lineStart = this.#pos;
      const line = this.#buf.toString('latin1', lineStart, nl);
      this.#pos = nl + 1;
      const header = this.#line(line, lineStart);
      if (header) return header;
    }
  }

  #line(line: string, lineStart: number): Header | null {
    const current = this.#current;
    if (current) {
      if (line.length > bodyColumns)
        throw new HeaderError('malformed header: stanza body line longer than 64 columns');
      current.lines.push(line);
      if (line.length < bodyColumns) {
        const body = decodeBase64(current.lines.join(''), `the body of a ${current.type} stanza`);
        this.#stanzas.push({ type: current.type, args: current.args, body });
        this.#current = null;
      }
      return null;
    }
    if (line.startsWith('-> ')) {
      const args = line.slice(3).split(' ');
      if (!args.every(isVchar)) throw new HeaderError('malformed header: invalid stanza line');
      const [type, ...rest] = args as [string, ...string[]];
      this.#current = { type, args: rest, lines: [] };
      return null;
    }
    if (line.startsWith('---')) {
      const parts = line.split(' ');
      if (parts.length !== 2 || parts[0] !== '---')
        throw new HeaderError('malformed header: invalid footer line');
      const mac = decodeBase64(parts[1] ?? '', 'the header MAC');
      if (mac.length !== macSize) throw new HeaderError('malformed header: the header MAC is not 32 bytes');
      if (this.#stanzas.length === 0) throw new HeaderError('malformed header: no recipient stanzas');
      return {
        stanzas: this.#stanzas,
        mac,
        macInput: Buffer.from(this.#buf.subarray(0, lineStart + 3)),
        footerOffset: lineStart,
        length: this.#pos,
      };
    }
    throw new HeaderError(`malformed header: unexpected line at byte ${lineStart}`);
  }
}
