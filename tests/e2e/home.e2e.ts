import { expect, test, type Locator, type Page } from '@playwright/test';
import { password, shots, signInAsOwner } from './support.ts';

const doorman = {
	inputs: [{ name: 'name', type: 'string', required: true }],
	nodes: [
		{ id: 'start', kind: 'input' },
		{ id: 'review', kind: 'approval', config: { title: 'Let {{ input.name }} in at home?' } },
		{ id: 'done', kind: 'output' }
	],
	edges: [
		{ from: 'start', to: 'review' },
		{ from: 'review', to: 'done', branch: 'approved' }
	]
};

/** The API with the page's session, as the browser would send it (same origin). */
async function api(page: Page, method: 'GET' | 'POST', path: string, data?: unknown) {
	const origin = new URL(page.url()).origin;
	const response = await page.request.fetch(`/api/v1${path}`, {
		method,
		data,
		headers: { origin }
	});
	expect(response.ok(), `${method} ${path}: ${await response.text()}`).toBe(true);
	return (await response.json()) as Record<string, unknown> & { id: string };
}

/** Where a link leads (server-rendered links are relative to the page). */
async function target(page: Page, link: Locator) {
	const url = new URL((await link.getAttribute('href')) ?? '', page.url());
	return url.pathname + url.hash;
}

/** A published workflow that waits for a person, and a run of it waiting. */
async function waitingRun(page: Page) {
	const [workspace] = (await (await page.request.get('/api/v1/workspaces')).json()) as {
		id: string;
	}[];
	if (!workspace) throw new Error('the owner has no workspace');
	const base = `/workspaces/${workspace.id}`;
	const workflow = await api(page, 'POST', `${base}/workflows`, {
		name: 'Home doorman',
		description: ''
	});
	await api(page, 'POST', `${base}/workflows/${workflow.id}/versions`, {
		definition: doorman,
		publish: true
	});
	const { run } = (await api(page, 'POST', `${base}/workflows/${workflow.id}/runs`, {
		input: { name: 'Hedy' }
	})) as unknown as { run: { id: string } };
	await expect
		.poll(async () => (await api(page, 'GET', `${base}/runs/${run.id}`)).run, { timeout: 30_000 })
		.toMatchObject({ status: 'waiting' });
	return {
		workspaceId: workspace.id,
		runId: run.id,
		/** Cancels the run (and so its approval): the flows after this one expect an empty inbox. */
		cancel: () => api(page, 'POST', `${base}/runs/${run.id}/cancel`)
	};
}

test('the start page shows waiting approvals, recent runs and workflows; the top bar leads on', async ({
	page
}) => {
	test.setTimeout(120_000);
	await signInAsOwner(page);
	const { workspaceId, runId, cancel } = await waitingRun(page);
	try {
		await startPageAndTopBar(page, workspaceId, runId);
	} finally {
		await cancel();
	}
});

async function startPageAndTopBar(page: Page, workspaceId: string, runId: string) {
	await page.goto('/app');

	const waiting = page.getByRole('region', { name: 'Waiting for a decision' });
	await expect(waiting.getByRole('link', { name: 'Let Hedy in at home?' })).toBeVisible();
	const runs = page.getByRole('region', { name: 'Recent runs' });
	const run = page.getByRole('link', { name: `Home doorman (run ${runId.slice(0, 8)})` });
	expect(await target(page, runs.locator(run))).toBe(`/workspaces/${workspaceId}/runs/${runId}`);
	await expect(runs.getByRole('listitem').filter({ has: run })).toContainText('waiting');
	const workflows = page.getByRole('region', { name: 'Workflows' });
	await expect(workflows.getByRole('listitem').filter({ hasText: 'Home doorman' })).toContainText(
		'v2 published'
	);
	await page.screenshot({ path: `${shots}/home-overview.png`, fullPage: true });

	// Each item opens its page.
	await waiting.getByRole('link', { name: 'Let Hedy in at home?' }).click();
	await expect(page).toHaveURL(new RegExp(`/workspaces/${workspaceId}/approvals#approval-`));
	await expect(page.getByRole('article', { name: 'Let Hedy in at home?' })).toContainText(
		'pending'
	);

	// The top bar reaches the workspace's workflows, runs and approvals, and marks where one is.
	const bar = page.getByRole('navigation', { name: 'Main' });
	for (const [label, path] of [
		['Workflows', 'workflows'],
		['Runs', 'runs'],
		['Approvals', 'approvals']
	] as const) {
		await bar.getByRole('link', { name: label, exact: true }).click();
		await expect(page).toHaveURL(`/workspaces/${workspaceId}/${path}`);
		await expect(page.getByRole('heading', { name: label, level: 1 })).toBeVisible();
		await expect(bar.getByRole('link', { name: label, exact: true })).toHaveAttribute(
			'aria-current',
			'page'
		);
	}
	await bar.getByRole('link', { name: 'Workflows', exact: true }).click();
	await page.getByRole('link', { name: 'Home doorman', exact: true }).click();
	await expect(page.getByRole('heading', { name: 'Home doorman', level: 1 })).toBeVisible();
	await expect(bar.getByRole('link', { name: 'Workflows', exact: true })).toHaveAttribute(
		'aria-current',
		'page'
	);
	await page.screenshot({ path: `${shots}/top-bar.png` });
	await bar.getByRole('link', { name: 'AWE home' }).click();
	await expect(page).toHaveURL(/\/app$/);
	await expect(page.getByRole('heading', { name: /^Welcome/ })).toBeVisible();
}

