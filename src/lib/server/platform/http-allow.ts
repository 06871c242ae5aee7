import { isIP } from 'node:net';

// AWE_HTTP_ALLOW, read with the rest of the configuration; outbound/allow-list.ts applies it.

/** One AWE_HTTP_ALLOW entry: requests to this host and port skip the blocked-range checks. */
export interface HttpAllowEntry {
	/** As the URL parser writes it: a lower-case name, a dotted IPv4 address or a bracketed IPv6 one. */
	host: string;
	port: number;
}

/** Its message reads after the variable's name: `AWE_HTTP_ALLOW entry "x" needs a port, …`. */
export class HttpAllowListError extends Error {
	override name = 'HttpAllowListError';
}

const examples = 'such as 127.0.0.1:11434 or localhost:8080';

/** Parses AWE_HTTP_ALLOW: `host:port` entries separated by commas; empty allows nothing. */
export function parseHttpAllowList(value: string): HttpAllowEntry[] {
	return value
		.split(',')
		.map((entry) => entry.trim())
		.filter((entry) => entry !== '')
		.map(parseEntry);
}

function parseEntry(entry: string): HttpAllowEntry {
	// Refused before anything is echoed: a user name and password would end up in the message.
	if (entry.includes('@')) {
		throw new HttpAllowListError('entries must be host:port, without a user name or password');
	}
	const invalid = (problem: string) => new HttpAllowListError(`entry "${entry}" ${problem}`);
	if (/[/\\?#]/.test(entry))
		throw invalid(`must be host:port without a scheme or path, ${examples}`);
	if (entry.includes('*')) throw invalid('has a wildcard; list each host:port instead');
	const bracketsNeeded = 'needs brackets around the IPv6 address, then a port, such as [::1]:8080';
	if (isIP(entry) === 6) throw invalid(bracketsNeeded);
	const match = /^(.*):(\d+)$/.exec(entry);
	if (match === null) throw invalid(`needs a port: write host:port, ${examples}`);
	const [, host = '', portText = ''] = match;
	if (host === '') throw invalid(`has no host: write host:port, ${examples}`);
	if (isIP(host) === 6) throw invalid(bracketsNeeded);
	// A name or IPv4 address without colons, or one bracketed IPv6 address.
	if (!/^[^:[\]]+$|^\[[^[\]]+\]$/.test(host)) throw invalid(`must be host:port, ${examples}`);
	const port = Number(portText);
	if (port < 1 || port > 65535) throw invalid('has a port outside 1 to 65535');
	if (!URL.canParse(`http://${host}/`)) throw invalid('has a host that is not valid');
	return { host: new URL(`http://${host}/`).hostname, port };
}
