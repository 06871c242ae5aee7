import { json } from '@sveltejs/kit';
import { exportQuerySchema } from '$lib/schemas/engine-api';
import { api } from '$lib/server/http/api';
import { parseParameters } from '$lib/server/http/problem';
import { exportWorkflow } from '$lib/server/services/workflows';
import type { RequestHandler } from './$types';

/** `?version=n` (the latest when absent), as a file to download and import elsewhere. */
export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => {
		const { id, workflowId } = event.params;
		const { version } = parseParameters(exportQuerySchema, event.url.searchParams);
		const exported = await exportWorkflow(services, principal, id, workflowId, version);
		const slug = exported.name
			.toLowerCase()
			.replace(/[^a-z0-9]+/g, '-')
			.replace(/^-|-$/g, '');
		return json(exported, {
			headers: { 'content-disposition': `attachment; filename="${slug || 'workflow'}.awe.json"` }
		});
	});
