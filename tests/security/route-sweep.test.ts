import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isPublicRoute, publicRoutes } from '../../src/lib/server/hooks/guard.ts';
import { useAppServer } from '../helpers/app-server.ts';
import { TestClient } from '../helpers/http-client.ts';

/**
 * Every route of the app, found on the file system (so routes added later are swept too), requested
 * without credentials: private ones must answer 401 (API) or send the visitor to sign in (pages).
 */

const root = path.resolve(import.meta.dirname, '../..');
const routesDir = path.join(root, 'src/routes');
const httpMethods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

interface Route {
	/** The route id as SvelteKit reports it in `event.route.id` (group segments included). */
	id: string;
	/** A concrete URL path for it: groups dropped, every parameter a random UUID. */
	path: string;
	/** Methods a `+server` file exports. */
	endpointMethods: string[];
	isPage: boolean;
	/** Form action names of the page (`default` for the unnamed one). */
	actions: string[];
	/** Methods named by `export const GET …` in the source, to cross-check the import. */
	declaredMethods: string[];
}

function routeFiles(dir: string): string[] {
	return readdirSync(dir, { recursive: true, encoding: 'utf8' })
		.map((file) => file.split(path.sep).join('/'))
		.filter((file) => /(^|\/)\+(page|server|page\.server)(@[^./]*)?\.(svelte|ts|js)$/.test(file));
}

function concretePath(id: string): string {
	const segments = id
		.split('/')
		.filter((segment) => segment !== '' && !/^\(.+\)$/.test(segment))
		.map((segment) =>
			segment.replace(/\[\[[^\]]+\]\]/g, randomUUID()).replace(/\[[^\]]+\]/g, randomUUID())
		);
	return '/' + segments.join('/');
}

async function discoverRoutes(): Promise<Route[]> {
	const byId = new Map<string, Route>();
	for (const file of routeFiles(routesDir)) {
		const dir = path.posix.dirname(file);
		const id = dir === '.' ? '/' : `/${dir}`;
		const route = byId.get(id) ?? {
			id,
			path: concretePath(id),
			endpointMethods: [],
			isPage: false,
			actions: [],
			declaredMethods: []
		};
		byId.set(id, route);
		const name = path.posix.basename(file);
		const full = path.join(routesDir, file);
		if (name.startsWith('+server.')) {
			// The module's real exports, as SvelteKit sees them (not a guess from the source text).
			const module = (await import(pathToFileURL(full).href)) as Record<string, unknown>;
			const exported = Object.keys(module);
			route.endpointMethods = exported.includes('fallback')
				? [...httpMethods]
				: httpMethods.filter((method) => exported.includes(method));
			route.declaredMethods = [
				...readFileSync(full, 'utf8').matchAll(
					/export\s+(?:const|let|async\s+function|function)\s+([A-Z]+)\b/g
				)
			].map((match) => match[1] ?? '');
		} else {
			route.isPage = true;
			if (name.startsWith('+page.server.')) {
				const module = (await import(pathToFileURL(full).href)) as { actions?: object };
				route.actions = Object.keys(module.actions ?? {});
			}
		}
	}
	return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
}

/** The route ids the production build actually serves, from its generated manifest. */
function builtRouteIds(): string[] {
	const chunks = path.join(root, 'build/server/chunks');
	const manifest = readdirSync(chunks).find((file) => /^manifest\.js.*\.js$/.test(file));
	if (!manifest) throw new Error('no server manifest in build/');
	const source = readFileSync(path.join(chunks, manifest), 'utf8');
	const routesBlock = source.slice(source.indexOf('routes: ['));
	return [...routesBlock.matchAll(/\bid: "([^"]+)"/g)].map((match) => match[1] ?? '');
}

const routes = await discoverRoutes();
const app = useAppServer();
const swept = new Set<string>();

async function discard(response: Response) {
	if (!response.bodyUsed) await response.body?.cancel();
}

/**
 * A public route answers anonymous visitors itself. Only an action that needs an account (accepting
 * an invite) may send them to sign in, and then straight back to the same page.
 */
function expectReachable(response: Response, signInReturnsTo?: string) {
	expect(response.status).not.toBe(401);
	expect(response.status).toBeLessThan(500);
	const location = response.headers.get('location') ?? '';
	if (signInReturnsTo !== undefined && location.startsWith('/login')) {
		expect(location).toBe(`/login?redirectTo=${encodeURIComponent(signInReturnsTo)}`);
		return;
	}
	expect(location).not.toMatch(/^\/login(\?|$)/);
}

