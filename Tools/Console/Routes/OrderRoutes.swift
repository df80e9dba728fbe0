import DeadLetterQueue
import EventSchema
import Foundation
import Hummingbird
import Kafka
import NIOCore
import NIOHTTP1
import SagaAPI
import SagaTimeline
import ServiceKit

/// `GET /orders`: search by order id, customer or state, newest first, paged (from the index).
/// `GET /orders/{orderId}`: the order's saga: a sequence diagram, every event with its topic,
/// partition, offset and time, the state each service holds for it (read from the services
/// with the operator's token), the dead letters it caused, and a link to its trace.
/// `GET /orders/{orderId}/sequence.svg`: the diagram alone.
struct OrderRoutes {
    let dependencies: ConsoleDependencies
    let layout: Layout

    func add(to routes: EdgeRoutes) {
        routes.get("/orders", .requires(.operator)) { request, _, caller in
            try list(request, caller: caller)
        }
        routes.get("/orders/{orderId}", .requires(.operator)) { request, context, caller in
            let orderId = try Self.orderId(context)
            let page = try await OrderPage.load(orderId: orderId, dependencies: dependencies,
                                                reader: ActingOperator.reading(request, caller: caller, sessions: dependencies.sessions))
            return layout.page("Order \(orderId)", section: .orders, session: dependencies.sessions.session(of: request), page.html)
        }
        routes.get("/orders/{orderId}/sequence.svg", .requires(.operator)) { request, context, _ in
            let orderId = try Self.orderId(context)
            let (timeline, letters, _) = try await OrderPage.timeline(orderId: orderId, dependencies: dependencies)
            let svg = SequenceDiagram.svg(timeline, deadLetters: letters)
            return Response(status: .ok, headers: [.contentType: "image/svg+xml"], body: .init(byteBuffer: ByteBuffer(string: svg.raw)))
        }
    }

