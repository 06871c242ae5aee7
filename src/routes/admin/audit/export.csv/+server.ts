import { problem, problemFromError } from '$lib/server/http/problem';
import { requirePrincipal } from '$lib/server/http/forms';
import { exportAuditCsv, listAudit } from '$lib/server/services/audit';
import { readAuditFilters } from '$lib/schemas/audit';
import type { RequestHandler } from './$types';

/** The audit entries matching the page's filters (newest first, at most 10,000) as a CSV download. */
export const GET: RequestHandler = async (event) => {
	const principal = requirePrincipal(event);
	const services = event.locals.runtime.services;
	const filters = readAuditFilters(event.url.searchParams);
	let csv: string;
	try {
		if (!filters.ok) {
			// Non-admins get 403 whatever they send.
			await listAudit(services, principal, { limit: 1 });
			return problem(400, 'invalid', 'The filters are not valid.', { errors: filters.fields });
		}
		csv = await exportAuditCsv(services, principal, filters.query);
	} catch (error) {
		return problemFromError(error);
	}
	return new Response(csv, {
		headers: {
			'content-type': 'text/csv; charset=utf-8',
			'content-disposition': 'attachment; filename="awe-audit.csv"',
			'cache-control': 'no-store'
		}
	});
};
