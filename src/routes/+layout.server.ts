import { listMyWorkspaces } from '$lib/server/services/workspaces';
import type { LayoutServerLoad } from './$types';

/** What every page may show about the visitor: nothing secret, nothing when anonymous. */
export const load: LayoutServerLoad = async ({ locals }) => {
	const principal = locals.principal;
	if (principal?.kind !== 'session' || !principal.session.twoFactorVerified) {
		return { user: null, workspace: null, workspaces: [] };
	}
	const { id, name, email, isInstanceAdmin } = principal.user;
	const workspaces = await listMyWorkspaces(locals.runtime.services, principal);
	const active =
		workspaces.find((workspace) => workspace.id === principal.session.activeWorkspaceId) ??
		workspaces[0] ??
		null;
	return {
		user: { id, name, email, isInstanceAdmin },
		workspace: active && { id: active.id, name: active.name, role: active.role },
		// For the top bar: its links follow the workspace a page is about, and it switches between them.
		workspaces: workspaces.map((workspace) => ({ id: workspace.id, name: workspace.name }))
	};
};
