import { cruise, type ICruiseResult } from 'dependency-cruiser';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import config from '../../.dependency-cruiser.js';

// A tree shaped like src/, with one import per rule going the wrong way and a few going the right
// way. Its tsconfig.json maps $lib the way .svelte-kit/tsconfig.json does for the real tree.
const fixture = path.join(import.meta.dirname, '../fixtures/layers');

async function violationsIn(root: string) {
	const { output } = await cruise(['src'], {
		...config.options,
		baseDir: root,
		tsConfig: { fileName: path.join(root, 'tsconfig.json') },
		validate: true,
		ruleSet: { forbidden: config.forbidden },
		outputType: 'json'
	});
	const result = JSON.parse(String(output)) as ICruiseResult;
	return result.summary.violations
		.map(({ rule, from, to }) => `${rule.name}: ${from} → ${to}`)
		.sort();
}

describe('the layer rules of .dependency-cruiser.js', () => {
	it('report exactly the wrong-way imports of the fixture tree, each under its rule', async () => {
		expect(await violationsIn(fixture)).toEqual([
			'browser-not-to-server: src/lib/components/StartRun.svelte → src/lib/server/services/runs.ts',
			'execution-not-up: src/lib/server/engine/worker.ts → src/lib/server/realtime/hub.ts',
			'foundation-not-up: src/lib/server/db/wrong.ts → src/lib/server/services/runs.ts',
			'imports-resolve: src/lib/server/http/api.ts → $lib/server/services/missing.ts',
			'infrastructure-not-up: src/lib/server/auth/session.ts → src/lib/server/engine/worker.ts',
			'no-circular-server: src/lib/server/services/runs.ts → src/lib/server/services/workflows.ts',
			'schemas-not-to-server: src/lib/schemas/bad.ts → src/lib/server/principal.ts',
			'services-not-up: src/lib/server/policy.ts → src/lib/server/http/api.ts',
			'vocabulary-not-up: src/lib/server/ids.ts → src/lib/server/platform/crypto.ts'
		]);
	});

	it('fail the lint on any violation, and each says what it guards', () => {
		// A `warn` would leave the exit code at 0: the lint would pass with the violation in it.
		for (const rule of config.forbidden ?? []) {
			expect(rule.severity, rule.name).toBe('error');
			expect(rule.comment, rule.name).toBeTruthy();
		}
	});
});
