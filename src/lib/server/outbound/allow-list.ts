import { isIP, SocketAddress } from 'node:net';
import type { HttpAllowEntry } from '../platform/http-allow.ts';

function canonicalAddress(address: string): string {
	return new SocketAddress({ address, family: isIP(address) === 6 ? 'ipv6' : 'ipv4' }).address;
}

/**
 * Answers whether an entry allows a request. A name entry allows that URL host (whatever it
 * resolves to); an IP entry allows a connection to that address, however the URL spelt the host.
 */
export function allowListMatcher(entries: readonly HttpAllowEntry[]) {
	const names = new Set<string>();
	const addresses = new Set<string>();
	for (const { host, port } of entries) {
		const literal = host.replace(/^\[(.*)\]$/, '$1');
		if (isIP(literal) === 0) names.add(`${host} ${port}`);
		else addresses.add(`${canonicalAddress(literal)} ${port}`);
	}
	return {
		host: (hostname: string, port: number) => names.has(`${hostname} ${port}`),
		address: (address: string, port: number) =>
			addresses.size > 0 && addresses.has(`${canonicalAddress(address)} ${port}`)
	};
}
