import { json } from '@sveltejs/kit';
import { auditQuerySchema } from '$lib/schemas/audit';
import { api } from '$lib/server/http/api';
import { listAudit } from '$lib/server/services/audit';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => {
		const query = auditQuerySchema.parse(Object.fromEntries(event.url.searchParams));
		return json(await listAudit(services, principal, query));
	});
