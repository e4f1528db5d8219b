// The official MCP Apps host bridge, bundled by esbuild into one browser module for host.html.
export { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge";
