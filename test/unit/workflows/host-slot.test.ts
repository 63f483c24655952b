import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostSlotIds, waitingForSlotPhase } from '../../../src/workflows/host-slot.ts';

test("a host's slot ids: one per allowed run, the default 2 for plans made before host limits", () => {
  assert.deepEqual(hostSlotIds({ host: 'web1', hostConcurrency: 3 }), [
    'slot-1@web1',
    'slot-2@web1',
    'slot-3@web1',
  ]);
  assert.deepEqual(hostSlotIds({ host: 'web1', hostConcurrency: 1 }), ['slot-1@web1']);
  assert.deepEqual(hostSlotIds({ host: 'local' }), ['slot-1@local', 'slot-2@local']);
});

test('the phase a waiting run shows says how many slots are busy', () => {
  assert.equal(waitingForSlotPhase(2), 'waiting for a host slot (2 of 2 busy)');
});
