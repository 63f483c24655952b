// Delivers one payload to one webhook. Errors name the webhook by index and host only: a webhook URL
// often carries its secret (Slack's do), so the full URL never reaches logs or Temporal.
import type { Notice } from './outcome.ts';
import { jsonPayload, slackPayload, type NoticeContext } from './payload.ts';

export interface WebhookTarget {
  url: string;
  format: 'json' | 'slack';
  on: ('failure' | 'success' | 'stale')[];
  staleAfter?: number | undefined;
}

class WebhookDeliveryError extends Error {
  override name = 'WebhookDeliveryError';
}

function webhookLabel(index: number, url: string): string {
  let host = '?';
  try {
    host = new URL(url).host;
  } catch {
    // validated by the config schema; keep the label anyway
  }
  return `webhook #${index + 1} (${host})`;
}

export async function deliverWebhook(
  webhook: WebhookTarget,
  index: number,
  notice: Notice,
  ctx: NoticeContext,
  timeoutMs = 10_000,
): Promise<void> {
  const body = webhook.format === 'slack' ? slackPayload(notice, ctx) : jsonPayload(notice, ctx);
  const label = webhookLabel(index, webhook.url);
  let res: Response;
  try {
    res = await fetch(webhook.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'dockvault' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    throw new WebhookDeliveryError(`${label}: request failed (${cause})`);
  }
  await res.body?.cancel();
  if (!res.ok) throw new WebhookDeliveryError(`${label}: answered HTTP ${res.status}`);
}
