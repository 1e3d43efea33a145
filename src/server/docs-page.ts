/**
 * The docs page (`GET /docs`): a static page with no data in it. It asks for an API key, keeps it
 * in the tab's sessionStorage, and reads `GET /v1/endpoints` with it to show each endpoint type:
 * schemas, implementations, routing, and a curl line to try it.
 */
export const DOCS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Strata models service</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
pre{background:#f5f5f7;padding:.75rem;overflow:auto;font-size:13px}
.row{display:flex;gap:1rem;flex-wrap:wrap}.row>div{flex:1;min-width:18rem}
.muted{color:#666}#error{color:#b00020}input{width:28rem;max-width:100%;font:inherit;padding:.3rem}
</style></head>
<body>
<h1>Strata models service</h1>
<p class="muted">Endpoint types, their implementations and routing. The OpenAPI document is at <a href="/v1/openapi.json">/v1/openapi.json</a> (it needs a key too).</p>
<form id="auth"><label>API key <input id="key" type="password" autocomplete="off" placeholder="strata_..."></label> <button>Show endpoints</button></form>
<p id="error"></p>
<div id="endpoints"></div>
<script>
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
async function show() {
  const key = sessionStorage.getItem("strata-key");
  if (!key) return;
  $("key").value = key;
  const res = await fetch("/v1/endpoints", { headers: { authorization: "Bearer " + key } });
  const body = await res.json();
  if (!res.ok) { $("error").textContent = body.error.code + ": " + body.error.message; return; }
  $("error").textContent = "";
  $("endpoints").innerHTML = body.endpoints.map((e) => \`
    <h2 id="\${esc(e.name)}">\${esc(e.name)}</h2>
    <p>\${esc(e.description ?? "")}</p>
    <p><b>implementations:</b> \${e.implementations.map((i) => esc(i.name)).join(", ")}
       · <b>routing:</b> <code>\${esc(JSON.stringify(e.routing))}</code></p>
    <div class="row"><div><b>input</b><pre>\${esc(JSON.stringify(e.input, null, 2))}</pre></div>
    <div><b>output</b><pre>\${esc(JSON.stringify(e.output, null, 2))}</pre></div></div>
    <pre>curl -s \${esc(location.origin)}/v1/endpoints/\${esc(e.name)} -H 'authorization: Bearer $KEY' -H 'content-type: application/json' -d '{...}'</pre>\`).join("");
}
$("auth").addEventListener("submit", (ev) => { ev.preventDefault(); sessionStorage.setItem("strata-key", $("key").value.trim()); show(); });
show();
</script>
</body></html>
`;
