import { fail, redirect } from '@sveltejs/kit';
import { parseJsonText } from '$lib/schemas/storable';
import { z } from 'zod';
import {
	workflowDefinitionSchema,
	type DefinitionProblem,
	type InputField
} from '$lib/schemas/workflow';
import { runFormAction, requirePrincipal } from '$lib/server/http/forms';
import { orHttpError } from '$lib/server/http/load-error';
import { roleAtLeast } from '$lib/server/policy';
import { DefinitionError, ServiceError } from '$lib/server/errors';
import { startWorkflowRun } from '$lib/server/services/runs';
import {
	diffVersions,
	getVersion,
	getWorkflow,
	listVersions,
	publishVersion,
	saveVersion,
	validateWorkflowDefinition
} from '$lib/server/services/workflows';
import { getWorkspace } from '$lib/server/services/workspaces';
import { outlineDefinition, parseDefinitionText } from './definition-outline';
import type { Actions, PageServerLoad } from './$types';

// The editor form has two buttons (check, save) that send their name as `intent`.
const editorSchema = z.object({
	intent: z.enum(['check', 'save']),
	definition: z.string({ error: 'Required.' }).max(500_000, 'The definition is too large.'),
	note: z.string().trim().max(500, 'Use at most 500 characters.').default(''),
	publish: z.literal('on').optional()
});
const editorEcho = ['intent', 'definition', 'note', 'publish'];

const versionSchema = z.coerce.number({ error: 'Pick a version.' }).int().min(1, 'Pick a version.');
const publishSchema = z.object({ version: versionSchema });
const runSchema = z.object({
	version: versionSchema,
	input: z.string().max(100_000, 'The input is too large.').default('')
});

const zeroOf: Record<InputField['type'], unknown> = {
	string: '',
	number: 0,
	boolean: false,
	object: {},
	array: []
};

/** What the run form starts with: each required field and each field with a default. */
function sampleInput(fields: readonly InputField[]): Record<string, unknown> {
	return Object.fromEntries(
		fields
			.filter((field) => field.required || field.default !== undefined)
			.map((field) => [field.name, field.default ?? zeroOf[field.type]])
	);
}

/**
 * The stored definition as the editor shows it. jsonb keeps keys in its own order ("to" before
 * "from"); parsing again puts them in the schema's order: inputs, nodes, edges; id, kind, config.
 */
function editorText(definition: unknown): string {
	const parsed = workflowDefinitionSchema.safeParse(definition);
	return JSON.stringify(parsed.success ? parsed.data : definition, null, 2);
}

function positiveInt(value: string | null): number | null {
	const number = Number(value);
	return value !== null && Number.isInteger(number) && number > 0 ? number : null;
}

export const load: PageServerLoad = async (event) => {
	const principal = requirePrincipal(event);
	const services = event.locals.runtime.services;
	const { id, workflowId } = event.params;
	const [workspace, detail, versions] = await Promise.all([
		orHttpError(getWorkspace(services, principal, id)),
		orHttpError(getWorkflow(services, principal, id, workflowId)),
		orHttpError(listVersions(services, principal, id, workflowId))
	]);
	const { workflow, latest, published } = detail;
	// Runs start on the published version unless the form names another.
	const runNumber = published ?? workflow.latestVersion;
	const runVersion =
		runNumber === latest?.number
			? latest
			: await orHttpError(getVersion(services, principal, id, workflowId, runNumber));

	const from = positiveInt(event.url.searchParams.get('from'));
	const to = positiveInt(event.url.searchParams.get('to'));
	let diff = null;
	if (from !== null && to !== null) {
		try {
			diff = await diffVersions(services, principal, id, workflowId, from, to);
		} catch (error) {
			if (!(error instanceof ServiceError)) throw error;
			diff = { from, to, error: error.message };
		}
	}

	return {
		workspace: { id: workspace.id, name: workspace.name },
		workflow: {
			id: workflow.id,
			name: workflow.name,
			description: workflow.description,
			latestVersion: workflow.latestVersion,
			publishedVersion: published
		},
		canEdit: roleAtLeast(detail.role, 'editor'),
		canRun: roleAtLeast(detail.role, 'editor'),
		definitionText: latest ? editorText(latest.definition) : '',
		outline: outlineDefinition(latest?.definition, []),
		saved: positiveInt(event.url.searchParams.get('saved')),
		versions: versions.map((version) => ({
			number: version.number,
			note: version.note,
			createdAt: version.createdAt
		})),
		diff,
		run: {
			version: runNumber,
			inputs: runVersion.definition.inputs,
			inputText: JSON.stringify(sampleInput(runVersion.definition.inputs), null, 2)
		}
	};
};

function editorResult(
	data: z.infer<typeof editorSchema>,
	definition: unknown,
	problems: DefinitionProblem[]
) {
	const values: Record<string, string> = {
		intent: data.intent,
		definition: data.definition,
		note: data.note,
		publish: data.publish ?? ''
	};
	return {
		editor: {
			intent: data.intent,
			problemCount: problems.length,
			outline: outlineDefinition(definition, problems)
		},
		values
	};
}

export const actions: Actions = {
	check: (event) =>
		runFormAction(event, editorSchema, editorEcho, async (c) => {
			const parsed = parseDefinitionText(c.data.definition);
			if (!parsed.ok) return editorResult(c.data, null, [parsed.problem]);
			const problems = await validateWorkflowDefinition(
				c.services,
				c.principal,
				event.params.id,
				event.params.workflowId,
				parsed.value
			);
			return editorResult(c.data, parsed.value, problems);
		}),
	save: (event) =>
		runFormAction(event, editorSchema, editorEcho, async (c) => {
			const { id, workflowId } = event.params;
			const parsed = parseDefinitionText(c.data.definition);
			if (!parsed.ok) {
				const message = 'The definition is not valid JSON.';
				return fail(400, { message, ...editorResult(c.data, null, [parsed.problem]) });
			}
			let version;
			try {
				version = await saveVersion(
					c.services,
					c.principal,
					id,
					workflowId,
					{ definition: parsed.value, note: c.data.note, publish: c.data.publish === 'on' },
					c.meta
				);
			} catch (error) {
				if (!(error instanceof DefinitionError)) throw error;
				const result = editorResult(c.data, parsed.value, error.problems);
				return fail(400, { message: `${error.message} Nothing was saved.`, ...result });
			}
			redirect(303, `/workspaces/${id}/workflows/${workflowId}?saved=${version.number}`);
		}),
	publish: (event) =>
		runFormAction(event, publishSchema, ['intent', 'version'], async (c) => {
			const { id, workflowId } = event.params;
			const version = c.data.version;
			await publishVersion(c.services, c.principal, id, workflowId, version, c.meta);
			return { published: version };
		}),
	run: (event) =>
		runFormAction(event, runSchema, ['intent', 'version', 'input'], async (c) => {
			const values: Record<string, string> = {
				intent: 'run',
				version: String(c.data.version),
				input: c.data.input
			};
			let input: unknown = {};
			if (c.data.input.trim() !== '') {
				const parsed = parseJsonText(c.data.input);
				if (!parsed.ok) {
					return fail(400, {
						message: 'The input is not valid.',
						fields: { input: parsed.message },
						values
					});
				}
				input = parsed.value;
			}
			const { run } = await startWorkflowRun(
				c.services,
				c.principal,
				event.params.id,
				{ workflowId: event.params.workflowId, input, version: c.data.version },
				c.meta
			);
			redirect(303, `/workspaces/${event.params.id}/runs/${run.id}`);
		})
};
