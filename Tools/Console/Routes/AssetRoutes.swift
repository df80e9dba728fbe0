import Hummingbird
import NIOCore
import ServiceKit

/// The console's only assets, served from the binary (no CDN, nothing fetched at run time): one
/// stylesheet, and one small script for the live page (every other page works without script).
struct AssetRoutes {
    func add(to routes: EdgeRoutes) {
        routes.getOpen("/assets/console.css") { _, _, _ in Self.asset(Assets.css, type: "text/css; charset=utf-8") }
        routes.getOpen("/assets/live.js") { _, _, _ in Self.asset(Assets.liveScript, type: "text/javascript; charset=utf-8") }
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "max-age=300"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

enum Assets {
    static let css = """
        :root { --fg: #1d2430; --muted: #5b6576; --line: #d7dce4; --bg: #f7f8fa; --accent: #2457c5; --bad: #b3261e; --good: #1e7b34; --warn: #8a5a00; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
        header { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.2rem; background: #fff; border-bottom: 1px solid var(--line); }
        header nav { display: flex; gap: 1rem; flex: 1; }
        header nav a { color: var(--fg); text-decoration: none; padding: .2rem 0; }
        header nav a[aria-current] { border-bottom: 2px solid var(--accent); font-weight: 600; }
        .brand { font-weight: 700; }
        .signout { display: flex; gap: .5rem; align-items: center; color: var(--muted); }
        main { padding: 1rem 1.2rem 3rem; max-width: 1400px; }
        main.signin, main.problem { max-width: 720px; margin: 3rem auto; background: #fff; border: 1px solid var(--line); padding: 1.5rem 2rem; }
        h1 { font-size: 1.35rem; margin: .2rem 0 1rem; }
        h2 { font-size: 1.1rem; margin: 1.6rem 0 .6rem; }
        table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
        th, td { text-align: left; padding: .35rem .55rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { background: #eef1f5; font-weight: 600; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
        code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
        pre { background: #fff; border: 1px solid var(--line); padding: .6rem; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
        form.filters { display: flex; flex-wrap: wrap; gap: .6rem; align-items: end; margin-bottom: 1rem; }
        form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
        input, select, textarea, button { font: inherit; padding: .3rem .45rem; border: 1px solid var(--line); border-radius: 3px; background: #fff; }
        textarea { width: 100%; font-family: ui-monospace, monospace; }
        button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
        button.danger { background: var(--bad); border-color: var(--bad); }
        .notice { background: #fff7e0; border: 1px solid #f0d48a; padding: .5rem .8rem; }
        .bad, .state-CANCELLED, .ready-no { color: var(--bad); font-weight: 600; }
        .good, .state-CONFIRMED, .ready-yes { color: var(--good); font-weight: 600; }
        .state-PENDING, .warn { color: var(--warn); font-weight: 600; }
        .muted { color: var(--muted); }
        .pager { display: flex; gap: 1rem; margin: .8rem 0; }
        .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: .8rem; }
        .card { background: #fff; border: 1px solid var(--line); padding: .7rem .9rem; min-width: 0; overflow-x: auto; }
        .card h3 { margin: 0 0 .4rem; font-size: 1rem; }
        svg.sequence { background: #fff; border: 1px solid var(--line); max-width: 100%; height: auto; }
        svg.sequence text { font: 11px system-ui, sans-serif; fill: var(--fg); }
        svg.sequence .lifeline { stroke: #9aa4b4; stroke-dasharray: 4 3; }
        svg.sequence .arrow { stroke: var(--accent); stroke-width: 1.4; fill: none; }
        svg.sequence .arrow.deadletter { stroke: var(--bad); }
        svg.sequence .head { fill: var(--accent); }
        svg.sequence .head.deadletter { fill: var(--bad); }
        svg.sequence .actor { fill: #eef1f5; stroke: #9aa4b4; }
        ul.live { list-style: none; padding: 0; }
        ul.live li { background: #fff; border: 1px solid var(--line); margin: .25rem 0; padding: .35rem .6rem; }
        """

    /// The live page's stream: each server-sent event becomes a line at the top of the list, and
    /// the rates refresh. Text only (textContent), never markup.
    static let liveScript = """
        "use strict";
        (function () {
          var list = document.getElementById("live-events");
          var status = document.getElementById("live-status");
          if (!list || !window.EventSource) { return; }
          var source = new EventSource("/live/events");
          function add(kind, data) {
            var item = document.createElement("li");
            item.className = "event-" + kind;
            var time = new Date(data.atMs).toISOString();
            item.textContent = time + "  " + kind + "  " + data.orderId + "  " + data.customerId + "  " + data.detail;
            list.insertBefore(item, list.firstChild);
            while (list.children.length > 200) { list.removeChild(list.lastChild); }
          }
          ["confirmed", "cancelled", "notification"].forEach(function (kind) {
            source.addEventListener(kind, function (event) { add(kind, JSON.parse(event.data)); });
          });
          source.addEventListener("rates", function (event) {
            var rates = JSON.parse(event.data);
            document.getElementById("rate-confirmed").textContent = rates.confirmed.toFixed(2);
            document.getElementById("rate-cancelled").textContent = rates.cancelled.toFixed(2);
          });
          source.onopen = function () { status.textContent = "connected"; };
          source.onerror = function () { status.textContent = "reconnecting…"; };
        })();
        """
}
