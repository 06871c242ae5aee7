/**
 * A minimal browser stand-in for HTTP tests: keeps cookies, does not follow redirects (tests look at
 * them), and sends the Origin header a same-origin browser form would.
 */
export class TestClient {
	readonly baseUrl: string;
	readonly cookies = new Map<string, string>();

	constructor(baseUrl: string) {
		this.baseUrl = baseUrl;
	}

	get origin(): string {
		return new URL(this.baseUrl).origin;
	}

	async request(path: string, init: RequestInit = {}): Promise<Response> {
		const headers = new Headers(init.headers);
		if (this.cookies.size > 0 && !headers.has('cookie')) {
			headers.set(
				'cookie',
				[...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
			);
		}
		const response = await fetch(new URL(path, this.baseUrl), {
			...init,
			headers,
			redirect: 'manual'
		});
		for (const line of response.headers.getSetCookie()) {
			const [pair = '', ...attributes] = line.split(';');
			const [name = '', value = ''] = pair.split('=');
			const expired = attributes.some((attribute) =>
				/max-age=0|expires=thu, 01 jan 1970/i.test(attribute.trim())
			);
			if (expired || value === '') this.cookies.delete(name.trim());
			else this.cookies.set(name.trim(), value.trim());
		}
		return response;
	}

	/** A form post as a browser sends it (urlencoded, same Origin unless overridden). */
	postForm(
		path: string,
		fields: Record<string, string | string[]>,
		headers: Record<string, string> = {}
	): Promise<Response> {
		const body = new URLSearchParams();
		for (const [key, value] of Object.entries(fields)) {
			for (const item of Array.isArray(value) ? value : [value]) body.append(key, item);
		}
		return this.request(path, {
			method: 'POST',
			body,
			headers: {
				accept: 'text/html',
				origin: this.origin,
				'content-type': 'application/x-www-form-urlencoded',
				...headers
			}
		});
	}

	json(
		path: string,
		method: string,
		body: unknown,
		headers: Record<string, string> = {}
	): Promise<Response> {
		return this.request(path, {
			method,
			body: JSON.stringify(body),
			headers: { 'content-type': 'application/json', origin: this.origin, ...headers }
		});
	}
}

export const testPassword = 'correct horse battery staple 42';

/** Signs up through the real form; returns the client holding the new session. */
export async function signUpViaForm(
	baseUrl: string,
	email: string,
	options: { invite?: string; name?: string } = {}
) {
	const client = new TestClient(baseUrl);
	const fields: Record<string, string> = {
		name: options.name ?? email.split('@')[0] ?? 'user',
		email,
		password: testPassword
	};
	if (options.invite) fields.invite = options.invite;
	const response = await client.postForm('/signup', fields);
	return { client, response };
}
