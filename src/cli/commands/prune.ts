import { parseCommandArgs } from '../command.ts';
import { backupWorkflowId, connectClient, workflowUrl } from '../../client.ts';
import type { PruneResult } from '../../activities/prune.ts';
import { formatInterval } from '../../config/duration.ts';
import type { ChunkCount, ChunkGcResult } from '../../storage/chunk-gc.ts';
import { buildPlan } from '../../plan/build.ts';
import { requireWorkers } from '../worker-presence.ts';
import type { PrunePlan } from '../../plan/types.ts';
import { definitionKey, hostKey, typeKey } from '../../search-attributes.ts';
import type { pruneWorkflow } from '../../workflows/index.ts';
import type { Command } from '../command.ts';
import { formatBytes } from '../format.ts';
import { loadCliConfig } from '../load-config.ts';
import { selectDefinitions } from './run.ts';

const help = `Usage: dockvault prune NAME... | --all [--dry-run] [--config FILE]

Applies each definition's retention policy (restic's keep rules, in schedule.timezone or UTC) to its
backups in storage, through the host's worker. Prints every backup: keep (with the rules that keep it)
or delete. A backup's manifest is deleted first, then its objects. Objects without a manifest (failed
runs) and unfinished multipart uploads older than a day are removed; younger ones may belong to a run
in progress and are left alone. Objects under Object Lock retention are skipped ("locked until ...").
Chunks (volumeFormat, postgres.storage: chunked) are shared by every definition of the bucket
prefix: a chunk no backup of the prefix lists is marked, and deleted by a prune at least
s3.chunkGrace (default 25h) later if it is still unreferenced; the chunk line counts referenced,
unreferenced, deleted and locked chunks.
--dry-run decides and prints, deleting and writing nothing. Exit code 1 if anything failed.`;

function formatPruneResult(r: PruneResult): string[] {
  const lines = [`${r.definition}: ${r.policy}${r.dryRun ? ' (dry run: nothing deleted)' : ''}`];
  if (r.backups.length === 0) lines.push('  no backups');
  for (const b of r.backups) {
    const detail = b.reasons.length > 0 ? `  ${b.reasons.join(', ')}` : '';
    lines.push(`  ${b.action.padEnd(7)} ${b.backupId}${detail}`);
  }
  for (const l of r.leftovers) {
    const what = `${l.objects} object(s), ${formatBytes(l.bytes)}, newest ${l.newestObjectAt}`;
    lines.push(
      `  ${l.action.padEnd(7)} ${l.backupId}  incomplete (${what})${l.detail ? `: ${l.detail}` : ''}`,
    );
  }
  if (r.abortedUploads > 0) {
    lines.push(
      `  ${r.dryRun ? 'would abort' : 'aborted'} ${r.abortedUploads} unfinished upload(s) older than a day`,
    );
  }
  if (r.chunks) lines.push(...formatChunks(r.chunks, r.dryRun));
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  return lines;
}

function formatChunks(c: ChunkGcResult, dryRun: boolean): string[] {
  const count = (n: ChunkCount) => `${n.chunks} (${formatBytes(n.bytes)})`;
  const total = c.referenced.chunks + c.candidates.chunks;
  if (total === 0 && !c.marker && c.markersRemoved === 0) return [];
  return [
    `  chunks  ${count(c.referenced)} referenced, ${count(c.candidates)} unreferenced, ` +
      `${dryRun ? 'would delete' : 'deleted'} ${count(c.deleted)}, locked ${count(c.locked)} ` +
      `(deleted once unreferenced for ${formatInterval(c.graceMs)})`,
  ];
}

export const pruneCommand: Command = {
  async run(argv) {
    const parsed = parseCommandArgs(argv, help, { all: { type: 'boolean' }, 'dry-run': { type: 'boolean' } });
    if (!parsed) return 0;
    const { values, positionals } = parsed;
    const config = await loadCliConfig(values.config);
    const definitions = selectDefinitions(config, positionals, values.all ?? false);
    const client = await connectClient(config.temporal);
    let failed = 0;
    try {
      await requireWorkers(
        client,
        config.temporal.taskQueue,
        definitions.map((def) => buildPlan(config, def)),
      );
      for (const def of definitions) {
        const base = buildPlan(config, def);
        const plan: PrunePlan = {
          definition: base.definition,
          host: base.host,
          activityTaskQueue: base.activityTaskQueue,
          target: base.target,
          retention: base.retention ?? {},
          timeZone: base.timeZone ?? 'UTC',
          dryRun: values['dry-run'] ?? false,
        };
        const workflowId = backupWorkflowId(def.name, new Date(), 'prune');
        const url = workflowUrl(config.temporal.uiUrl, config.temporal.namespace, workflowId);
        try {
          const result = await client.workflow.execute<typeof pruneWorkflow>('pruneWorkflow', {
            taskQueue: config.temporal.taskQueue,
            workflowId,
            args: [plan],
            typedSearchAttributes: [
              { key: definitionKey, value: plan.definition },
              { key: typeKey, value: def.type },
              { key: hostKey, value: plan.host },
            ],
            staticSummary: `prune of ${plan.definition}${plan.dryRun ? ' (dry run)' : ''} on ${plan.host}`,
          });
          for (const line of formatPruneResult(result)) console.log(line);
          const problems =
            result.warnings.length +
            result.backups.filter((b) => b.action === 'failed').length +
            result.leftovers.filter((l) => l.action === 'failed').length;
          if (problems > 0) failed++;
        } catch (err) {
          let message = String(err);
          for (let e: unknown = err; e instanceof Error; e = e.cause) if (e.message) message = e.message;
          console.log(`FAILED ${def.name}: ${message}\n       ${url}`);
          failed++;
        }
      }
    } finally {
      await client.connection.close();
    }
    return failed === 0 ? 0 : 1;
  },
};
