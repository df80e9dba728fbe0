import DeadLetterQueue
import EventSchema
import Foundation
import Hummingbird
import SagaAPI
import ServiceKit

/// `GET /deadletters`: every dead letter a service signed, newest first, filtered by service,
/// kind, origin topic and time, paged. `GET /deadletters/{id}`: one, decoded (headers, the
/// payload as JSON when it decodes, its bytes otherwise). `POST /deadletters/replay`: asks for
/// confirmation of a selection; `POST /deadletters/replay/confirm`: replays it with the code
/// `kafka-tool deadletters replay` runs (`DeadLetterReplayer`: operator-signed, refused when it
/// cannot be replayed, processed once however often replayed), and logs who did it.
struct DeadLetterRoutes {
    let dependencies: ConsoleDependencies
    let layout: Layout

    func add(to routes: EdgeRoutes) {
        routes.get("/deadletters", .requires(.operator)) { request, _, caller in
            try list(request, reader: ActingOperator.reading(request, caller: caller, sessions: dependencies.sessions))
        }
        routes.get("/deadletters/{id}", .requires(.operator)) { request, context, caller in
            let letter = try Self.letter(context.parameters.get("id") ?? "", in: dependencies.index)
            return layout.page("Dead letter \(letter.idText)", section: .deadLetters, session: dependencies.sessions.session(of: request),
                               show(letter, reader: ActingOperator.reading(request, caller: caller, sessions: dependencies.sessions)))
        }
        routes.post("/deadletters/replay", .requires(.operator)) { request, _, caller in
            let form = try await Form.parse(request)
            let actor = try ActingOperator.of(request, form: form, caller: caller, sessions: dependencies.sessions)
            let letters = try selection(form)
            return layout.page("Replay \(letters.count) dead letter\(letters.count == 1 ? "" : "s")?", section: .deadLetters,
                               session: dependencies.sessions.session(of: request), confirmation(letters, actor: actor))
        }
        routes.post("/deadletters/replay/confirm", .requires(.operator)) { request, _, caller in
            let form = try await Form.parse(request)
            let actor = try ActingOperator.of(request, form: form, caller: caller, sessions: dependencies.sessions)
            guard form.value("confirm") == "yes" else {
                throw Problem.badRequest("a replay is confirmed with confirm=yes (the confirmation page's button)")
            }
            let letters = try selection(form)
            guard let replayer = dependencies.replayer else {
                throw Problem.unavailable("this console was started without an operator's event key (--signing-key-file): it cannot sign replays")
            }
            let outcomes: [(DeadLetterRecord, DeadLetterReplayer.Outcome)]
            do {
                outcomes = try await replayer.replay(letters)
            } catch {
                dependencies.actions.record(subject: actor.subject, action: "replay \(letters.map(\.idText).joined(separator: ","))",
                                            outcome: "failed: \(error)")
                throw Problem.unavailable("the replay could not be sent: \(error)", retryAfterSeconds: 5)
            }
            for (letter, outcome) in outcomes {
                dependencies.actions.record(subject: actor.subject, action: "replay dead letter \(letter.idText) to \(letter.originText)",
                                            outcome: Self.text(outcome))
            }
            let rows = outcomes.map { letter, outcome -> HTML in
                """
                <tr><td class="mono"><a href="/deadletters/\(letter.idText)">\(letter.idText)</a></td><td class="mono">\(letter.originText)</td>\
                <td class="\(outcome.succeeded ? "good" : "bad")">\(Self.text(outcome))</td></tr>
                """
            }
            let body: HTML = """
                <p>Sent by \(actor.subject), signed with the operator's key. The consumers' inboxes apply each at most once, however often it is replayed.</p>
                <table id="replay-outcomes"><thead><tr><th>Dead letter</th><th>Origin</th><th>Outcome</th></tr></thead><tbody>\(rows)</tbody></table>
                <p><a href="/deadletters">Back to the dead letters</a></p>
                """
            let status: HTTPResponse.Status = outcomes.allSatisfy { $0.1.succeeded } ? .ok : .init(code: 207)
            var page = layout.page("Replayed", section: .deadLetters, session: dependencies.sessions.session(of: request), body)
            page.status = status
            return page
        }
    }

    static func text(_ outcome: DeadLetterReplayer.Outcome) -> String {
        switch outcome {
        case .replayed(let report): "replayed to \(report.topic)[\(report.partition)]@\(report.offset)"
        case .refused(let why): "refused: \(why)"
        case .failed(let why): "failed: \(why)"
        }
    }

