/** Signs up the first account of a fresh server through its form: the session cookie to send. */
export async function signUpForSession(base: string): Promise<string> {
	const signup = await fetch(`${base}/signup`, {
		method: 'POST',
		redirect: 'manual',
		headers: {
			accept: 'text/html',
			origin: base,
			'content-type': 'application/x-www-form-urlencoded'
		},
		body: new URLSearchParams({
			name: 'Bench',
			email: `bench-${Date.now()}@example.com`,
			password: 'bench mark pass phrase'
		})
	});
	const cookie = signup.headers
		.getSetCookie()
		.map((line) => line.split(';')[0])
		.join('; ');
	if (!cookie.includes('awe_session'))
		throw new Error(`sign-up gave no session (status ${signup.status})`);
	return cookie;
}
