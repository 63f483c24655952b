// Webhook bodies: generic JSON (every field, for scripts and alert routers) and Slack-compatible
// `{ text, blocks }` (also accepted by Mattermost and Rocket.Chat incoming webhooks).
import { toolVersion } from '../version.ts';
import { isRunSummary, type Notice, type RunSummaryNotice } from './outcome.ts';

export interface NoticeContext {
  /** Link to the run in the Temporal Web UI (absent for stale notices). */
  workflowUrl?: string | undefined;
}

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}

function durationText(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 120 ? `${m}m${s % 60 ? `${s % 60}s` : ''}` : `${Math.floor(m / 60)}h${m % 60}m`;
}

export function jsonPayload(notice: Notice, ctx: NoticeContext): Record<string, unknown> {
  const base = { tool: 'dockvault', version: toolVersion, ...notice };
  if (isRunSummary(notice)) {
    const durationMs = Date.parse(notice.finishedAt) - Date.parse(notice.startedAt);
    return { ...base, durationSeconds: seconds(durationMs), workflowUrl: ctx.workflowUrl };
  }
  if (notice.event === 'stale') {
    return { ...base, staleAfterSeconds: seconds(notice.staleAfterMs) };
  }
  const durationMs = Date.parse(notice.finishedAt) - Date.parse(notice.startedAt);
  return {
    ...base,
    durationSeconds: seconds(durationMs),
    ...(notice.downtimeMs === undefined ? {} : { downtimeSeconds: seconds(notice.downtimeMs) }),
    workflowUrl: ctx.workflowUrl,
  };
}

/** One line that says it all, used as Slack's `text` (notification preview) and in logs. */
export function summaryLine(notice: Notice): string {
  if (isRunSummary(notice)) return runSummaryLine(notice);
  const who = `${notice.type} backup "${notice.definition}" on ${notice.host}`;
  if (notice.event === 'stale') {
    const last = notice.lastSuccessAt ? `last success ${notice.lastSuccessAt}` : 'no successful backup yet';
    return `dockvault: ${who} is STALE: ${last} (expected within ${durationText(notice.staleAfterMs)})`;
  }
  const took = durationText(Date.parse(notice.finishedAt) - Date.parse(notice.startedAt));
  if (notice.event === 'failure')
    return `dockvault: ${who} FAILED after ${took}: ${notice.error ?? 'unknown error'}`;
  return `dockvault: ${who} succeeded in ${took} (backup ${notice.backupId})`;
}

function runSummaryLine(notice: RunSummaryNotice): string {
  const took = durationText(Date.parse(notice.finishedAt) - Date.parse(notice.startedAt));
  const counts = `${notice.ok} ok, ${notice.failed} failed`;
  if (notice.event === 'success') return `dockvault: backup run of ${notice.label}: ${counts} in ${took}`;
  const failed = notice.definitions.filter((d) => d.status !== 'ok').map((d) => d.definition);
  return `dockvault: backup run of ${notice.label} FAILED: ${counts} in ${took} (failed: ${failed.join(', ')})`;
}

/** Per definition: "site on local: OK (backup 2026...)" or "db on local: FAILED: why". */
function runSummaryDetails(notice: RunSummaryNotice): string[] {
  return notice.definitions.map((d) => {
    const where = `${d.definition} on ${d.host}`;
    if (d.status === 'ok') return `${where}: OK (backup ${d.backupId ?? '?'})`;
    if (d.status === 'not started') return `${where}: NOT STARTED${d.error ? `: ${d.error}` : ''}`;
    return `${where}: FAILED: ${d.error ?? 'unknown error'}`;
  });
}

function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function slackPayload(notice: Notice, ctx: NoticeContext): { text: string; blocks: unknown[] } {
  const text = summaryLine(notice);
  if (isRunSummary(notice)) {
    const blocks: unknown[] = [
      { type: 'section', text: { type: 'mrkdwn', text: escapeSlack(text) } },
      {
        type: 'section',
        text: { type: 'mrkdwn', text: escapeSlack(runSummaryDetails(notice).join('\n').slice(0, 2900)) },
      },
    ];
    if (ctx.workflowUrl) {
      blocks.push({
        type: 'context',
        elements: [{ type: 'mrkdwn', text: `<${ctx.workflowUrl}|Open the run in the Temporal Web UI>` }],
      });
    }
    return { text: ctx.workflowUrl ? `${text} ${ctx.workflowUrl}` : text, blocks };
  }
  const fields: string[] = [`*Definition:* ${notice.definition}`, `*Host:* ${notice.host}`];
  if (notice.event !== 'stale') {
    fields.push(`*Backup:* ${notice.backupId}`);
    fields.push(`*Duration:* ${durationText(Date.parse(notice.finishedAt) - Date.parse(notice.startedAt))}`);
    if (notice.downtimeMs !== undefined) fields.push(`*Downtime:* ${durationText(notice.downtimeMs)}`);
  }
  const blocks: unknown[] = [
    { type: 'section', text: { type: 'mrkdwn', text: escapeSlack(text) } },
    { type: 'section', fields: fields.map((f) => ({ type: 'mrkdwn', text: escapeSlack(f) })) },
  ];
  if (notice.event === 'failure' && notice.error) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: `\`\`\`${escapeSlack(notice.error.slice(0, 2800))}\`\`\`` },
    });
  }
  if (ctx.workflowUrl) {
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `<${ctx.workflowUrl}|Open the run in the Temporal Web UI>` }],
    });
  }
  return { text: ctx.workflowUrl ? `${text} ${ctx.workflowUrl}` : text, blocks };
}
