import { json } from '@sveltejs/kit';
import { testToolSchema } from '$lib/schemas/tools';
import { api, readJson } from '$lib/server/http/api';
import { testTool } from '$lib/server/services/tools';
import type { RequestHandler } from './$types';

// A tool that fails is a 200 with `ok: false`; input its schema refuses is a 400.
export const POST: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => {
		const { input } = await readJson(event.request, testToolSchema);
		const { id, toolId } = event.params;
		return json(await testTool(services, principal, id, toolId, input ?? {}));
	});
