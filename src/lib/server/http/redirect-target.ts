/** Only same-site paths: an open redirect would turn the sign-in page into a phishing aid. */
export function safeRedirectTarget(target: string | null, fallback = '/app'): string {
	if (!target || !target.startsWith('/') || target.startsWith('//') || target.startsWith('/\\'))
		return fallback;
	return target;
}
