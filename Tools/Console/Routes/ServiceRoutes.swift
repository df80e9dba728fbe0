import Foundation
import Hummingbird
import NIOHTTP1
import SagaAPI
import ServiceKit

/// `GET /services`: per service and instance, what its operator routes expose, read with the
/// signed-in operator's token: readiness and its reasons (`/readyz`), consumer lag per
/// partition and held partitions with why (`/consumer`), rows waiting in the outbox, the oldest
/// one's age, and the relay lease's holder and epoch (`/relay`). A held partition has a reset
/// action: `POST /services/reset` asks for confirmation, `POST /services/reset/confirm` calls
/// the instance's `POST /consumer/reset` in the operator's name (the service refuses a
/// partition that is not held, or not its own). `GET /alerts`: Alertmanager's firing alerts.
struct ServiceRoutes {
    let dependencies: ConsoleDependencies
    let layout: Layout

    struct InstanceState: Sendable {
        var service: String
        var url: String
        var readiness: Result<Readiness, ServiceClient.Failure>
        /// The reasons a 503 from /readyz gives.
        var notReady: [String]
        var consumer: Result<ConsumerView, ServiceClient.Failure>
        var relay: Result<RelayView, ServiceClient.Failure>
    }

    func add(to routes: EdgeRoutes) {
        routes.get("/services", .requires(.operator)) { request, _, caller in
            let reader = ActingOperator.reading(request, caller: caller, sessions: dependencies.sessions)
            let states = await Self.read(dependencies, token: reader.token)
            return layout.page("Services", section: .services, session: dependencies.sessions.session(of: request),
                               Self.render(states, reader: reader))
        }
        routes.post("/services/reset", .requires(.operator)) { request, _, caller in
            let form = try await Form.parse(request)
            let actor = try ActingOperator.of(request, form: form, caller: caller, sessions: dependencies.sessions)
            let reset = try ResetForm(form, directory: dependencies.directory)
            let body: HTML = """
                <p>Reset where <strong>\(reset.service)</strong>'s instance at <span class="mono">\(reset.instance)</span> resumes \
                <span class="mono">\(reset.topic)[\(reset.partition)]</span>: it will read from offset <strong>\(reset.next)</strong>, \
                and the records before it count as processed. The service refuses it unless the partition is held on that instance.</p>
                <form method="post" action="/services/reset/confirm">\(actor.csrfField)\(reset.hiddenFields)
                <label>Next offset <input name="next" value="\(reset.next)" inputmode="numeric"></label>
                <button type="submit" name="confirm" value="yes" id="confirm-reset" class="danger">Reset</button></form>
                <p><a href="/services">Cancel</a></p>
                """
            return layout.page("Reset a held partition?", section: .services, session: dependencies.sessions.session(of: request), body)
        }
        routes.post("/services/reset/confirm", .requires(.operator)) { request, _, caller in
            let form = try await Form.parse(request)
            let actor = try ActingOperator.of(request, form: form, caller: caller, sessions: dependencies.sessions)
            guard form.value("confirm") == "yes" else { throw Problem.badRequest("a reset is confirmed with confirm=yes (the confirmation page's button)") }
            let reset = try ResetForm(form, directory: dependencies.directory)
            let json = try JSONEncoder().encode(OffsetResetRequest(topic: reset.topic, partition: reset.partition, next: reset.next))
            let action = "reset \(reset.service) \(reset.instance) \(reset.topic)[\(reset.partition)] to next \(reset.next)"
            let reply: ServiceClient.Reply
            do {
                reply = try await dependencies.client.send(.POST, reset.instance + "/consumer/reset", token: actor.token, json: Array(json))
            } catch {
                dependencies.actions.record(subject: actor.subject, action: action, outcome: "\(error)")
                throw Problem.unavailable("the service did not answer: \(error)", retryAfterSeconds: 5)
            }
            let outcome = reply.status == 200 ? "done" : "refused: HTTP \(reply.status) \(ServiceClient.problemDetail(reply.body))"
            dependencies.actions.record(subject: actor.subject, action: action, outcome: outcome)
            let body: HTML = """
                <p id="reset-outcome" class="\(reply.status == 200 ? "good" : "bad")">\(outcome)</p>
                <pre>\(OrderPage.pretty(reply.body))</pre><p><a href="/services">Back to the services</a></p>
                """
            var page = layout.page("Reset", section: .services, session: dependencies.sessions.session(of: request), body)
            if reply.status != 200 { page.status = .init(code: reply.status == 401 || reply.status == 403 ? reply.status : 409) }
            return page
        }
        routes.get("/alerts", .requires(.operator)) { request, _, _ in
            layout.page("Alerts", section: .alerts, session: dependencies.sessions.session(of: request), await alerts())
        }
        routes.get("/actions", .requires(.operator)) { request, _, _ in
            let rows = dependencies.actions.recent.map { entry -> HTML in
                "<tr><td>\(TimeText.iso(entry.atMs))</td><td>\(entry.subject)</td><td>\(entry.action)</td><td>\(entry.outcome)</td></tr>"
            }
            let body: HTML = """
                <p class="muted">What operators did through this console since it started (also in its log).</p>
                <table id="actions"><thead><tr><th>When</th><th>Operator</th><th>Action</th><th>Outcome</th></tr></thead><tbody>\(rows)</tbody></table>
                """
            return layout.page("Actions", section: .actions, session: dependencies.sessions.session(of: request), body)
        }
    }

