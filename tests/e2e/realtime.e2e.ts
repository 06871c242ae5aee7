import { expect, test } from '@playwright/test';
import { shots, signInAsOwner } from './support.ts';

// Waits for a person, then for a few seconds more: two waits to watch end from another page.
const reviewed = {
	inputs: [{ name: 'name', type: 'string', required: true }],
	nodes: [
		{ id: 'start', kind: 'input', config: {} },
		{ id: 'review', kind: 'approval', config: { title: 'Let {{ input.name }} in live?' } },
		{ id: 'pause', kind: 'delay', config: { duration: '3s' } },
		{ id: 'greet', kind: 'template', config: { template: 'Hello {{ input.name }}' } },
		{ id: 'done', kind: 'output', config: {} }
	],
	edges: [
		{ from: 'start', to: 'review' },
		{ from: 'review', to: 'pause', branch: 'approved' },
		{ from: 'pause', to: 'greet' },
		{ from: 'greet', to: 'done' }
	]
};

test('the run page follows a run live, without reloading', async ({ page, context }) => {
	test.setTimeout(120_000);
	await signInAsOwner(page);
	await page.getByRole('link', { name: 'Members' }).click();
	await page.getByRole('navigation', { name: 'Workspace' }).getByText('Workflows').click();
	await expect(page.getByRole('heading', { name: 'Workflows', level: 1 })).toBeVisible();
	await page.getByLabel('Name').fill('Live doorman');
	await page.getByRole('button', { name: 'Create workflow' }).click();
	await expect(page.getByRole('heading', { name: 'Live doorman', level: 1 })).toBeVisible();
	await page.getByLabel(/^JSON/).fill(JSON.stringify(reviewed, null, 2));
	await page.getByLabel('Version note').fill('Ask, wait, greet');
	await page.getByRole('checkbox', { name: 'Publish' }).check();
	await page.getByRole('button', { name: 'Save version' }).click();
	await expect(page.getByText(/Saved version \d+ and published it/)).toBeVisible();
	await page.getByLabel('Input (JSON)').fill(JSON.stringify({ name: 'Linus' }));
	await page.getByRole('button', { name: 'Start run' }).click();
	await expect(page).toHaveURL(/\/runs\/[0-9a-f-]{36}$/);

	// From here on the page must never load again: a value on window would not survive that.
	await page.evaluate(() => Object.assign(window, { liveMarker: 'still here' }));
	let navigations = 0;
	page.on('framenavigated', (frame) => {
		if (frame === page.mainFrame()) navigations += 1;
	});
	const header = page.locator('main > header');
	await expect(header.getByRole('status')).toHaveText('Live');
	await expect(header).toContainText('waiting');
	await expect(page.getByRole('listitem', { name: 'Step review' })).toContainText('waiting');
	await expect(page.getByText('This run is waiting for a decision')).toBeVisible();
	await page.screenshot({ path: `${shots}/realtime-waiting.png`, fullPage: true });

	// Someone else decides, in another tab.
	const inbox = await context.newPage();
	await inbox.goto(page.url().replace(/\/runs\/.*$/, '/approvals'));
	const request = inbox.getByRole('article', { name: 'Let Linus in live?' });
	await request.getByRole('button', { name: 'Approve' }).click();
	await expect(inbox.getByText('Approved “Let Linus in live?”')).toBeVisible();
	await inbox.close();

	await expect(page.getByRole('listitem', { name: 'Step review' })).toContainText('approved');
	await expect(page.getByRole('listitem', { name: 'Step pause' })).toContainText('waiting');
	await expect(page.getByRole('cell', { name: 'approval.decided' })).toBeVisible();
	await expect(page.getByText('This run is waiting for a decision')).toBeHidden();
	await page.screenshot({ path: `${shots}/realtime-delay.png`, fullPage: true });

	await expect(header).toContainText('succeeded', { timeout: 15_000 });
	await expect(page.getByRole('cell', { name: 'run.succeeded' })).toBeVisible();
	await expect(page.getByRole('heading', { name: 'Output' }).locator('..')).toContainText(
		'Hello Linus'
	);
	await expect(page.getByRole('listitem', { name: 'Step greet' })).toContainText('succeeded');
	// A finished run has nothing more to say: the page lets the connection go.
	await expect(header.getByRole('status')).toHaveCount(0);
	await page.screenshot({ path: `${shots}/realtime-succeeded.png`, fullPage: true });

	expect(await page.evaluate(() => Reflect.get(window, 'liveMarker'))).toBe('still here');
	expect(navigations).toBe(0);
});

test('the run list shows a run started elsewhere, without reloading', async ({ page, context }) => {
	await signInAsOwner(page);
	await page.getByRole('link', { name: 'Members' }).click();
	await page.getByRole('navigation', { name: 'Main' }).getByText('Runs').click();
	await expect(page.getByRole('heading', { name: 'Runs', level: 1 })).toBeVisible();
	const rows = page.getByRole('row').filter({ hasText: 'Live doorman' });
	const before = await rows.count();
	await page.evaluate(() => Object.assign(window, { liveMarker: 'still here' }));

	// Another tab starts a run of the workflow the first test made.
	const other = await context.newPage();
	await other.goto(page.url().replace(/\/runs.*$/, '/workflows'));
	await other.getByRole('link', { name: 'Live doorman' }).click();
	await other.getByLabel('Input (JSON)').fill(JSON.stringify({ name: 'Grace' }));
	await other.getByRole('button', { name: 'Start run' }).click();
	await expect(other).toHaveURL(/\/runs\/[0-9a-f-]{36}$/);

	await expect(rows).toHaveCount(before + 1);
	await expect(rows.first()).toContainText('waiting');
	await page.screenshot({ path: `${shots}/realtime-runs.png`, fullPage: true });

	// Cancelled over there (leaving nothing waiting for the flows after this one): the list follows.
	await other.getByRole('button', { name: 'Cancel run' }).click();
	await expect(other.locator('main > header')).toContainText('cancelled');
	await other.close();
	await expect(rows.first()).toContainText('cancelled');
	expect(await page.evaluate(() => Reflect.get(window, 'liveMarker'))).toBe('still here');
});
