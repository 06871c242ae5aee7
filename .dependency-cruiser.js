// The layers of the server, bottom to top: a module imports its own layer and the layers below,
// never above; a lower layer that needs a higher one's ability receives a function. Paths are
// regular expressions on paths from the project root. `npm run lint:layers` applies these rules;
// tests/integration/layers.test.ts proves them on a small tree of fixtures.

const server = '^src/lib/server/';

/** L0: zod schemas shared by the browser and the server. */
const schemas = ['^src/lib/schemas/'];
/** L1: the vocabulary every server layer shares, and the Drizzle tables. */
const vocabulary = [`${server}(principal|errors|channels|ids)\\.ts$`, `${server}db/schema/`];
/** L2: database queries, platform (config, logger, crypto) and the event bus. */
const foundation = [`${server}(db|platform|bus)/`];
/** L3: code runner, guarded outbound HTTP, secrets, sign-in. */
const infrastructure = [`${server}(sandbox|outbound|credentials|auth)/`];
/** L4: the durable engine with its node kinds, the tools, the agents. */
const execution = [`${server}(engine|tools|agents)/`];
/** L5: business rules and authorization. */
const services = [`${server}services/`, `${server}policy\\.ts$`];

/**
 * Forbids the modules that `from` matches to import any module of `src` outside `allowed`.
 * @param {string} name
 * @param {string} comment
 * @param {import('dependency-cruiser').IRegularForbiddenRuleType['from']} from
 * @param {string[]} allowed
 * @returns {import('dependency-cruiser').IRegularForbiddenRuleType}
 */
function layer(name, comment, from, allowed) {
	return { name, comment, severity: 'error', from, to: { path: '^src/', pathNot: allowed } };
}

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
	forbidden: [
		{
			name: 'schemas-not-to-server',
			comment:
				'L0 lib/schemas: zod schemas shared with the browser. They import nothing from lib/server.',
			severity: 'error',
			from: { path: schemas },
			to: { path: server }
		},
		layer(
			'vocabulary-not-up',
			'L1 principal, errors, channels, ids and db/schema (the Drizzle tables): the ' +
				'vocabulary any server layer may import. They import only L0, each other and npm packages.',
			{ path: vocabulary },
			[...schemas, ...vocabulary]
		),
		layer(
			'foundation-not-up',
			'L2 db (queries), platform (config, logger, crypto) and bus (the event bus): the foundation. ' +
				'Imports L0-L2 only.',
			{ path: foundation, pathNot: vocabulary },
			[...schemas, ...vocabulary, ...foundation]
		),
		layer(
			'infrastructure-not-up',
			'L3 sandbox, outbound, credentials and auth: the code runner, guarded HTTP, secrets and ' +
				'sign-in. Imports L0-L3 only.',
			{ path: infrastructure },
			[...schemas, ...vocabulary, ...foundation, ...infrastructure]
		),
		layer(
			'execution-not-up',
			'L4 engine, tools and agents: the durable executor, node kinds, tool registry and agents. ' +
				'Imports L0-L4 only.',
			{ path: execution },
			[...schemas, ...vocabulary, ...foundation, ...infrastructure, ...execution]
		),
		layer(
			'services-not-up',
			'L5 services and policy.ts: business rules and authorization. Imports L0-L5 only, never an ' +
				'adapter (http, hooks, the /ws transport in realtime/), a route or the composition root.',
			{ path: services },
			[...schemas, ...vocabulary, ...foundation, ...infrastructure, ...execution, ...services]
		),
		// L6, the adapters and the composition root, may import everything: http, hooks, realtime (the
		// /ws transport), runtime.ts and the other top-level files of lib/server, routes,
		// hooks.server.ts and the process entries. Test files are not cruised (see `exclude`).
		{
			name: 'browser-not-to-server',
			comment:
				'Browser code (components, the ws client in lib/realtime, format.ts, every .svelte file) ' +
				'imports nothing from lib/server. Type-only imports in .svelte files are invisible here ' +
				'(the Svelte compiler drops them): eslint.config.js forbids those.',
			severity: 'error',
			from: {
				path: ['^src/lib/components/', '^src/lib/realtime/', '^src/lib/format\\.ts$', '\\.svelte$']
			},
			to: { path: server }
		},
		{
			name: 'no-circular-server',
			comment: 'The modules of lib/server form no cycle, not even through a type-only import.',
			severity: 'error',
			from: { path: server },
			to: { circular: true }
		},
		{
			name: 'imports-resolve',
			comment:
				'Every $lib and relative import resolves to a file: one the cruiser cannot follow escapes ' +
				'every rule above. Not ./$types, which SvelteKit generates outside src.',
			severity: 'error',
			from: {},
			to: { couldNotResolve: true, path: ['^\\$lib(/|$)', '^\\.'], pathNot: '/\\$types$' }
		}
	],
	options: {
		exclude: { path: ['(^|/)node_modules/', '^\\.svelte-kit/', '^build/', '\\.test\\.ts$'] },
		// Type-only imports count: a layer does not even name a type from above.
		tsPreCompilationDeps: true,
		// Where `svelte-kit sync` writes the $lib paths. Not tsconfig.json: the resolver reads paths
		// inherited through `extends` relative to tsconfig.json, not to the file that declares them.
		tsConfig: { fileName: '.svelte-kit/tsconfig.json' },
		skipAnalysisNotInRules: true
	}
};
