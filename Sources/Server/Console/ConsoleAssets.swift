import Foundation
import Hummingbird

/// The console's style sheet and script, served from `/ui/static/`. They are kept in the binary (not files beside
/// it) so that one executable is the whole server; both are ours and small, and the pages work without the script
/// (they are then not live).
enum ConsoleAssets {
    static func response(for path: [String]) -> Response {
        let (body, type): (String, String)
        switch path {
        case ["console.css"]: (body, type) = (css, "text/css; charset=utf-8")
        case ["console.js"]: (body, type) = (script, "text/javascript; charset=utf-8")
        default:
            return Response(
                status: .notFound, headers: [.contentType: "text/plain"],
                body: .init(byteBuffer: ByteBuffer(string: "No such file.\n")))
        }
        var headers: HTTPFields = [.contentType: type, .cacheControl: "public, max-age=300"]
        Console.securityHeaders(&headers)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static let script = #"""
        "use strict";
        // Slipway console: live updates over Server-Sent Events, log search and a log that grows while its event runs.
        (function () {
          const live = document.body.dataset.live;
          if (live && window.EventSource) {
            const source = new EventSource(live);
            source.addEventListener("update", function (message) {
              const update = JSON.parse(message.data);
              if (typeof update.html === "string") {
                document.getElementById("overview-live").innerHTML = update.html;
                return;
              }
              applyDeployment(update);
              if (update.finished) { source.close(); }
            });
            source.addEventListener("end", function () { source.close(); });
          }

          function applyDeployment(update) {
            const head = document.getElementById("deployment-head");
            if (head) { head.innerHTML = update.head; }
            const body = document.getElementById("hosts");
            if (!body) { return; }
            const open = new Set();
            body.querySelectorAll("details[open]").forEach(function (details) { open.add(details.closest("tr").id); });
            if (update.full) {
              body.innerHTML = update.rows.map(function (row) { return row.html; }).join("");
            } else {
              // All changed rows are parsed at once, then put in place: one parse, however many hosts moved.
              const parsed = document.createElement("template");
              parsed.innerHTML = update.rows.map(function (row) { return row.html; }).join("");
              Array.from(parsed.content.children).forEach(function (row) {
                const existing = document.getElementById(row.id);
                if (existing) { existing.replaceWith(row); } else { body.appendChild(row); }
              });
            }
            if (body.dataset.axis !== update.axis) {
              body.querySelectorAll("svg").forEach(function (svg) { svg.setAttribute("viewBox", update.axis); });
              body.dataset.axis = update.axis;
            }
            open.forEach(function (id) {
              const details = document.querySelector("#" + id + " details");
              if (details) { details.open = true; }
            });
          }

          // A host's events are fetched when its disclosure is opened.
          document.addEventListener("toggle", function (event) {
            const details = event.target;
            if (!details.open || !details.dataset || !details.dataset.events || details.dataset.loaded) { return; }
            details.dataset.loaded = "yes";
            fetch(details.dataset.events, { credentials: "same-origin" }).then(function (response) {
              return response.ok ? response.text() : Promise.reject(response.status);
            }).then(function (html) {
              const fallback = details.querySelector("p");
              if (fallback) { fallback.remove(); }
              details.insertAdjacentHTML("beforeend", html);
            }).catch(function () { delete details.dataset.loaded; });
          }, true);

          const search = document.getElementById("log-search");
          const log = document.getElementById("log");
          function filterLog() {
            if (!search || !log) { return; }
            const needle = search.value.toLowerCase();
            let shown = 0;
            log.querySelectorAll("li").forEach(function (line) {
              const match = needle === "" || line.textContent.toLowerCase().indexOf(needle) >= 0;
              line.hidden = !match;
              if (match) { shown += 1; }
            });
            const count = document.getElementById("log-matches");
            if (count) { count.textContent = needle === "" ? "" : shown + " matching lines"; }
          }
          if (search) { search.addEventListener("input", filterLog); }

          if (log && log.dataset.liveLog) {
            const url = log.dataset.liveLog;
            const poll = function () {
              fetch(url, { credentials: "same-origin" }).then(function (response) {
                const status = response.headers.get("X-Slipway-Event-Status");
                return response.text().then(function (text) {
                  const atEnd = window.innerHeight + window.scrollY >= document.body.scrollHeight - 4;
                  log.innerHTML = text;
                  filterLog();
                  const badge = document.querySelector("#event-status .status");
                  if (badge && status) {
                    badge.textContent = status;
                    badge.className = "status status-" + status.toLowerCase();
                  }
                  if (atEnd) { window.scrollTo(0, document.body.scrollHeight); }
                  if (status === "InProgress" || status === "Pending") { setTimeout(poll, 1000); }
                });
              }).catch(function () { setTimeout(poll, 3000); });
            };
            setTimeout(poll, 1000);
          }
        })();
        """#

    static let css = #"""
        :root { --fg: #1b1f24; --muted: #57606a; --bg: #fff; --line: #d0d7de; --accent: #0b57d0;
          --ok: #1a7f37; --bad: #cf222e; --run: #0969da; --wait: #9a6700; --skip: #8c959f; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
        a { color: var(--accent); }
        a:focus, button:focus, input:focus, select:focus, summary:focus { outline: 3px solid #fb8500; outline-offset: 1px; }
        .skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px; }
        .bar { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; padding: 8px 16px; background: #24292f; color: #fff; }
        .bar a, .bar .who { color: #fff; } .brand { font-weight: 700; margin-right: 12px; }
        .bar nav ul { display: flex; gap: 14px; list-style: none; margin: 0; padding: 0; }
        .sign-out { margin-left: auto; display: flex; gap: 8px; align-items: center; }
        main { padding: 16px; max-width: 1400px; margin: 0 auto; }
        h1 { font-size: 1.5em; margin: 0.3em 0; } h2 { font-size: 1.15em; margin-top: 1.5em; }
        .table-wrap { overflow-x: auto; }
        table { border-collapse: collapse; width: 100%; } caption { text-align: left; color: var(--muted); padding: 4px 0; }
        th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
        .status { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 0.85em; font-weight: 600; border: 1px solid currentColor; }
        .status-succeeded { color: var(--ok); } .status-failed, .status-stopped { color: var(--bad); }
        .status-inprogress, .status-baking { color: var(--run); } .status-ready, .status-queued, .status-created, .status-pending { color: var(--wait); }
        .status-skipped, .status-none, .status-unknown { color: var(--skip); }
        .alert { border-left: 4px solid var(--bad); padding: 6px 10px; background: #fff1f0; }
        .facts, .counts { display: flex; flex-wrap: wrap; gap: 6px 24px; margin: 8px 0; }
        .facts dt, .counts dt { color: var(--muted); font-size: 0.85em; } .facts dd, .counts dd { margin: 0; }
        .counts dd { font-size: 1.3em; font-weight: 600; }
        .actions { display: flex; flex-wrap: wrap; gap: 8px; margin: 12px 0; } form.inline { display: inline; }
        button { font: inherit; padding: 5px 12px; border: 1px solid var(--line); border-radius: 6px; background: #f6f8fa; cursor: pointer; }
        button.danger { color: #fff; background: var(--bad); border-color: var(--bad); }
        .timeline .track { width: 45%; min-width: 160px; } .track svg { width: 100%; height: 14px; display: block; background: #f6f8fa; }
        .ev { stroke: #fff; stroke-width: 1px; vector-effect: non-scaling-stroke; } .ev-succeeded { fill: var(--ok); } .ev-failed { fill: var(--bad); } .ev-inprogress { fill: var(--run); }
        .ev-skipped, .ev-pending { fill: var(--skip); } .ev-unknown { fill: var(--wait); }
        tr.host-failed th { color: var(--bad); } .label { font-size: 0.8em; color: var(--muted); border: 1px solid var(--line); padding: 0 4px; }
        ol.events { margin: 4px 0; padding-left: 18px; } .note, .empty, .hint { color: var(--muted); }
        .findings { color: var(--fg); } .revision { font-family: ui-monospace, monospace; word-break: break-all; }
        .traffic svg { width: 100%; max-width: 480px; height: 12px; display: block; } .fleet-blue { fill: #0969da; } .fleet-green { fill: var(--ok); }
        .crumbs { color: var(--muted); font-size: 0.9em; }
        .filters { display: flex; flex-wrap: wrap; gap: 6px 10px; align-items: center; margin: 8px 0; }
        .sign-in { max-width: 380px; margin: 40px auto; } .sign-in form { display: grid; gap: 6px; }
        input, select { font: inherit; padding: 4px 6px; }
        .log-tools { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; margin: 8px 0; }
        ol.log { font: 13px/1.4 ui-monospace, monospace; background: #0d1117; color: #e6edf3; padding: 8px 8px 8px 48px; overflow-x: auto; }
        ol.log li { white-space: pre-wrap; word-break: break-word; } .stamp { color: #8b949e; margin-right: 6px; }
        li.stream-stderr .text, .legend .stream-stderr { color: #ff7b72; } .legend .stream-stderr { color: var(--bad); }
        pre.tail { background: #f6f8fa; padding: 8px; white-space: pre-wrap; }
        .tag { font-family: ui-monospace, monospace; font-size: 0.9em; } ul.plain { padding-left: 18px; }
        .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
        @media (max-width: 700px) { main { padding: 8px; } .timeline .track { min-width: 100px; } th, td { padding: 4px; } }
        """#
}
