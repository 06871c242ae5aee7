import { json } from '@sveltejs/kit';
import { readAuditFilters } from '$lib/schemas/audit';
import { api } from '$lib/server/http/api';
import { problem } from '$lib/server/http/problem';
import { listAudit } from '$lib/server/services/audit';
import type { RequestHandler } from './$types';

/** The same filters as the admin page: `action`, `actor` (user id), `from`/`to` (UTC days), `before` (id). */
export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => {
		const filters = readAuditFilters(event.url.searchParams);
		if (!filters.ok) {
			await listAudit(services, principal, { limit: 1 }); // non-admins get 403 whatever they send
			return problem(400, 'invalid', 'The filters are not valid.', { errors: filters.fields });
		}
		return json(await listAudit(services, principal, { ...filters.query, limit: 100 }));
	});
