import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDocument } from 'yaml';
import {
  InterpolationError,
  interpolateDocument,
  interpolateString,
} from '../../../src/config/interpolate.ts';

describe('interpolateString', () => {
  it('substitutes set variables', () => {
    assert.equal(interpolateString('s3://${BUCKET}/x', { BUCKET: 'b' }), 's3://b/x');
  });

  it('uses the default when unset or empty', () => {
    assert.equal(interpolateString('${A:-one}', {}), 'one');
    assert.equal(interpolateString('${A:-one}', { A: '' }), 'one');
    assert.equal(interpolateString('${A:-one}', { A: 'two' }), 'two');
    assert.equal(interpolateString('${A:-}', {}), '');
  });

  it('keeps a set but empty variable without a default', () => {
    assert.equal(interpolateString('x${A}y', { A: '' }), 'xy');
  });

  it('turns $$ into a literal $ and leaves a lone $ alone', () => {
    assert.equal(interpolateString('$${NOT_A_VAR} costs $5', {}), '${NOT_A_VAR} costs $5');
  });

  it('does not re-interpolate substituted values', () => {
    assert.equal(interpolateString('${A}', { A: '${B}' }), '${B}');
  });

  it('throws naming the missing variable', () => {
    assert.throws(() => interpolateString('${MISSING_ONE}', {}), {
      name: 'InterpolationError',
      message: /MISSING_ONE is not set/,
    });
  });

  it('rejects malformed references', () => {
    assert.throws(() => interpolateString('${A B}', {}), InterpolationError);
    assert.throws(() => interpolateString('${UNCLOSED', {}), /unclosed/);
  });
});

describe('interpolateDocument', () => {
  const run = (yaml: string, env: Record<string, string>) => {
    const doc = parseDocument(yaml);
    const issues = interpolateDocument(doc, env);
    return { value: doc.toJS() as Record<string, unknown>, issues };
  };

  it('gives a plain whole-scalar reference the YAML type of its value', () => {
    const { value } = run('n: ${N:-16}\nb: ${B:-false}\nf: ${F}\ns: ${S}\n', { F: '1.5', S: 'text' });
    assert.deepEqual(value, { n: 16, b: false, f: 1.5, s: 'text' });
  });

  it('keeps quoted references and partial references as strings', () => {
    const { value } = run('q: "${N}"\np: x${N}\n', { N: '16' });
    assert.deepEqual(value, { q: '16', p: 'x16' });
  });

  it('never turns a value into YAML structure or cuts it at a comment', () => {
    const { value } = run('v: ${V}\nw: ${W}\nx: ${X}\nn: ${N}\n', {
      V: '[a, b]',
      W: 'a #b',
      X: '#x',
      N: '~',
    });
    assert.deepEqual(value, { v: '[a, b]', w: 'a #b', x: '#x', n: null });
  });

  it('interpolates inside lists and nested mappings', () => {
    const { value } = run('a:\n  - ${X}\n  - { b: "${X}-2" }\n', { X: 'x' });
    assert.deepEqual(value, { a: ['x', { b: 'x-2' }] });
  });

  it('reports each missing variable with its document path', () => {
    const { issues } = run('s3:\n  bucket: ${B}\nlist: [ok, "${C}"]\n', {});
    assert.deepEqual(
      issues.map((i) => [i.path, i.message]),
      [
        [['s3', 'bucket'], 'environment variable B is not set'],
        [['list', 1], 'environment variable C is not set'],
      ],
    );
  });

  it('leaves keys alone', () => {
    const { value } = run('${K}: v\n', {});
    assert.deepEqual(value, { '${K}': 'v' });
  });
});
