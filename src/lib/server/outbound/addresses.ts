import { BlockList, isIP } from 'node:net';

/**
 * Address ranges outbound HTTP may not reach unless allow-listed, after the IANA special-purpose
 * registries. Order matters: the first range holding an address names it in error messages.
 */
const ipv4Ranges: [name: string, cidrs: string[]][] = [
	['"this network"', ['0.0.0.0/8']],
	['private network', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']],
	['carrier-grade NAT', ['100.64.0.0/10']],
	['loopback', ['127.0.0.0/8']],
	['cloud metadata', ['169.254.169.254/32']],
	['link-local', ['169.254.0.0/16']],
	['IETF protocol assignments', ['192.0.0.0/24']],
	['documentation', ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24']],
	['6to4 relay anycast', ['192.88.99.0/24']],
	['benchmarking', ['198.18.0.0/15']],
	['multicast', ['224.0.0.0/4']],
	['broadcast', ['255.255.255.255/32']],
	['reserved', ['240.0.0.0/4']]
];

const ipv6Ranges: [name: string, cidrs: string[]][] = [
	['unspecified', ['::/128']],
	['loopback', ['::1/128']],
	// Deprecated and unroutable, so blocked whole rather than judged by the IPv4 address inside.
	['IPv4-compatible', ['::/96']],
	['discard-only', ['100::/64']],
	['local-use NAT64', ['64:ff9b:1::/48']],
	// Teredo hides the client's IPv4 address inverted; the protocol is obsolete, so none is needed.
	['Teredo', ['2001::/32']],
	['benchmarking', ['2001:2::/48']],
	['ORCHID', ['2001:10::/28', '2001:20::/28']],
	['documentation', ['2001:db8::/32', '3fff::/20']],
	['cloud metadata', ['fd00:ec2::254/128']],
	['unique-local', ['fc00::/7']],
	['site-local', ['fec0::/10']],
	['link-local', ['fe80::/10']],
	['multicast', ['ff00::/8']],
	// Everything outside global unicast (2000::/3) that the forms below do not cover.
	[
		'reserved',
		['::/8', '100::/8', '200::/7', '400::/6', '800::/5', '1000::/4', '4000::/2', '8000::/1']
	]
];

/** IPv6 forms that carry an IPv4 address: they are as blocked as the address they carry. */
const ipv4Embeddings: {
	form: string;
	prefix: [string, number];
	at: (network: string) => string;
}[] = [
	{ form: 'IPv4-mapped', prefix: ['::ffff:0:0', 96], at: (network) => `::ffff:${network}` },
	{ form: 'IPv4-translated', prefix: ['::ffff:0:0:0', 96], at: (network) => `::ffff:0:${network}` },
	{ form: 'NAT64', prefix: ['64:ff9b::', 96], at: (network) => `64:ff9b::${network}` },
	{ form: '6to4', prefix: ['2002::', 16], at: (network) => `2002:${hexGroups(network)}::` }
];

/** `10.1.2.3` as the two IPv6 groups `a01:203`, for the one form (6to4) that puts it mid-address. */
function hexGroups(ipv4: string): string {
	const [a = 0, b = 0, c = 0, d = 0] = ipv4.split('.').map(Number);
	return `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}

interface NamedList {
	name: string;
	list: BlockList;
}

function namedLists(
	ranges: [string, string[]][],
	type: 'ipv4' | 'ipv6',
	place: (network: string, prefix: number) => [string, number] = (network, prefix) => [
		network,
		prefix
	]
): NamedList[] {
	return ranges.map(([name, cidrs]) => {
		const list = new BlockList();
		for (const cidr of cidrs) {
			const [network = '', prefix = ''] = cidr.split('/');
			list.addSubnet(...place(network, Number(prefix)), type);
		}
		return { name, list };
	});
}

const ipv4Lists = namedLists(ipv4Ranges, 'ipv4');
const ipv6Lists = namedLists(ipv6Ranges, 'ipv6');
const embeddings = ipv4Embeddings.map(({ form, prefix, at }) => {
	const prefixList = new BlockList();
	prefixList.addSubnet(prefix[0], prefix[1], 'ipv6');
	const lists = namedLists(ipv4Ranges, 'ipv6', (network, bits) => [at(network), prefix[1] + bits]);
	return { form, prefixList, lists };
});

function firstMatch(lists: NamedList[], address: string, type: 'ipv4' | 'ipv6'): string | null {
	return lists.find(({ list }) => list.check(address, type))?.name ?? null;
}

/**
 * The blocked range an IP address is in (`loopback`, `private network`, …), or null when it is a
 * public address. Anything that is not an IP address counts as blocked.
 */
export function blockedRange(address: string): string | null {
	// A zone index (`fe80::1%eth0`) names an interface, not a different address.
	const bare = address.split('%')[0] ?? '';
	const family = isIP(bare);
	if (family === 4) return firstMatch(ipv4Lists, bare, 'ipv4');
	if (family !== 6) return 'not an IP address';
	for (const { form, prefixList, lists } of embeddings) {
		if (!prefixList.check(bare, 'ipv6')) continue;
		const range = firstMatch(lists, bare, 'ipv6');
		return range === null ? null : `${range}, ${form}`;
	}
	return firstMatch(ipv6Lists, bare, 'ipv6');
}