async function expectSignInRequired(response: Response, requestedPath: string, method = 'GET') {
	if (response.status === 404 || response.status === 405) return;
	if (requestedPath.startsWith('/api/')) {
		expect(response.status).toBe(401);
		expect(response.headers.get('content-type')).toBe('application/problem+json');
		expect(response.headers.get('www-authenticate')).toBe('Bearer');
		if (method === 'HEAD') return;
		expect(await response.json()).toMatchObject({
			type: 'urn:awe:problem:unauthorized',
			status: 401
		});
		return;
	}
	expect(response.status).toBe(303);
	const location = new URL(response.headers.get('location') ?? '', app.url);
	expect(location.origin).toBe(new URL(app.url).origin);
	expect(location.pathname).toBe('/login');
	expect(location.searchParams.get('redirectTo')).toBe(requestedPath);
}

describe('route sweep without credentials', () => {
	it('the public list is the reviewed one: widening it needs a security review (and this test)', () => {
		expect([...publicRoutes].sort()).toEqual([
			'/',
			'/healthz',
			'/invite/[token]',
			'/login',
			'/readyz',
			'/signup'
		]);
		// No API route is ever public, whatever the list says.
		expect(
			routes.filter((route) => route.path.startsWith('/api/') && isPublicRoute(route.id))
		).toEqual([]);
	});

	it('finds every route the production build serves, and only those', () => {
		expect(routes.length).toBeGreaterThan(0);
		expect(routes.map((route) => route.id).sort()).toEqual(builtRouteIds().sort());
		// The import found what the source declares (an export the sweep missed would go untested).
		for (const route of routes)
			for (const method of route.declaredMethods) expect(route.endpointMethods).toContain(method);
		// Both kinds are present, so neither branch of the sweep is vacuous.
		const ids = routes.map((route) => route.id);
		expect(ids.filter((id) => publicRoutes.has(id)).length).toBeGreaterThan(0);
		expect(ids.filter((id) => !isPublicRoute(id)).length).toBeGreaterThan(0);
	});

	describe.each(routes.map((route) => [route.id, route] as const))('%s', (id, route) => {
		const isPublic = isPublicRoute(id);

		// Only the kinds of request the route has (no skipped placeholders).
		if (route.endpointMethods.length > 0)
			it(`${isPublic ? 'is reachable' : 'requires sign-in'} for every exported method`, async () => {
				const client = new TestClient(app.url);
				for (const method of route.endpointMethods) {
					const response = await client.request(route.path, {
						method,
						headers: { origin: client.origin, accept: 'application/json' }
					});
					if (isPublic) expectReachable(response);
					else await expectSignInRequired(response, route.path, method);
					await discard(response);
					swept.add(`endpoint|${id}|${method}`);
				}
			});

		if (route.isPage)
			it(`${isPublic ? 'is reachable' : 'requires sign-in'} as a page`, async () => {
				const client = new TestClient(app.url);
				const response = await client.request(route.path, { headers: { accept: 'text/html' } });
				if (isPublic) expectReachable(response);
				else await expectSignInRequired(response, route.path);
				await discard(response);
				swept.add(`page|${id}|GET`);

				// The page's data endpoint (what client-side navigation loads) must not leak either.
				const dataPath = `${route.path === '/' ? '' : route.path}/__data.json`;
				const data = await client.request(dataPath);
				if (!isPublic && data.status === 200) {
					expect(await data.json()).toMatchObject({
						type: 'redirect',
						location: expect.stringMatching(/^\/login\?redirectTo=/)
					});
				} else if (!isPublic) {
					expect([303, 401, 404, 405]).toContain(data.status);
					await discard(data);
				} else {
					expect(data.status).toBeLessThan(500);
					await discard(data);
				}
			});

		if (route.actions.length > 0)
			it(`${isPublic ? 'accepts' : 'refuses'} anonymous form posts to its actions`, async () => {
				const client = new TestClient(app.url);
				for (const action of route.actions) {
					const target = action === 'default' ? route.path : `${route.path}?/${action}`;
					const response = await client.postForm(target, {});
					if (isPublic) expectReachable(response, route.path);
					else await expectSignInRequired(response, target, 'POST');
					await discard(response);
					swept.add(`action|${id}|${action}`);
				}
			});
	});

	it('swept every route (runs last)', () => {
		const sweptRoutes = new Set([...swept].map((entry) => entry.split('|')[1]));
		expect(sweptRoutes.size).toBe(routes.length);
		const expected = routes.reduce(
			(sum, route) =>
				sum + route.endpointMethods.length + (route.isPage ? 1 : 0) + route.actions.length,
			0
		);
		expect(swept.size).toBe(expected);
	});
});
