"use strict";
// The MCP Apps view side, shared by both pages: JSON-RPC 2.0 over postMessage with the host.
// The page asks the host to start it (ui/initialize), then renders the structured content of
// each tool result the host sends (ui/notifications/tool-result). It calls no tool at all:
// placing and approving an order stay with the model and the host's own approval prompt.
// Every text from a result goes in as a text node: the wire's text is data, never markup.

const PROTOCOL_VERSION = "2026-01-26";

/** An element; string children become text nodes (never parsed as HTML). */
function el(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** A money string from the wire ("1099.00") with thousands separators ("1,099.00"), as text. */
function money(value) {
  const text = String(value ?? "");
  const found = /^(-?)(\d+)(\.\d+)?$/.exec(text);
  if (!found) return text;
  return found[1] + found[2].replace(/\B(?=(\d{3})+(?!\d))/g, ",") + (found[3] || "");
}

/** An id shortened for a narrow column: its last block (the full id is the cell's title). */
function shortId(id) {
  const text = String(id ?? "");
  const tail = text.split("-").pop() || text;
  const span = el("span", "id", "…" + tail.slice(-6));
  span.title = text;
  return span;
}

/** A status word with a mark that does not depend on colour. */
function badge(kind, word) {
  const marks = { good: "✓ ", bad: "✗ ", wait: "… ", none: "– " };
  return el("span", "badge " + kind, (marks[kind] || "") + word);
}

function note(text) {
  return el("p", "note", text);
}

/** A table inside a region that scrolls sideways by keyboard when a column is too narrow. */
function table(label, headers, rows) {
  const head = el("tr", null, ...headers.map((h) => el("th", null, h)));
  const body = rows.map((cells) => el("tr", null, ...cells.map((c) => el("td", null, c))));
  const grid = el("table", null, el("caption", "sr-only", label), el("thead", null, head), el("tbody", null, ...body));
  const region = el("div", "scroll", grid);
  region.tabIndex = 0;
  region.setAttribute("role", "region");
  region.setAttribute("aria-label", label);
  return region;
}

/** What every result may carry besides its own shape: an error, a cut, a next page. */
function common(data, result) {
  const out = [];
  const error = data.error;
  if (result.isError || error) {
    out.push(el("h2", null, "The call failed"));
    if (error) {
      out.push(el("p", null, badge("bad", String(error.code ?? "error")), " ", String(error.message ?? "")));
      if (error.fix) out.push(el("p", null, "What to do: ", String(error.fix)));
    }
  }
  if (data.truncated) out.push(note(String(data.truncated)));
  if (data.next_cursor) out.push(note("More on the next page: the model can ask for it with next_cursor."));
  return out;
}

/** Start the page: handshake with the host, then render each tool result with `render`. */
function startApp(name, render) {
  const root = document.getElementById("app");
  const pending = new Map();
  let nextId = 1;
  const post = (message) => window.parent.postMessage(message, "*");
  const notify = (method, params) => post({ jsonrpc: "2.0", method, params });
  const request = (method, params) => {
    const id = nextId++;
    post({ jsonrpc: "2.0", id, method, params });
    return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
  };
  const show = (nodes) => {
    root.replaceChildren(...nodes);
    const box = document.documentElement;
    notify("ui/notifications/size-changed", { width: Math.ceil(box.scrollWidth), height: Math.ceil(box.scrollHeight) });
  };
  const onResult = (result) => {
    const data = result && typeof result.structuredContent === "object" ? result.structuredContent : null;
    if (!data) return show([note("This result carries no structured content to show.")]);
    show([...common(data, result), ...(data.error ? [] : render(data))]);
  };
  const answer = (message) => {
    const known = message.method === "ping" || message.method === "ui/resource-teardown";
    post(
      known
        ? { jsonrpc: "2.0", id: message.id, result: {} }
        : { jsonrpc: "2.0", id: message.id, error: { code: -32601, message: "Method not found" } },
    );
  };
  window.addEventListener("message", (event) => {
    if (event.source !== window.parent) return;
    const message = event.data;
    if (!message || message.jsonrpc !== "2.0") return;
    if (message.method === undefined) {
      const waiting = pending.get(message.id);
      pending.delete(message.id);
      if (waiting) (message.error ? waiting.reject : waiting.resolve)(message.error || message.result);
    } else if (message.id !== undefined) {
      answer(message);
    } else if (message.method === "ui/notifications/tool-result") {
      onResult(message.params);
    } else if (message.method === "ui/notifications/tool-input") {
      show([note("Waiting for the result…")]);
    } else if (message.method === "ui/notifications/tool-cancelled") {
      show([note("The call was cancelled: nothing to show.")]);
    }
  });
  const app = { name, version: "1" };
  request("ui/initialize", { appInfo: app, appCapabilities: {}, protocolVersion: PROTOCOL_VERSION })
    .then(() => notify("ui/notifications/initialized", {}))
    .catch(() => show([note("The host did not start this page.")]));
}
