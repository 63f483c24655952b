import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hooksTimeoutSeconds } from '../../../src/workflows/activity-proxies.ts';

test("the hooks activity's bound follows from the hooks' own timeouts, not the stop timeout", () => {
  assert.equal(hooksTimeoutSeconds([]), 60);
  // Two 40 s hooks with the default 60 s timeout each: 2 x (60 + 10) + 60.
  assert.equal(hooksTimeoutSeconds([{ timeoutSeconds: 60 }, { timeoutSeconds: 60 }]), 200);
  const many = Array.from({ length: 10 }, () => ({ timeoutSeconds: 300 }));
  assert.ok(hooksTimeoutSeconds(many) > 10 * 300);
});
