import { z } from 'zod';
import { builtInToolNames, createAgentSchema, type AgentTool } from '$lib/schemas/agents';
import { parseInto } from '$lib/schemas/parse-into';
import { parseJsonText } from '$lib/schemas/storable';

/**
 * The agent form sends text fields and one checkbox per tool (`builtin:<name>`, `custom:<id>`,
 * `workflow:<id>`, with `approve:<name>` / `approveWorkflow:<id>` beside them) and numbered host
 * rows (`host:<n>`, `hostCredential:<n>`) for http_request. They become the API's shape here; then
 * createAgentSchema decides, as for the API.
 */

/** How many empty host rows the form offers beyond the stored ones. */
export const spareHostRows = 2;

const blankToNull = (value: string | undefined) =>
	value === undefined || value.trim() === '' ? null : value.trim();
const numberOr = <T>(value: string | undefined, absent: T) =>
	value === undefined || value.trim() === '' ? absent : Number(value);

function jsonOrNull(text: string | undefined, field: string, context: z.RefinementCtx): unknown {
	if (text === undefined || text.trim() === '') return null;
	const parsed = parseJsonText(text);
	if (parsed.ok) return parsed.value;
	context.addIssue({ code: 'custom', path: [field], message: parsed.message });
	return null;
}

/** The ids after a prefix, in the order the form sent them. */
function idsAfter(form: Record<string, string>, prefix: string): string[] {
	return Object.keys(form)
		.filter((key) => key.startsWith(prefix) && form[key] === 'on')
		.map((key) => key.slice(prefix.length));
}

function toolsOf(form: Record<string, string>): AgentTool[] {
	const hosts = Object.keys(form)
		.filter((key) => key.startsWith('host:'))
		.map((key) => key.slice('host:'.length))
		.flatMap((row) => {
			const host = form[`host:${row}`]?.trim() ?? '';
			const credentialId = form[`hostCredential:${row}`] ?? '';
			return host === '' && credentialId === '' ? [] : [{ host, credentialId }];
		});
	const builtIns = builtInToolNames
		.filter((name) => form[`builtin:${name}`] === 'on')
		.map((name): AgentTool => ({
			type: 'builtin',
			name,
			requiresApproval: form[`approve:${name}`] === 'on',
			credentials: name === 'http_request' ? hosts : []
		}));
	const custom = idsAfter(form, 'custom:').map((toolId): AgentTool => ({ type: 'custom', toolId }));
	const workflows = idsAfter(form, 'workflow:').map((workflowId): AgentTool => ({
		type: 'workflow',
		workflowId,
		requiresApproval: form[`approveWorkflow:${workflowId}`] === 'on'
	}));
	return [...builtIns, ...custom, ...workflows];
}

// A field sent twice is refused rather than guessed at.
const agentForm = z.record(z.string(), z.string({ error: 'Send each field once.' }));

/** The whole agent: the edit form sends every field too, so it saves the same shape. */
export const agentFormSchema = agentForm.transform((form, context) => {
	const input = {
		name: form.name ?? '',
		description: form.description ?? '',
		instructions: form.instructions ?? '',
		providerId: form.providerId ?? '',
		model: blankToNull(form.model),
		temperature: numberOr(form.temperature, null),
		tools: toolsOf(form),
		limits: {
			maxTurns: numberOr(form.maxTurns, undefined),
			maxTokens: numberOr(form.maxTokens, undefined),
			maxCostUsd: numberOr(form.maxCostUsd, undefined)
		},
		outputSchema: jsonOrNull(form.outputSchema, 'outputSchema', context)
	};
	return {
		agentId: form.agentId ?? '',
		// The limits are fields of their own on the form.
		agent: parseInto(createAgentSchema, input, context, (path) =>
			path[0] === 'limits' ? path.slice(1) : path
		)
	};
});

export const deleteAgentFormSchema = z.object({
	agentId: z.string({ error: 'Required.' }).min(1, 'Required.').max(64)
});