test('with several workspaces the top bar switches between them, without JavaScript', async ({
	browser,
	page
}) => {
	test.setTimeout(120_000);
	// A teammate invited into the owner's workspace, who then makes one of their own.
	await signInAsOwner(page);
	await page.getByRole('link', { name: 'Members' }).click();
	await expect(page).toHaveURL(/\/workspaces\/[0-9a-f-]{36}$/);
	const teamUrl = new URL(page.url()).pathname;
	await page.getByLabel('Role', { exact: true }).selectOption('editor');
	await page.getByRole('button', { name: 'Create invite link' }).click();
	const link = (await page.locator('code.secret').textContent())?.trim() ?? '';

	const context = await browser.newContext({ javaScriptEnabled: false });
	try {
		const mate = await context.newPage();
		await mate.goto(link);
		await mate
			.getByRole('link', { name: /create an account|sign up/i })
			.first()
			.click();
		await mate.getByLabel('Name').fill('Hedy Lamarr');
		await mate.getByLabel('E-mail').fill(`hedy-${Date.now()}@example.com`);
		await mate.getByLabel(/^Password/).fill(password);
		await mate.getByRole('button', { name: 'Create account' }).click();
		await expect(mate).toHaveURL(/\/app$/);
		const bar = mate.getByRole('navigation', { name: 'Main' });
		// One workspace: its name, no switcher.
		await expect(bar.getByRole('combobox', { name: 'Workspace' })).toHaveCount(0);

		await mate.goto('/workspaces');
		await mate.getByLabel('Name').fill('Hedy’s lab');
		await mate.getByRole('button', { name: 'Create workspace' }).click();
		await expect(mate.getByRole('heading', { name: 'Hedy’s lab', level: 1 })).toBeVisible();
		const labUrl = new URL(mate.url()).pathname;

		const switcher = bar.getByRole('combobox', { name: 'Workspace' });
		await expect(switcher.locator('option:checked')).toHaveText('Hedy’s lab');
		expect(await target(mate, bar.getByRole('link', { name: 'Runs', exact: true }))).toBe(
			`${labUrl}/runs`
		);

		// A page of the other workspace: the bar follows the page, not the session.
		await mate.goto(`${teamUrl}/approvals`);
		await expect(switcher.locator('option:checked')).not.toHaveText('Hedy’s lab');
		expect(await target(mate, bar.getByRole('link', { name: 'Workflows', exact: true }))).toBe(
			`${teamUrl}/workflows`
		);
		await mate.screenshot({ path: `${shots}/top-bar-switcher.png` });

		// Switching lands on the start page, with the chosen workspace first and in the bar.
		await switcher.selectOption({ label: 'Hedy’s lab' });
		await bar.getByRole('button', { name: 'Switch' }).click();
		await expect(mate).toHaveURL(/\/app$/);
		await expect(mate.getByRole('heading', { level: 2 }).first()).toHaveText('Hedy’s lab');
		expect(await target(mate, bar.getByRole('link', { name: 'Approvals', exact: true }))).toBe(
			`${labUrl}/approvals`
		);
	} finally {
		await context.close();
	}
});
