import { describe, expect, it } from 'vitest';
import type { ApiToken, Session, User } from './db/schema/index.ts';
import {
	can,
	instanceActionNames,
	mayGrantRole,
	workspaceActionNames,
	type WorkspaceAction
} from './policy.ts';
import type { ApiScope, Principal } from './principal.ts';

const user = { id: 'u', status: 'active', isInstanceAdmin: false } as User;
const session = (overrides: Partial<User> = {}): Principal => ({
	kind: 'session',
	user: { ...user, ...overrides },
	session: {} as Session
});
const token = (scopes: ApiScope[], overrides: Partial<User> = {}): Principal => ({
	kind: 'token',
	user: { ...user, ...overrides },
	token: {} as ApiToken,
	scopes
});

const roles = ['viewer', 'editor', 'admin', 'owner'] as const;

// The expected matrix, written out by hand: the least role for each action.
const leastRole: Record<WorkspaceAction, (typeof roles)[number]> = {
	'workspace.read': 'viewer',
	'workspace.update': 'admin',
	'members.read': 'viewer',
	'members.invite': 'admin',
	'members.manage': 'admin',
	'members.leave': 'viewer',
	'workflows.read': 'viewer',
	'workflows.write': 'editor',
	'workflows.run': 'editor',
	'approvals.decide': 'editor',
	'credentials.read': 'viewer',
	'credentials.manage': 'editor',
	'tools.read': 'viewer',
	'tools.manage': 'editor',
	'providers.read': 'viewer',
	'providers.manage': 'editor',
	'agents.read': 'viewer',
	'agents.manage': 'editor',
	'usage.read': 'viewer',
	'budget.manage': 'admin'
};

describe('can()', () => {
	it('covers every workspace action in the expected matrix', () => {
		expect(Object.keys(leastRole).sort()).toEqual([...workspaceActionNames].sort());
	});

	it.each(workspaceActionNames)(
		'%s: allowed from its least role upwards, never to non-members',
		(action) => {
			for (const role of roles) {
				const allowed = roles.indexOf(role) >= roles.indexOf(leastRole[action]);
				expect(can(session(), action, { workspaceId: 'w', role })).toBe(allowed);
			}
			expect(can(session(), action, { workspaceId: 'w', role: null })).toBe(false);
			expect(
				can(session({ status: 'disabled' }), action, { workspaceId: 'w', role: 'owner' })
			).toBe(false);
		}
	);

	it('lets token scopes narrow, never widen, what the role allows', () => {
		expect(can(token(['read']), 'workspace.read', { workspaceId: 'w', role: 'owner' })).toBe(true);
		expect(can(token(['read']), 'workflows.write', { workspaceId: 'w', role: 'owner' })).toBe(
			false
		);
		expect(can(token(['write']), 'workflows.write', { workspaceId: 'w', role: 'editor' })).toBe(
			true
		);
		expect(can(token(['run']), 'workflows.run', { workspaceId: 'w', role: 'viewer' })).toBe(false);
		expect(can(token(['admin']), 'members.manage', { workspaceId: 'w', role: 'editor' })).toBe(
			false
		);
		expect(
			can(token(['read', 'write', 'run', 'admin']), 'members.manage', {
				workspaceId: 'w',
				role: 'admin'
			})
		).toBe(true);
	});

	it.each(instanceActionNames)(
		'%s: instance admins only, and tokens need the admin scope',
		(action) => {
			expect(can(session(), action, 'instance')).toBe(false);
			expect(can(session({ isInstanceAdmin: true }), action, 'instance')).toBe(true);
			expect(
				can(token(['read', 'write', 'run'], { isInstanceAdmin: true }), action, 'instance')
			).toBe(false);
			expect(can(token(['admin'], { isInstanceAdmin: true }), action, 'instance')).toBe(true);
		}
	);
});

describe('mayGrantRole()', () => {
	// Written out by hand: who may invite to which role.
	const grants: Record<(typeof roles)[number], (typeof roles)[number][]> = {
		owner: ['viewer', 'editor', 'admin', 'owner'],
		admin: ['viewer', 'editor', 'admin'],
		editor: [],
		viewer: []
	};

	it.each(roles)('an %s grants exactly the roles in the matrix', (grantor) => {
		for (const role of roles)
			expect(mayGrantRole(grantor, role)).toBe(grants[grantor].includes(role));
	});

	it('someone who is no longer a member grants nothing', () => {
		for (const role of roles) expect(mayGrantRole(null, role)).toBe(false);
	});
});
