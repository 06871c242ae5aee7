const base = 'http://awe.invalid';

/**
 * Only paths on this site: an open redirect would turn the sign-in page into a phishing aid.
 * Browsers drop tabs and newlines and read `\` as `/`, so `/\t/evil.example` would leave the site;
 * such targets are refused, and what remains is resolved and must stay on our origin.
 */
export function safeRedirectTarget(target: string | null, fallback = '/app'): string {
	// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
	if (!target || !target.startsWith('/') || /[\u0000-\u001f\u007f\\]/.test(target)) return fallback;
	let url: URL;
	try {
		url = new URL(target, base);
	} catch {
		return fallback;
	}
	return url.origin === base ? url.pathname + url.search + url.hash : fallback;
}