    /// Every instance of every service, asked at once.
    static func read(_ dependencies: ConsoleDependencies, token: String) async -> [InstanceState] {
        let client = dependencies.client
        var targets: [(String, String)] = []
        for service in ServiceDirectory.services {
            for url in dependencies.directory.instances[service] ?? [] { targets.append((service, url)) }
        }
        return await withTaskGroup(of: (Int, InstanceState).self) { group in
            for (i, (service, url)) in targets.enumerated() {
                group.addTask {
                    async let consumer = client.get(ConsumerView.self, url + "/consumer", token: token)
                    async let relay = client.get(RelayView.self, url + "/relay", token: token)
                    var notReady: [String] = []
                    let readiness: Result<Readiness, ServiceClient.Failure>
                    do {
                        let reply = try await client.send(.GET, url + "/readyz", token: token)
                        readiness = ServiceClient.decode(Readiness.self, reply)
                        if reply.status != 200, let problem = ServiceClient.problem(reply.body) {
                            notReady = problem.errors?.map { "\($0.pointer.dropFirst()): \($0.detail)" } ?? [problem.detail]
                        }
                    } catch let failure as ServiceClient.Failure {
                        readiness = .failure(failure)
                    } catch {
                        readiness = .failure(.unreachable("\(error)"))
                    }
                    return (i, InstanceState(service: service, url: url, readiness: readiness, notReady: notReady,
                                             consumer: await consumer, relay: await relay))
                }
            }
            var states: [(Int, InstanceState)] = []
            for await state in group { states.append(state) }
            return states.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    static func render(_ states: [InstanceState], reader: ActingOperator) -> HTML {
        let cards = states.map { state -> HTML in
            let ready: HTML = switch state.readiness {
            case .success(let view):
                "<p class=\"ready-yes\">ready</p><p>\(view.assignedPartitions) partitions assigned · database \(view.database) · wall clock \(view.wallClockOffsetMs) ms off the database's</p>"
            case .failure(let failure):
                """
                <p class="ready-no">not ready</p>\
                <ul>\(state.notReady.isEmpty ? ["<li>\(failure.description)</li>" as HTML] : state.notReady.map { "<li>\($0)</li>" as HTML })</ul>
                """
            }
            let relay: HTML = switch state.relay {
            case .success(let view):
                """
                <table class="relay"><tbody>\
                <tr><th>Relay</th><td>\(view.leader ? "holds the lease" : "standing by")</td></tr>\
                <tr><th>Outbox rows waiting</th><td class="num">\(view.pendingRows)</td></tr>\
                <tr><th>Oldest waiting</th><td class="num">\(view.pendingRows == 0 ? "" : TimeText.age(view.oldestAgeSeconds))</td></tr>\
                <tr><th>No broker acknowledged for</th><td class="num">\(view.unreachableSeconds > 0 ? TimeText.age(view.unreachableSeconds) : "")</td></tr>\
                <tr><th>Lease</th><td>\(view.lease.map { "\($0.holder), epoch \($0.epoch), \($0.validForMs >= 0 ? "valid for \($0.validForMs) ms" : "ran out \(-$0.validForMs) ms ago")" } ?? "no holder yet")</td></tr>\
                </tbody></table>\(HTML.join(view.problems.map { "<p class=\"bad\">\($0)</p>" }))
                """
            case .failure(let failure): "<p class=\"bad\">relay: \(failure.description)</p>"
            }
            let consumer: HTML = switch state.consumer {
            case .success(let view):
                renderConsumer(view, state: state, reader: reader)
            case .failure(let failure): "<p class=\"bad\">consumer: \(failure.description)</p>"
            }
            return """
                <section class="card service" id="service-\(state.service)-\(URLText.component(state.url))">\
                <h3>\(state.service) <span class="muted mono">\(state.url)</span></h3>\(ready)\(relay)\(consumer)</section>
                """
        }
        return "<div class=\"cards\">\(cards)</div>"
    }

    static func renderConsumer(_ view: ConsumerView, state: InstanceState, reader: ActingOperator) -> HTML {
        let rows = view.partitions.map { partition -> HTML in
            let reset: HTML = partition.held == nil ? .empty : """
                <form method="post" action="/services/reset">\(reader.csrfField)\
                <input type="hidden" name="service" value="\(state.service)"><input type="hidden" name="instance" value="\(state.url)">\
                <input type="hidden" name="topic" value="\(partition.topic)"><input type="hidden" name="partition" value="\(partition.partition)">\
                <input type="hidden" name="next" value="\(partition.logEnd ?? partition.lastProcessedOffset + 1)">\
                <button type="submit" class="danger">Reset…</button></form>
                """
            return """
                <tr><td class="mono">\(partition.topic)[\(partition.partition)]</td><td class="num">\(partition.lastProcessedOffset)</td>\
                <td class="num">\(partition.logEnd.map(String.init) ?? "")</td><td class="num">\(partition.lag.map(String.init) ?? "")</td>\
                <td>\(partition.assigned ? "here" : "")</td><td class="bad">\(partition.held ?? "")\(reset)</td></tr>
                """
        }
        let problems = HTML.join(view.problems.map { "<p class=\"bad\">\($0)</p>" })
        return """
            <p>group \(view.group) · instance \(view.instance) · \(view.unauthenticated) unauthenticated records dead-lettered</p>\(problems)
            <table class="consumer"><thead><tr><th>Partition</th><th class="num">Processed</th><th class="num">Log end</th>\
            <th class="num">Lag</th><th>Assigned</th><th>Held</th></tr></thead><tbody>\(rows)</tbody></table>
            """
    }

    /// The partition a reset form names, on an instance the console was told of (never a URL a
    /// form makes up: the console calls only the services it was started with).
    struct ResetForm: Sendable {
        var service: String
        var instance: String
        var topic: String
        var partition: Int32
        var next: Int64

        init(_ form: Form, directory: ServiceDirectory) throws {
            guard let service = form.value("service"), let instance = form.value("instance"),
                  directory.instances[service]?.contains(instance) == true else {
                throw Problem.badRequest("the form names no instance this console knows")
            }
            guard let topic = form.value("topic"), !topic.isEmpty, topic.count <= 249,
                  let partition = form.value("partition").flatMap({ Int32($0) }), partition >= 0,
                  let next = form.value("next").flatMap({ Int64($0.trimmingCharacters(in: .whitespaces)) }), next >= 0 else {
                throw Problem.badRequest("a reset names a topic, a partition and the next offset (a number >= 0)")
            }
            (self.service, self.instance, self.topic, self.partition, self.next) = (service, instance, topic, partition, next)
        }

        var hiddenFields: HTML {
            """
            <input type="hidden" name="service" value="\(service)"><input type="hidden" name="instance" value="\(instance)">\
            <input type="hidden" name="topic" value="\(topic)"><input type="hidden" name="partition" value="\(partition)">
            """
        }
    }

    struct Alert: Decodable {
        struct Status: Decodable { var state: String }
        var labels: [String: String]
        var annotations: [String: String]?
        var startsAt: String?
        var status: Status?
    }

    func alerts() async -> HTML {
        guard let base = dependencies.alertmanagerURL else {
            return "<p>No Alertmanager configured (start the console with <code>--alertmanager-url</code>).</p>"
        }
        do {
            let reply = try await dependencies.client.send(.GET, base + "/api/v2/alerts?active=true&silenced=false&inhibited=false", token: "")
            guard reply.status == 200 else { return "<p class=\"bad\">Alertmanager answered HTTP \(reply.status)</p>" }
            let alerts = try JSONDecoder().decode([Alert].self, from: Data(reply.body))
            guard !alerts.isEmpty else { return "<p class=\"good\" id=\"no-alerts\">No alert is firing.</p>" }
            let rows = alerts.map { alert -> HTML in
                """
                <tr><td>\(alert.labels["alertname"] ?? "")</td><td>\(alert.labels["severity"] ?? "")</td>\
                <td>\(alert.labels["service"] ?? alert.labels["job"] ?? "")</td><td>\(alert.startsAt ?? "")</td>\
                <td>\(alert.annotations?["summary"] ?? "")</td></tr>
                """
            }
            return "<table id=\"alerts\"><thead><tr><th>Alert</th><th>Severity</th><th>Service</th><th>Since</th><th>Summary</th></tr></thead><tbody>\(rows)</tbody></table>"
        } catch {
            return "<p class=\"bad\">Alertmanager: \(error)</p>"
        }
    }
}
