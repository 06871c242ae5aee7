import { fail } from '@sveltejs/kit';
import { parseJsonText } from '$lib/schemas/storable';
import { z } from 'zod';
import { createTriggerSchema } from '$lib/schemas/triggers';
import type { InputField } from '$lib/schemas/workflow';
import { requirePrincipal, runFormAction } from '$lib/server/http/forms';
import { orHttpError } from '$lib/server/http/load-error';
import { roleAtLeast } from '$lib/server/policy';
import {
	createTrigger,
	deleteTrigger,
	listTriggers,
	rotateTriggerSecret,
	updateTrigger,
	type TriggerWithSecret
} from '$lib/server/services/triggers';
import { getVersion, getWorkflow } from '$lib/server/services/workflows';
import { getWorkspace } from '$lib/server/services/workspaces';
import type { Actions, PageServerLoad } from './$types';

// Both create forms post here; `kind` says which fields count. Everything is checked by the
// shared trigger schema, whose field errors are named after the form field (`config.cron` → `cron`).
const createFormSchema = z.object({
	kind: z.enum(['webhook', 'schedule'], { error: 'Choose webhook or schedule.' }),
	name: z.string().default(''),
	auth: z.string().default('token'),
	respond: z.string().default('accepted'),
	rateLimitPerSecond: z.string().default(''),
	cron: z.string().default(''),
	timezone: z.string().default('UTC'),
	missed: z.string().default('run-once'),
	input: z.string().max(65_536, 'Keep the input under 64 KiB.').default('')
});
const createEcho = [
	'intent',
	'kind',
	'name',
	'auth',
	'respond',
	'rateLimitPerSecond',
	'cron',
	'timezone',
	'missed',
	'input'
];
const triggerSchema = z.object({ triggerId: z.string({ error: 'Required.' }).min(1) });
const toggleSchema = triggerSchema.extend({ enabled: z.enum(['true', 'false']) });
const limitSchema = triggerSchema.extend({ rateLimitPerSecond: z.string().default('') });

/** A number from a form field, blank for none; the schema says what is wrong with it (NaN too). */
const formNumber = (text: string): number | undefined =>
	text.trim() === '' ? undefined : Number(text.trim());

const exampleOf: Record<InputField['type'], unknown> = {
	string: 'text',
	number: 1,
	boolean: true,
	object: {},
	array: []
};

/** A body for the curl examples: the published version's required fields and those with defaults. */
function exampleBody(fields: readonly InputField[]): string {
	const example = fields
		.filter((field) => field.required || field.default !== undefined)
		.map((field) => [field.name, field.default ?? exampleOf[field.type]]);
	return JSON.stringify(Object.fromEntries(example));
}

export const load: PageServerLoad = async (event) => {
	const principal = requirePrincipal(event);
	const services = event.locals.runtime.services;
	const { id, workflowId } = event.params;
	const [workspace, detail, triggers] = await Promise.all([
		orHttpError(getWorkspace(services, principal, id)),
		orHttpError(getWorkflow(services, principal, id, workflowId)),
		orHttpError(listTriggers(services, principal, id, workflowId))
	]);
	const { latest, published } = detail;
	const version =
		published === null || published === latest?.number
			? latest
			: await orHttpError(getVersion(services, principal, id, workflowId, published));
	return {
		workspace: { id: workspace.id, name: workspace.name },
		workflow: {
			id: detail.workflow.id,
			name: detail.workflow.name,
			published: published !== null,
			exampleBody: exampleBody(version?.definition.inputs ?? [])
		},
		canEdit: roleAtLeast(detail.role, 'editor'),
		triggers
	};
};

/** What the page shows once after a secret is issued: it cannot be read back later. */
function issued({ trigger, secret }: TriggerWithSecret) {
	return {
		issued: {
			id: trigger.id,
			name: trigger.name,
			kind: trigger.kind,
			auth: trigger.kind === 'webhook' ? trigger.config.auth : null,
			path: trigger.path,
			secret
		}
	};
}

export const actions: Actions = {
	create: (event) =>
		runFormAction(event, createFormSchema, createEcho, async (c) => {
			const form = c.data;
			const values: Record<string, string> = { intent: `create-${form.kind}`, ...form };
			let input: unknown = {};
			if (form.kind === 'schedule' && form.input.trim() !== '') {
				const parsed = parseJsonText(form.input);
				if (!parsed.ok) {
					const fields: Record<string, string> = { input: parsed.message };
					return fail(400, { message: 'The input is not valid.', fields, values });
				}
				input = parsed.value;
			}
			const parsed = createTriggerSchema.safeParse({
				kind: form.kind,
				name: form.name,
				config:
					form.kind === 'webhook'
						? {
								auth: form.auth,
								respond: form.respond,
								rateLimitPerSecond: formNumber(form.rateLimitPerSecond)
							}
						: { cron: form.cron, timezone: form.timezone, missed: form.missed, input }
			});
			if (!parsed.success) {
				const fields: Record<string, string> = {};
				for (const issue of parsed.error.issues)
					fields[String(issue.path.at(-1))] ??= issue.message;
				return fail(400, { message: 'Please correct the highlighted fields.', fields, values });
			}
			const { id, workflowId } = event.params;
			return issued(
				await createTrigger(c.services, c.principal, id, workflowId, parsed.data, c.meta)
			);
		}),
	toggle: (event) =>
		runFormAction(event, toggleSchema, ['intent', 'triggerId'], async (c) => {
			const { id, workflowId } = event.params;
			const enabled = c.data.enabled === 'true';
			const patch = { enabled };
			await updateTrigger(c.services, c.principal, id, workflowId, c.data.triggerId, patch, c.meta);
			return { toggled: { triggerId: c.data.triggerId, enabled } };
		}),
	limit: (event) =>
		runFormAction(event, limitSchema, ['intent', 'triggerId', 'rateLimitPerSecond'], async (c) => {
			const { id, workflowId } = event.params;
			const rateLimitPerSecond = formNumber(c.data.rateLimitPerSecond);
			if (rateLimitPerSecond === undefined) {
				const values: Record<string, string> = { ...c.data, intent: 'limit' };
				const fields: Record<string, string> = { rateLimitPerSecond: 'Required.' };
				const message = 'Give a number of calls a second, or 0 for no limit.';
				return fail(400, { message, fields, values });
			}
			const patch = { config: { rateLimitPerSecond } };
			await updateTrigger(c.services, c.principal, id, workflowId, c.data.triggerId, patch, c.meta);
			return { limited: { triggerId: c.data.triggerId, rateLimitPerSecond } };
		}),
	rotate: (event) =>
		runFormAction(event, triggerSchema, ['intent', 'triggerId'], async (c) => {
			const { id, workflowId } = event.params;
			const triggerId = c.data.triggerId;
			return issued(
				await rotateTriggerSecret(c.services, c.principal, id, workflowId, triggerId, c.meta)
			);
		}),
	delete: (event) =>
		runFormAction(event, triggerSchema, ['intent', 'triggerId'], async (c) => {
			const { id, workflowId } = event.params;
			await deleteTrigger(c.services, c.principal, id, workflowId, c.data.triggerId, c.meta);
			return { deleted: true };
		})
};