    static func letter(_ text: String, in index: SagaIndex) throws -> DeadLetterRecord {
        let id: UUID
        do {
            id = try DeadLetterFilter.id(text)
        } catch {
            throw Problem.badRequest("\(error)")
        }
        guard let letter = index.deadLetter(id) else { throw Problem.notFound("no dead letter \(id.uuidString.lowercased()) on deadletter.v1") }
        return letter
    }

    /// The letters a form names (`id`, repeated), each one the index knows.
    func selection(_ form: Form) throws -> [DeadLetterRecord] {
        let ids = form.values("id")
        guard !ids.isEmpty else { throw Problem.badRequest("select at least one dead letter to replay") }
        guard ids.count <= Paging.pageSize * 4 else { throw Problem.badRequest("replay at most \(Paging.pageSize * 4) dead letters at once") }
        var seen = Set<UUID>()
        return try ids.compactMap { text in
            let letter = try Self.letter(text, in: dependencies.index)
            return seen.insert(letter.id).inserted ? letter : nil
        }
    }

    func filter(_ request: Request) throws -> DeadLetterFilter {
        let query = request.uri.queryParameters
        func given(_ name: String) -> String? {
            query.get(name).map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        do {
            var filter = DeadLetterFilter()
            filter.group = given("service")
            filter.kind = try given("kind").map { text throws(DeadLetterFilter.Invalid) in try DeadLetterFilter.kind(text) }
            if let origin = given("origin") { try filter.setOrigin(origin) }
            filter.orderId = given("orderId")
            filter.since = try given("since").map { text throws(DeadLetterFilter.Invalid) in try DeadLetterFilter.time(text, name: "since") }
            filter.until = try given("until").map { text throws(DeadLetterFilter.Invalid) in try DeadLetterFilter.time(text, name: "until") }
            return filter
        } catch {
            throw Problem.badRequest("\(error)")
        }
    }

    func list(_ request: Request, reader: ActingOperator) throws -> Response {
        let filter = try filter(request)
        let paging = try Paging(request)
        let (items, more, matching) = dependencies.index.deadLetters(filter, offset: paging.offset, limit: Paging.pageSize)
        let query = request.uri.queryParameters
        let keep: [(String, String?)] = ["service", "kind", "origin", "orderId", "since", "until"].map { ($0, query.get($0)) }
        func value(_ name: String) -> String { query.get(name) ?? "" }
        let services = HTML.join([HTML(trusted: "<option value=\"\">any</option>")] + ServiceDirectory.services.map { name -> HTML in
            name == filter.group ? "<option selected>\(name)</option>" : "<option>\(name)</option>"
        })
        let kinds = HTML.join([HTML(trusted: "<option value=\"\">any</option>")] + DeadLetterRecord.kindNames.map { name -> HTML in
            name == filter.kind ? "<option selected>\(name)</option>" : "<option>\(name)</option>"
        })
        let rows = items.map { letter -> HTML in
            """
            <tr><td><input type="checkbox" name="id" value="\(letter.idText)" aria-label="select \(letter.idText)"\
            \(letter.replayRefusal == nil ? HTML.empty : " disabled")></td>\
            <td class="mono"><a href="/deadletters/\(letter.idText)">\(letter.idText)</a></td><td>\(letter.time)</td>\
            <td>\(letter.service)</td><td>\(letter.kind)\(letter.letter.truncated ? " (truncated)" : "")</td>\
            <td class="mono">\(letter.originText)</td>\
            <td class="mono">\(letter.letter.orderID.isEmpty ? HTML.empty : "<a href=\"/orders/\(URLText.component(letter.letter.orderID))\">\(letter.letter.orderID)</a>")</td>\
            <td>\(String(letter.letter.error.prefix(160)))</td></tr>
            """
        }
        let body: HTML = """
            <form class="filters" method="get" action="/deadletters">
            <label>Service<select name="service">\(services)</select></label>
            <label>Kind<select name="kind">\(kinds)</select></label>
            <label>Origin topic[:partition[:offset]]<input name="origin" value="\(value("origin"))"></label>
            <label>Order id<input name="orderId" value="\(value("orderId"))"></label>
            <label>Since (ISO 8601)<input name="since" value="\(value("since"))"></label>
            <label>Until<input name="until" value="\(value("until"))"></label>
            <button type="submit">Filter</button></form>
            <p class="muted">\(matching) dead letters match.</p>
            <form method="post" action="/deadletters/replay">\(reader.csrfField)
            <table id="deadletters"><thead><tr><th></th><th>Id</th><th>Produced</th><th>Service</th><th>Kind</th><th>Origin</th><th>Order</th><th>Error</th></tr></thead>
            <tbody>\(rows)</tbody></table>
            \(items.isEmpty ? HTML("<p>No dead letter matches.</p>") : "<p><button type=\"submit\" id=\"replay-selected\">Replay the selected…</button></p>")
            </form>
            \(paging.links(path: "/deadletters", query: keep, more: more))
            """
        return layout.page("Dead letters", section: .deadLetters, session: dependencies.sessions.session(of: request), body)
    }

    func show(_ letter: DeadLetterRecord, reader: ActingOperator) -> HTML {
        let headers = letter.renderedHeaders.map { "<tr><td class=\"mono\">\($0.name)</td><td class=\"mono\">\($0.value)</td></tr>" as HTML }
        let payload: HTML = switch letter.payload {
        case .absent: "<p>No payload (null).</p>"
        case .decoded(let eventType, let json, _): "<p>Decoded as <strong>\(eventType)</strong>:</p><pre id=\"payload-json\">\(OrderPage.pretty(Array(json.utf8)))</pre>"
        case .raw(let bytes, let reason):
            "<p class=\"bad\">Not decodable: \(reason)</p><pre id=\"payload-bytes\">\(Self.hexDump(bytes))</pre>"
        }
        let replay: HTML = letter.replayRefusal.map { why -> HTML in "<p class=\"warn\">Cannot be replayed: \(why)</p>" } ?? """
            <form method="post" action="/deadletters/replay">\(reader.csrfField)<input type="hidden" name="id" value="\(letter.idText)">\
            <button type="submit" id="replay-one">Replay…</button></form>
            """
        let order: HTML = letter.letter.orderID.isEmpty ? "(none valid)"
            : "<a href=\"/orders/\(URLText.component(letter.letter.orderID))\">\(letter.letter.orderID)</a>"
        return """
            <table class="facts"><tbody>
            <tr><th>Where</th><td class="mono">\(letter.location)</td></tr>
            <tr><th>Produced</th><td>\(letter.time)</td></tr>
            <tr><th>Service</th><td>\(letter.service)</td></tr>
            <tr><th>Origin</th><td class="mono">\(letter.originText)</td></tr>
            <tr><th>Kind</th><td>\(letter.kind)</td></tr>
            <tr><th>Error</th><td id="letter-error">\(letter.letter.error)</td></tr>
            <tr><th>Order</th><td class="mono">\(order)</td></tr>
            <tr><th>Original size</th><td>\(letter.letter.originalSize) bytes\(letter.letter.truncated ? " (truncated to fit the broker)" : "")</td></tr>
            <tr><th>Key</th><td class="mono">\(letter.renderedKey)</td></tr>
            </tbody></table>
            <h2>Headers</h2>
            <table id="letter-headers"><tbody>\(headers)</tbody></table>
            <h2>Payload</h2>
            \(payload)
            \(replay)
            """
    }

    func confirmation(_ letters: [DeadLetterRecord], actor: ActingOperator) -> HTML {
        let (replayable, refused) = DeadLetterReplayer.partition(letters)
        let rows = replayable.map { letter -> HTML in
            """
            <li class="mono">\(letter.idText) → \(letter.originText) (\(letter.service), \(letter.kind))\
            <input type="hidden" name="id" value="\(letter.idText)"></li>
            """
        }
        let refusedRows = refused.map { letter, why -> HTML in "<li class=\"mono\">\(letter.idText): \(why)</li>" }
        let confirm: HTML = replayable.isEmpty ? "<p>Nothing to replay.</p>" : """
            <p>Each goes back to its origin topic and partition, signed with the operator's key, in the name of \(actor.subject).</p>
            <button type="submit" name="confirm" value="yes" id="confirm-replay" class="danger">Replay \(replayable.count)</button>
            """
        return """
            <form method="post" action="/deadletters/replay/confirm">\(actor.csrfField)
            <ul id="replay-selection">\(rows)</ul>
            \(refused.isEmpty ? HTML.empty : "<h2>Not replayable</h2><ul>\(refusedRows)</ul>")
            \(confirm)
            </form>
            <p><a href="/deadletters">Cancel</a></p>
            """
    }

    static func hexDump(_ bytes: [UInt8]) -> String {
        let shown = bytes.prefix(4096)
        var lines: [String] = []
        for start in stride(from: 0, to: shown.count, by: 16) {
            let row = shown[shown.startIndex + start ..< min(shown.endIndex, shown.startIndex + start + 16)]
            let hex = row.map { String(format: "%02x", $0) }.joined(separator: " ")
            let text = String(row.map { (0x20...0x7E).contains($0) ? Character(UnicodeScalar($0)) : "." })
            lines.append(String(format: "%08x  ", start) + hex.padding(toLength: 48, withPad: " ", startingAt: 0) + "  " + text)
        }
        if bytes.count > shown.count { lines.append("… \(bytes.count - shown.count) more bytes") }
        return lines.joined(separator: "\n")
    }
}
