import type { WorkspaceRole } from './db/schema/index.ts';
import type { ApiScope, Principal } from './principal.ts';

const rank: Record<WorkspaceRole, number> = { viewer: 1, editor: 2, admin: 3, owner: 4 };

/** Every action, the least role that may do it in a workspace, and the token scope it needs. */
const workspaceActions = {
	'workspace.read': { role: 'viewer', scope: 'read' },
	'workspace.update': { role: 'admin', scope: 'admin' },
	'members.read': { role: 'viewer', scope: 'read' },
	'members.invite': { role: 'admin', scope: 'admin' },
	'members.manage': { role: 'admin', scope: 'admin' },
	'members.leave': { role: 'viewer', scope: 'write' },
	'workflows.read': { role: 'viewer', scope: 'read' },
	'workflows.write': { role: 'editor', scope: 'write' },
	'workflows.run': { role: 'editor', scope: 'run' },
	'approvals.decide': { role: 'editor', scope: 'run' },
	// Names and settings only: no role ever reads a secret back. Editors manage credentials because
	// the workflows they edit can use them anyway.
	'credentials.read': { role: 'viewer', scope: 'read' },
	'credentials.manage': { role: 'editor', scope: 'write' },
	// Custom tools are code that runs in the sandbox, like a workflow's code steps: editors write them.
	'tools.read': { role: 'viewer', scope: 'read' },
	'tools.manage': { role: 'editor', scope: 'write' },
	// Providers and agents spend the workspace's money, but so do the workflows editors already run;
	// the budget that caps it is the admins'.
	'providers.read': { role: 'viewer', scope: 'read' },
	'providers.manage': { role: 'editor', scope: 'write' },
	'agents.read': { role: 'viewer', scope: 'read' },
	'agents.manage': { role: 'editor', scope: 'write' },
	'usage.read': { role: 'viewer', scope: 'read' },
	'budget.manage': { role: 'admin', scope: 'admin' }
} as const satisfies Record<string, { role: WorkspaceRole; scope: ApiScope }>;

const instanceActions = {
	'instance.settings': { scope: 'admin' },
	'instance.users': { scope: 'admin' },
	'instance.audit': { scope: 'admin' },
	'instance.prices': { scope: 'admin' }
} as const satisfies Record<string, { scope: ApiScope }>;

export type WorkspaceAction = keyof typeof workspaceActions;
export type InstanceAction = keyof typeof instanceActions;
export type Action = WorkspaceAction | InstanceAction;

/** The acting principal's standing in one workspace (null: not a member). */
export type WorkspaceResource = { workspaceId: string; role: WorkspaceRole | null };

/**
 * The one authorization decision. Roles are read live from the membership, so a token can never
 * do more than its owner can do now; its scopes can only narrow that.
 */
export function can(
	principal: Principal,
	action: WorkspaceAction,
	resource: WorkspaceResource
): boolean;
export function can(principal: Principal, action: InstanceAction, resource: 'instance'): boolean;
export function can(
	principal: Principal,
	action: Action,
	resource: WorkspaceResource | 'instance'
): boolean {
	if (principal.user.status !== 'active') return false;
	if (resource === 'instance') {
		const rule = instanceActions[action as InstanceAction];
		return rule !== undefined && principal.user.isInstanceAdmin && hasScope(principal, rule.scope);
	}
	const rule = workspaceActions[action as WorkspaceAction];
	if (rule === undefined || resource.role === null) return false;
	return rank[resource.role] >= rank[rule.role] && hasScope(principal, rule.scope);
}

export function roleAtLeast(role: WorkspaceRole, least: WorkspaceRole): boolean {
	return rank[role] >= rank[least];
}

/**
 * Whether a member with `grantorRole` (null: no longer a member) may invite someone to `role`: they
 * need the role that invites, and cannot grant above their own. An invite holds only while this
 * stays true of its issuer.
 */
export function mayGrantRole(grantorRole: WorkspaceRole | null, role: WorkspaceRole): boolean {
	return (
		grantorRole !== null &&
		roleAtLeast(grantorRole, workspaceActions['members.invite'].role) &&
		roleAtLeast(grantorRole, role)
	);
}

/**
 * Whether a member with `role` (null: no longer a member) may do `action` by their role alone: for
 * work done on their behalf later, such as an agent's tool calls in a run they started.
 */
export function roleMay(role: WorkspaceRole | null, action: WorkspaceAction): boolean {
	return role !== null && roleAtLeast(role, workspaceActions[action].role);
}

export const workspaceActionNames = Object.keys(workspaceActions) as WorkspaceAction[];
export const instanceActionNames = Object.keys(instanceActions) as InstanceAction[];

/** For actions on the principal's own account, outside any workspace: a token needs the scope. */
export function hasScope(principal: Principal, scope: ApiScope): boolean {
	return principal.kind === 'session' || principal.scopes.includes(scope);
}
