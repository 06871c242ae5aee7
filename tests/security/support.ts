import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { ServiceError } from '../../src/lib/server/errors.ts';
import { TestClient, signUpViaForm, testPassword } from '../helpers/http-client.ts';

/** An address nobody else in this run (or an earlier one sharing Redis) uses. */
export function uniqueEmail(prefix = 'user'): string {
	return `${prefix}-${randomBytes(5).toString('hex')}@example.com`;
}

/** A well-formed session or API token secret that was never issued (lower-case base32). */
export function unissuedToken(length = 32): string {
	const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
	return Array.from(randomBytes(length), (byte) => alphabet[byte % 32]).join('');
}

/** The message a form page shows (FormMessage renders it as role="alert"), or null. */
export function formMessage(html: string): string | null {
	const match = /<p[^>]*role="alert"[^>]*>([^<]*)<\/p>/.exec(html);
	return match?.[1]?.trim() ?? null;
}

/** The session cookie value a Set-Cookie header list sets, if any. */
export function setCookie(response: Response, name: string): string | undefined {
	return response.headers.getSetCookie().find((line) => line.startsWith(`${name}=`));
}

export async function expectProblem(response: Response, status: number, type?: string) {
	expect(response.status).toBe(status);
	expect(response.headers.get('content-type')).toBe('application/problem+json');
	const body = (await response.json()) as { type: string; title: string; status: number };
	expect(body.status).toBe(status);
	if (type) expect(body.type).toBe(`urn:awe:problem:${type}`);
	return body;
}

/** The instance admin: the first account signed up on a fresh server. */
export async function signUpFirst(baseUrl: string, email = uniqueEmail('admin')) {
	const { client, response } = await signUpViaForm(baseUrl, email);
	expect(response.status).toBe(303);
	const workspaces = (await (await client.request('/api/v1/workspaces')).json()) as {
		id: string;
	}[];
	const workspaceId = workspaces[0]?.id;
	if (!workspaceId) throw new Error('the first account has no workspace');
	return { client, email, workspaceId };
}

/** An invite token for a workspace, made by a member allowed to invite. */
export async function inviteToken(
	inviter: TestClient,
	workspaceId: string,
	role = 'viewer'
): Promise<string> {
	const response = await inviter.json(`/api/v1/workspaces/${workspaceId}/invites`, 'POST', {
		role
	});
	expect(response.status).toBe(201);
	const { url } = (await response.json()) as { url: string };
	const token = /\/invite\/([^/?#]+)$/.exec(url)?.[1];
	if (!token) throw new Error(`unexpected invite url ${url}`);
	return token;
}

/** A second account that joins one workspace through an invite. */
export async function signUpInvited(
	baseUrl: string,
	inviter: TestClient,
	workspaceId: string,
	role = 'viewer',
	email = uniqueEmail('member')
) {
	const invite = await inviteToken(inviter, workspaceId, role);
	const { client, response } = await signUpViaForm(baseUrl, email, { invite });
	expect(response.status).toBe(303);
	const me = (await (await client.request('/api/v1/me')).json()) as { id: string };
	return { client, email, userId: me.id };
}

/** Signs in through the form; the client holds whatever session cookie comes back. */
export async function signInViaForm(
	baseUrl: string,
	email: string,
	password = testPassword,
	client = new TestClient(baseUrl)
) {
	const response = await client.postForm('/login', { email, password });
	return { client, response };
}

/** The ServiceError a promise rejects with (anything else fails the test). */
export async function failure(promise: Promise<unknown>): Promise<ServiceError> {
	try {
		await promise;
	} catch (error) {
		if (error instanceof ServiceError) return error;
		throw error;
	}
	throw new Error('expected a ServiceError');
}
