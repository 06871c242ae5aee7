import { expect, test, type Page } from '@playwright/test';
import { password, shots } from './support.ts';

async function signUp(page: Page, name: string, email: string) {
	await page.getByLabel('Name').fill(name);
	await page.getByLabel('E-mail').fill(email);
	await page.getByLabel(/^Password/).fill(password);
	await page.getByRole('button', { name: 'Create account' }).click();
}

test('sign up, sign out, sign in, then invite a viewer who cannot edit', async ({ browser }) => {
	const owner = await browser.newPage();
	await owner.goto('/signup');
	await expect(owner.getByText('This is the first account')).toBeVisible();
	await owner.screenshot({ path: `${shots}/signup.png`, fullPage: true });
	await signUp(owner, 'Ada Lovelace', 'ada@example.com');
	await expect(owner).toHaveURL(/\/app$/);
	await expect(owner.getByRole('heading', { name: 'Welcome, Ada Lovelace' })).toBeVisible();
	await owner.screenshot({ path: `${shots}/home.png`, fullPage: true });

	await owner.getByRole('button', { name: 'Sign out' }).click();
	await expect(owner).toHaveURL(/\/login$/);
	await owner.goto('/app');
	await expect(owner).toHaveURL(/\/login\?redirectTo=%2Fapp$/);

	await owner.getByLabel('E-mail').fill('ada@example.com');
	await owner.getByLabel('Password').fill('wrong password here');
	await owner.getByRole('button', { name: 'Sign in' }).click();
	await expect(owner.getByRole('alert')).toHaveText('Incorrect e-mail address or password.');
	await owner.screenshot({ path: `${shots}/login-failed.png`, fullPage: true });
	await owner.getByLabel('Password').fill(password);
	await owner.getByRole('button', { name: 'Sign in' }).click();
	await expect(owner).toHaveURL(/\/app$/);

	await owner.getByRole('link', { name: 'Members' }).click();
	await owner.getByLabel('Role').selectOption('viewer');
	await owner.getByRole('button', { name: 'Create invite link' }).click();
	const link = (await owner.locator('code.secret').textContent())?.trim() ?? '';
	expect(link).toMatch(/\/invite\/[a-z2-7]{32}$/);
	await owner.screenshot({ path: `${shots}/workspace-owner.png`, fullPage: true });

	const guestContext = await browser.newContext();
	const guest = await guestContext.newPage();
	await guest.goto(link);
	await expect(guest.getByText(/viewer/)).toBeVisible();
	await guest.screenshot({ path: `${shots}/invite.png`, fullPage: true });
	await guest
		.getByRole('link', { name: /create an account|sign up/i })
		.first()
		.click();
	await expect(guest.getByText(/You are joining .* as viewer/)).toBeVisible();
	await signUp(guest, 'Grace Hopper', 'grace@example.com');
	await expect(guest).toHaveURL(/\/app$/);
	await expect(guest.getByText('Your role here: viewer.')).toBeVisible();

	await guest.getByRole('link', { name: 'Members' }).click();
	await expect(guest.getByRole('heading', { name: 'Members' })).toBeVisible();
	await expect(guest.getByRole('cell', { name: 'Grace Hopper (you)' })).toBeVisible();
	await expect(guest.getByRole('cell', { name: 'Ada Lovelace' })).toBeVisible();
	// A viewer sees the team but none of the controls to change it.
	await expect(
		guest.getByRole('button', { name: /Save role|Remove|Rename|Create invite link/ })
	).toHaveCount(0);
	await guest.screenshot({ path: `${shots}/workspace-viewer.png`, fullPage: true });

	// And the server refuses the edit even when it is attempted directly.
	const response = await guest.request.patch(
		`${new URL(guest.url()).pathname.replace('/workspaces/', '/api/v1/workspaces/')}`,
		{
			data: { name: 'Hijacked' },
			headers: { origin: new URL(guest.url()).origin }
		}
	);
	expect(response.status()).toBe(403);
	await guestContext.close();
});
