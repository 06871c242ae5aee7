import { expect, test, type Page } from '@playwright/test';
import { shots, signInAsOwner } from './support.ts';

// Problems of two nodes and one of no node (an edge to nowhere), each to be shown where it belongs.
const invalid = {
	nodes: [
		{ id: 'start', kind: 'input' },
		{ id: 'shout', kind: 'transform', config: { expression: '$uppercase(' } },
		{ id: 'wait', kind: 'delay', config: { duration: 'soon' } },
		{ id: 'done', kind: 'output' }
	],
	edges: [
		{ from: 'start', to: 'shout' },
		{ from: 'shout', to: 'ghost' },
		{ from: 'wait', to: 'done' }
	]
};

const greeting = {
	inputs: [{ name: 'name', type: 'string', required: true }],
	nodes: [
		{ id: 'start', kind: 'input', config: {} },
		{ id: 'greet', kind: 'template', config: { template: 'Hello {{ input.name }}' } },
		{ id: 'done', kind: 'output', config: {} }
	],
	edges: [
		{ from: 'start', to: 'greet' },
		{ from: 'greet', to: 'done' }
	]
};

const approved = {
	...greeting,
	nodes: [
		...greeting.nodes,
		{ id: 'review', kind: 'approval', config: { title: 'Greet {{ input.name }}?' } }
	],
	edges: [
		{ from: 'start', to: 'greet' },
		{ from: 'greet', to: 'review' },
		{ from: 'review', to: 'done', branch: 'approved' }
	]
};

async function saveVersion(page: Page, definition: unknown, note: string) {
	await page.getByLabel(/^JSON/).fill(JSON.stringify(definition, null, 2));
	await page.getByLabel('Version note').fill(note);
	await page.getByRole('checkbox', { name: 'Publish' }).check();
	await page.getByRole('button', { name: 'Save version' }).click();
}

async function startRun(page: Page, input: unknown) {
	await page.getByLabel('Input (JSON)').fill(JSON.stringify(input));
	await page.getByRole('button', { name: 'Start run' }).click();
	await expect(page).toHaveURL(/\/runs\/[0-9a-f-]{36}$/);
}

/** The run page follows its run live: wait, without reloading, until it shows `status`. */
async function waitForRunStatus(page: Page, status: string) {
	await expect(page.locator('main > header')).toContainText(status, { timeout: 30_000 });
}

test('edit a workflow, see every problem at its node, publish, run, and approve', async ({
	page
}) => {
	test.setTimeout(120_000);
	await signInAsOwner(page);
	await page.getByRole('link', { name: 'Members' }).click();
	await page.getByRole('navigation', { name: 'Workspace' }).getByText('Workflows').click();
	await expect(page.getByRole('heading', { name: 'Workflows', level: 1 })).toBeVisible();

	await page.getByLabel('Name').fill('Greeter');
	await page.getByLabel('Description').fill('Says hello, after someone agrees.');
	await page.getByRole('button', { name: 'Create workflow' }).click();
	await expect(page.getByRole('heading', { name: 'Greeter', level: 1 })).toBeVisible();
	const workflowUrl = page.url();

	// An invalid definition: each problem under its node, the edge to nowhere on top.
	const editor = page.getByLabel(/^JSON/);
	await editor.fill(JSON.stringify(invalid, null, 2));
	await page.getByRole('button', { name: 'Check' }).click();
	await expect(page.getByText(/Found \d+ problems/)).toBeVisible();
	await expect(page.getByRole('listitem', { name: 'Node shout' })).toContainText(
		'nodes[1].config.expression'
	);
	await expect(page.getByRole('listitem', { name: 'Node wait' })).toContainText(
		'nodes[2].config.duration'
	);
	await expect(page.getByRole('listitem', { name: 'Node start' })).not.toContainText('problem');
	await expect(page.getByRole('list', { name: 'Problems of the whole definition' })).toContainText(
		'"ghost"'
	);
	await expect(editor).toHaveValue(/\$uppercase\(/);
	await page.screenshot({ path: `${shots}/workflow-problems.png`, fullPage: true });

	// Saving it is refused the same way, and the edited text stays.
	await page.getByRole('button', { name: 'Save version' }).click();
	await expect(page.getByText(/Nothing was saved/)).toBeVisible();
	await expect(page.getByRole('listitem', { name: 'Node wait' })).toContainText(
		'nodes[2].config.duration'
	);
	await expect(editor).toHaveValue(/"soon"/);

	await saveVersion(page, greeting, 'Greets');
	await expect(page.getByText('Saved version 2 and published it.')).toBeVisible();
	await expect(page.getByRole('cell', { name: 'published' })).toBeVisible();
	await startRun(page, { name: 'Ada' });
	await waitForRunStatus(page, 'succeeded');
	await expect(page.getByRole('heading', { name: 'Output' }).locator('..')).toContainText(
		'Hello Ada'
	);
	await expect(page.getByRole('listitem', { name: 'Step greet' })).toContainText('succeeded');
	await page.screenshot({ path: `${shots}/run-succeeded.png`, fullPage: true });

	// Version 3 waits for a person: the run parks until the inbox decides.
	await page.goto(workflowUrl);
	await saveVersion(page, approved, 'Ask first');
	await expect(page.getByText('Saved version 3 and published it.')).toBeVisible();
	await page.getByRole('link', { name: 'diff v2' }).click();
	await expect(page.getByText('Changes from v2 to v3')).toBeVisible();
	await expect(page.locator('#diff .add').first()).toBeVisible();
	await startRun(page, { name: 'Grace' });
	const runUrl = page.url();
	await waitForRunStatus(page, 'waiting');

	await page.getByRole('link', { name: 'open the approvals inbox' }).click();
	const request = page.getByRole('article', { name: 'Greet Grace?' });
	await expect(request).toContainText('pending');
	await page.screenshot({ path: `${shots}/approvals.png`, fullPage: true });
	await request.getByLabel(/Comment/).fill('Fine by me.');
	await request.getByRole('button', { name: 'Approve' }).click();
	await expect(page.getByText('Approved “Greet Grace?”')).toBeVisible();
	await expect(page.getByText('Nothing is waiting for a decision.')).toBeVisible();

	await page.goto(runUrl);
	await waitForRunStatus(page, 'succeeded');
	await expect(page.getByRole('listitem', { name: 'Step review' })).toContainText('approved');

	await page.getByRole('navigation', { name: 'Main' }).getByText('Runs').click();
	await expect(page.getByRole('row').filter({ hasText: 'Greeter' })).toHaveCount(2);
	await page.screenshot({ path: `${shots}/runs.png`, fullPage: true });
});
