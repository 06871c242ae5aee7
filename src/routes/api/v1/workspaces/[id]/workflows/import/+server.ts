import { json } from '@sveltejs/kit';
import { z } from 'zod';
import { api, readJson } from '$lib/server/http/api';
import { importWorkflow } from '$lib/server/services/workflows';
import type { RequestHandler } from './$types';

/** The body is an export as GET …/export produced it; the service parses it and executes nothing. */
export const POST: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const exported = await readJson(event.request, z.unknown());
		const workflow = await importWorkflow(services, principal, event.params.id, exported, meta);
		return json(workflow, { status: 201 });
	});
