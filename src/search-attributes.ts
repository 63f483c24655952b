import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Typed search attributes on every dockvault workflow, so the Web UI and `temporal workflow list` can filter. */
export const definitionKey = defineSearchAttributeKey('DockvaultDefinition', SearchAttributeType.KEYWORD);
export const typeKey = defineSearchAttributeKey('DockvaultType', SearchAttributeType.KEYWORD);
export const hostKey = defineSearchAttributeKey('DockvaultHost', SearchAttributeType.KEYWORD);
