// Formatting shared by the pages. Dates are shown in UTC so that the server's rendering and
// the browser's hydration always agree (a local-time rendering would differ between the two).

const dateTime = new Intl.DateTimeFormat('en-GB', {
	day: 'numeric',
	month: 'short',
	year: 'numeric',
	hour: '2-digit',
	minute: '2-digit',
	timeZone: 'UTC'
});

const dateOnly = new Intl.DateTimeFormat('en-GB', {
	day: 'numeric',
	month: 'short',
	year: 'numeric',
	timeZone: 'UTC'
});

export function formatDateTime(date: Date): string {
	return `${dateTime.format(date)} UTC`;
}

export function formatDate(date: Date): string {
	return dateOnly.format(date);
}

const browsers: [RegExp, string][] = [
	[/Edg\//, 'Edge'],
	[/OPR\//, 'Opera'],
	[/Firefox\//, 'Firefox'],
	[/Chrom(e|ium)\//, 'Chrome'],
	[/Safari\//, 'Safari'],
	[/^curl\//, 'curl']
];

const systems: [RegExp, string][] = [
	[/Windows/, 'Windows'],
	[/Android/, 'Android'],
	[/iPhone|iPad|iPod/, 'iOS'],
	[/Mac OS X|Macintosh/, 'macOS'],
	[/CrOS/, 'ChromeOS'],
	[/Linux/, 'Linux']
];

/** "Firefox on Linux" from a User-Agent header: enough to tell one's own devices apart. */
export function describeUserAgent(userAgent: string | null): string {
	if (!userAgent) return 'Unknown device';
	const browser = browsers.find(([pattern]) => pattern.test(userAgent))?.[1];
	const system = systems.find(([pattern]) => pattern.test(userAgent))?.[1];
	if (browser && system) return `${browser} on ${system}`;
	return browser ?? system ?? 'Unknown browser';
}

/** To the second, without the zone (for tables whose heading says UTC). */
export function formatTimestamp(date: Date): string {
	return date.toISOString().slice(0, 19).replace('T', ' ');
}
