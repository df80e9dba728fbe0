import Foundation
import SagaAPI

/// Reads a service instance's GET /consumer and GET /metrics.
struct InstanceReader: Sendable {
    let http: ServiceHTTPClient

    func consumer(of instance: ServiceInstance, timeout: Duration = .seconds(10)) async -> InstanceState.Consumer {
        let url = instance.url + "/consumer"
        do {
            let reply = try await http.send(.GET, url, timeout: timeout)
            if reply.status == 404 { return .missing }
            guard reply.status == 200 else {
                return .failed("GET \(url) answered \(reply.status): \(problemText(reply.body))")
            }
            return .view(try ConsumerView.decode(reply.body, from: url))
        } catch {
            return .failed("\(error)")
        }
    }

    func state(of instance: ServiceInstance) async -> InstanceState {
        async let consumer = consumer(of: instance)
        var state = InstanceState(instance: instance, consumer: .missing)
        do {
            state.metrics = PrometheusText.parse(try await http.getText(instance.url + "/metrics"))
        } catch {
            state.metricsError = "\(error)"
        }
        state.consumer = await consumer
        return state
    }

    func states(of instances: [ServiceInstance]) async -> [InstanceState] {
        await withTaskGroup(of: (Int, InstanceState).self) { group in
            for (index, instance) in instances.enumerated() {
                group.addTask { (index, await state(of: instance)) }
            }
            var states: [(Int, InstanceState)] = []
            for await state in group { states.append(state) }
            return states.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }
}

extension ConsumerView {
    static func decode(_ body: [UInt8], from url: String) throws -> ConsumerView {
        do {
            return try JSONDecoder().decode(ConsumerView.self, from: Data(body))
        } catch {
            throw HTTPFailure(description: "GET \(url) answered JSON that is not the consumer contract ({\"group\", \"instance\", \"topics\", \"partitions\": [{\"topic\", \"partition\", \"lastProcessedOffset\", \"assigned\", \"held\"}]}): \(error)")
        }
    }
}
