import CRdKafka
import DevClusterAPI
import Logging
import SagaAPI

// MARK: broker faults

extension MockCluster {
    /// Models `docker pause`: the broker keeps its connections (and even processes requests:
    /// the mock appends produced records at once) but holds every response for `ms`.
    func pause(_ target: BrokerTarget, ms: Int?) throws -> DevClusterActionResult {
        let mc = try liveHandle()
        let ids = try resolve(target)
        let ms = ms ?? pauseRttMs
        for id in ids {
            try Self.check(rd_kafka_mock_broker_set_rtt(mc, Int32(id), Int32(ms)), "pause broker \(id)")
            paused.insert(id)
            rtt[id] = ms
        }
        logger.info("paused brokers \(ids): responses held for \(ms) ms")
        return result("pause", ids)
    }

    /// rtt back to 0: the mock re-checks every connection of the broker at once and sends the
    /// held responses, so clients whose requests have not timed out yet continue immediately.
    func resume(_ target: BrokerTarget) throws -> DevClusterActionResult {
        let mc = try liveHandle()
        let ids = try resolve(target)
        for id in ids {
            try Self.check(rd_kafka_mock_broker_set_rtt(mc, Int32(id), 0), "resume broker \(id)")
            paused.remove(id)
            rtt[id] = nil
        }
        logger.info("resumed brokers \(ids)")
        return result("resume", ids)
    }

    /// A slow network instead of a frozen broker: every response of the broker waits `ms`
    /// (0 restores), while the broker stays up for leadership moves. The kernel here has no
    /// netem, and the mock's rtt is the one delay that acts on the brokers' side alone.
    /// A paused broker is refused: its rtt is the pause, and resume is what ends it.
    func setRtt(_ target: BrokerTarget, ms: Int) throws -> DevClusterActionResult {
        let mc = try liveHandle()
        let ids = try resolve(target)
        if let busy = ids.first(where: paused.contains) {
            throw Problem.conflict("broker \(busy) is paused: resume it before setting its rtt")
        }
        for id in ids {
            try Self.check(rd_kafka_mock_broker_set_rtt(mc, Int32(id), Int32(ms)), "set rtt of broker \(id)")
            rtt[id] = ms == 0 ? nil : ms
        }
        logger.info("brokers \(ids): responses delayed by \(ms) ms")
        return result("rtt", ids)
    }

    /// Closes the broker's listener and connections: connects are refused. Leaders stay
    /// (the mock does no failover); see evacuate.
    func down(_ target: BrokerTarget) throws -> DevClusterActionResult {
        try setReachable(target, false)
    }

    func up(_ target: BrokerTarget) throws -> DevClusterActionResult {
        try setReachable(target, true)
    }

    private func setReachable(_ target: BrokerTarget, _ reachable: Bool) throws -> DevClusterActionResult {
        let mc = try liveHandle()
        let ids = try resolve(target)
        for id in ids {
            if reachable {
                try Self.check(rd_kafka_mock_broker_set_up(mc, Int32(id)), "bring broker \(id) up")
                down.remove(id)
            } else {
                try Self.check(rd_kafka_mock_broker_set_down(mc, Int32(id)), "take broker \(id) down")
                down.insert(id)
            }
        }
        let action = reachable ? "up" : "down"
        logger.info("brokers \(ids) \(action)")
        return result(action, ids)
    }
}