    static func orderId(_ context: EdgeContext) throws -> String {
        guard let id = context.parameters.get("orderId"), (1...128).contains(id.utf8.count),
              id.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw Problem.badRequest("an order id is 1 to 128 visible ASCII characters")
        }
        return id
    }

    func list(_ request: Request, caller: Caller) throws -> Response {
        let query = request.uri.queryParameters
        let paging = try Paging(request)
        let orderId = query.get("orderId").map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        let customer = query.get("customer").map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        var state: OrderEntry.State?
        if let text = query.get("state"), !text.isEmpty {
            guard let value = OrderEntry.State(rawValue: text) else {
                throw Problem.badRequest("state is one of \(OrderEntry.State.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            state = value
        }
        let (items, more) = dependencies.index.orders(.init(orderId: orderId, customerId: customer, state: state),
                                                      offset: paging.offset, limit: Paging.pageSize)
        let stateOptions = HTML.join([HTML(trusted: "<option value=\"\">any</option>")] + OrderEntry.State.allCases.map { option -> HTML in
            option == state ? "<option selected>\(option.rawValue)</option>" : "<option>\(option.rawValue)</option>"
        })
        let rows = items.map { entry -> HTML in
            """
            <tr><td class="mono"><a href="/orders/\(URLText.component(entry.orderId))">\(entry.orderId)</a></td>\
            <td><a href="/orders?customer=\(URLText.component(entry.customerId))">\(entry.customerId)</a></td>\
            <td class="state-\(entry.state.rawValue)">\(entry.state.rawValue)\(entry.cancelReason.map { " (\($0))" } ?? "")</td>\
            <td>\(entry.placedAtMs.map(TimeText.iso) ?? "")</td><td class="num">\(entry.totalText)</td>\
            <td class="num">\(entry.deadLetters > 0 ? "\(entry.deadLetters)" : "")</td></tr>
            """
        }
        let stats = dependencies.index.progress
        let body: HTML = """
            <form class="filters" method="get" action="/orders">
            <label>Order id<input name="orderId" value="\(orderId ?? "")" size="38"></label>
            <label>Customer<input name="customer" value="\(customer ?? "")"></label>
            <label>State<select name="state">\(stateOptions)</select></label>
            <button type="submit">Search</button></form>
            <p class="muted">\(stats.orders) orders indexed from the topics.</p>
            <table id="orders"><thead><tr><th>Order</th><th>Customer</th><th>State</th><th>Placed</th><th class="num">Total</th><th class="num">Dead letters</th></tr></thead>
            <tbody>\(rows)</tbody></table>
            \(items.isEmpty ? HTML("<p>No order matches.</p>") : .empty)
            \(paging.links(path: "/orders", query: [("orderId", orderId), ("customer", customer), ("state", state?.rawValue)], more: more))
            """
        return layout.page("Orders", section: .orders, session: dependencies.sessions.session(of: request), body)
    }
}

/// One order's page, read when it is asked for: the order's records in the few offsets the
/// index says they are at, and each service's own state for it.
struct OrderPage: Sendable {
    var timeline: OrderTimeline
    var entry: OrderEntry?
    var deadLetters: [DeadLetterRecord]
    var rejected: [OrderRecordReader.Rejected]
    var states: [(service: String, text: String, ok: Bool)]
    var jaegerURL: String?

    /// The timeline and dead letters of an order; 404 when the topics hold nothing of it.
    static func timeline(orderId: String, dependencies: ConsoleDependencies)
        async throws -> (OrderTimeline, [DeadLetterRecord], OrderRecordReader.Contents) {
        let index = dependencies.index
        let entry = index.order(orderId)
        var plan: [String: Range<Int64>] = [:]
        for (i, topic) in SagaIndex.topics.enumerated() {
            // Its dead letters come from the index (below), not as steps of the saga.
            if topic == TopicCatalog.deadLetters.name {
                plan[topic] = 0..<0
            } else if let span = entry?.spans[i] {
                plan[topic] = span.first..<Int64.max
            } else if let count = index.partitionCount(topic) {
                // Nothing of the order indexed here: only what the index has not read yet.
                let home = OrderRecordReader.home(of: orderId, topic: topic, partitionCount: count)
                plan[topic] = (index.position(home) ?? 0)..<Int64.max
            }
        }
        let contents: OrderRecordReader.Contents
        do {
            contents = try await dependencies.records.read(orderId: orderId, within: plan)
        } catch let failure as OrderRecordReader.Failure {
            throw Problem.unavailable("cannot read the order's records: \(failure.description)", retryAfterSeconds: 5)
        }
        var filter = DeadLetterFilter()
        filter.orderId = orderId
        let letters = Array(index.deadLetters(filter, offset: 0, limit: 1000).items.reversed())
        let timeline = OrderTimeline.build(orderId: orderId, records: contents.records.filter { $0.topic != TopicCatalog.deadLetters.name })
        guard !timeline.steps.isEmpty || !letters.isEmpty || entry != nil else {
            throw Problem.notFound("no record of order \(orderId) on the topics")
        }
        return (timeline, letters, contents)
    }

    static func load(orderId: String, dependencies: ConsoleDependencies, reader: ActingOperator) async throws -> OrderPage {
        let (timeline, letters, contents) = try await timeline(orderId: orderId, dependencies: dependencies)
        var states: [(service: String, text: String, ok: Bool)] = []
        await withTaskGroup(of: (Int, String, String, Bool).self) { group in
            for (i, (service, path)) in OrderTimeline.statePaths(of: orderId).enumerated() {
                let url = dependencies.directory.primary(service) + path
                group.addTask {
                    do {
                        let reply = try await dependencies.client.send(.GET, url, token: reader.token)
                        if reply.status == 200 { return (i, service, Self.pretty(reply.body), true) }
                        if reply.status == 404 { return (i, service, "nothing held for this order", true) }
                        return (i, service, "HTTP \(reply.status) \(ServiceClient.problemDetail(reply.body))", false)
                    } catch {
                        return (i, service, "\(error)", false)
                    }
                }
            }
            var collected: [(Int, String, String, Bool)] = []
            for await result in group { collected.append(result) }
            states = collected.sorted { $0.0 < $1.0 }.map { (service: $0.1, text: $0.2, ok: $0.3) }
        }
        return OrderPage(timeline: timeline, entry: dependencies.index.order(orderId), deadLetters: letters,
                         rejected: contents.rejected, states: states, jaegerURL: dependencies.jaegerURL)
    }

    static func pretty(_ body: [UInt8]) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)),
              let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return String(decoding: body.prefix(4096), as: UTF8.self) }
        let text = String(decoding: data, as: UTF8.self)
        return text.count > 4000 ? String(text.prefix(4000)) + "\n…" : text
    }

    var html: HTML {
        let services = Set(timeline.steps.map(\.service))
        let summary: HTML = {
            guard let entry else { return "<p class=\"muted\">Not in the index yet.</p>" }
            return """
                <p>Customer <a href="/orders?customer=\(URLText.component(entry.customerId))">\(entry.customerId)</a> · \
                <span class="state-\(entry.state.rawValue)" id="order-state">\(entry.state.rawValue)\(entry.cancelReason.map { " (\($0))" } ?? "")</span> · \
                \(entry.totalText) · \(timeline.steps.count) events across \(services.count) services \
                (<span id="services-seen">\(services.sorted().joined(separator: ", "))</span>) in \(timeline.totalMs) ms</p>
                """
        }()
        let traces = HTML.join(timeline.traceIds.map { id -> HTML in
            if let jaegerURL { return "<a href=\"\(jaegerURL)/trace/\(id)\">trace \(id)</a>" }
            return "<span class=\"mono\">trace \(id)</span>"
        }, separator: " · ")
        let steps = timeline.steps.map { step -> HTML in
            """
            <tr><td class="num">+\(step.atMs) ms</td><td>\(step.service)</td><td>\(step.eventType)</td>\
            <td class="mono">\(step.topic)</td><td class="num">\(step.partition)</td><td class="num">\(step.offset)</td>\
            <td>\(TimeText.iso(step.producedAtMs))</td><td class="num">\(step.outboxWaitMs.map { "\($0) ms" } ?? "")</td>\
            <td>\(step.consumedBy.joined(separator: ", "))</td><td class="mono">\(step.eventId)</td></tr>
            """
        }
        let stateCards = states.map { state -> HTML in
            """
            <div class="card" id="state-\(state.service)"><h3>\(state.service)</h3>\
            <pre class="\(state.ok ? "" : "bad")">\(state.text)</pre></div>
            """
        }
        let letterRows = deadLetters.map { letter -> HTML in
            """
            <tr><td class="mono"><a href="/deadletters/\(letter.idText)">\(letter.idText)</a></td><td>\(letter.service)</td>\
            <td>\(letter.kind)</td><td class="mono">\(letter.originText)</td><td>\(String(letter.letter.error.prefix(200)))</td></tr>
            """
        }
        let rejectedRows = rejected.map { record -> HTML in
            "<li class=\"mono\">\(record.topic)[\(record.partition)]@\(record.offset): \(record.reason)</li>"
        }
        return """
            \(summary)
            \(traces.raw.isEmpty ? HTML.empty : "<p>\(traces)</p>")
            <h2>Sequence</h2>
            <figure>\(SequenceDiagram.svg(timeline, deadLetters: deadLetters))</figure>
            <h2>Events</h2>
            <table id="timeline"><thead><tr><th class="num">At</th><th>Service</th><th>Event</th><th>Topic</th><th class="num">Partition</th>\
            <th class="num">Offset</th><th>Produced</th><th class="num">Outbox wait</th><th>Acted on by</th><th>Event id</th></tr></thead>
            <tbody>\(steps)</tbody></table>
            <h2>What each service holds</h2>
            <div class="cards">\(stateCards)</div>
            <h2>Dead letters it caused</h2>
            \(deadLetters.isEmpty ? HTML("<p>None.</p>") : "<table id=\"order-deadletters\"><thead><tr><th>Id</th><th>Service</th><th>Kind</th><th>Origin</th><th>Error</th></tr></thead><tbody>\(letterRows)</tbody></table>")
            \(rejected.isEmpty ? HTML.empty : "<h2>Records keyed by this order that are not its events</h2><ul>\(rejectedRows)</ul>")
            """
    }
}
